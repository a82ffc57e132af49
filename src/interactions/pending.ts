import type { Sample } from '../keystroke/index.ts';
import type { FactorId } from '../mfa/factor.ts';
import type Provider from 'oidc-provider';

/** What oidc-provider knows about the interaction in progress. */
export type InteractionDetails = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * Where a sign-in stands after the correct password, kept in the interaction's own result
 * (server-side), so going back or opening a later URL cannot skip the second factor.
 */
export interface PendingLogin {
  accountId: string;
  /**
   * `typing`: the typing-pattern page (enrollment / refresh, guide slide 8); `choose`: the factor
   * list; `verify`: a code was sent, or the keyboard-pattern page is shown.
   */
  stage: 'typing' | 'choose' | 'verify';
  factor?: FactorId;
  /** Wrong second factors in this interaction (5 end it). */
  failures: number;
  /** Typing samples of this sign-in (timing features only), saved to the profile when it completes. */
  typings?: Sample[];
  /** "Remember this device for 30 days" on the typing page. */
  rememberTyping?: boolean;
  /**
   * What the factor's page says on arrival (a message code and its values, e.g. "we sent a code to
   * xxxxxx0101"), set when the factor starts: the page is shown by the GET after the POST's 303.
   */
  notice?: { code: string; params: Record<string, string | number> };
}

/** The pending sign-in of an interaction, if any. */
export function pendingOf(details: InteractionDetails): PendingLogin | undefined {
  const p = (details.result as { pendingLogin?: PendingLogin } | undefined)?.pendingLogin;
  return p && typeof p.accountId === 'string' ? p : undefined;
}

/** Stores (or, with undefined, removes) the pending sign-in in the interaction, keeping its expiry. */
export async function savePending(details: InteractionDetails, pending: PendingLogin | undefined): Promise<void> {
  const result = { ...(details.result ?? {}) } as Record<string, unknown>;
  if (pending) result.pendingLogin = pending;
  else delete result.pendingLogin;
  details.result = result as never;
  const ttl = Math.max(1, (details.exp ?? 0) - Math.floor(Date.now() / 1000));
  await details.save(ttl);
}
