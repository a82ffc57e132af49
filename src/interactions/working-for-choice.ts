import type { Kysely } from 'kysely';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { isActive, type Account } from '../db/repositories/accounts.ts';
import { actingOptions, type ActingOption } from '../db/repositories/delegations.ts';
import type { Database } from '../db/schema.ts';

/**
 * The authorization parameter (registered with oidc-provider's `extraParams`) by which a client
 * names the producer the person works for: a 9-digit producer number, the person's own (a producer
 * signing in as themselves) or one of a producer who made them a delegate (issue 14 item 3). When
 * it names no producer the person may act for, the "Choose who you are working for" page is shown.
 */
export const PRODUCER_NUMBER_PARAM = 'producer_number';

/** What the "Choose who you are working for" prompt leaves in the interaction result. */
export const WORKING_FOR_RESULT = 'working_for';

/** Whom a sign-in acts for: a delegation, or (null) the person themselves as producer. */
export interface Principal {
  delegationId: string | null;
}

/** Who a person may work for: themselves (a producer's account whose record is active) and their usable delegations. */
export interface Choices {
  self: { producerNumber: string; name: string } | null;
  delegations: ActingOption[];
}

/** The choices of an account ({@link Choices}). */
export async function choicesOf(db: Kysely<Database>, account: Account): Promise<Choices> {
  const self = account.kind === 'producer' && account.producerNumber && isActive(account)
    ? { producerNumber: account.producerNumber, name: `${account.producer.firstName} ${account.producer.lastName}` }
    : null;
  return { self, delegations: await actingOptions(db, account.id) };
}

/** How many choices there are. */
export function choiceCount(c: Choices): number {
  return (c.self ? 1 : 0) + c.delegations.length;
}

/**
 * Whom the authorization request being served acts for, when it is settled: the choice made on the
 * "Choose who you are working for" page (interaction result), else the `producer_number` parameter
 * when it names one of the choices, else the only choice. undefined: the person must choose (or has
 * no choice at all).
 */
export function settledPrincipal(ctx: KoaContextWithOIDC, choices: Choices): Principal | undefined {
  const chosen = (ctx.oidc.result as Record<string, unknown> | undefined)?.[WORKING_FOR_RESULT] as Principal | undefined;
  const valid = (p: Principal | undefined) =>
    p && (p.delegationId === null ? !!choices.self : choices.delegations.some((o) => o.delegationId === p.delegationId)) ? p : undefined;
  if (chosen) return valid(chosen);
  const asked = ctx.oidc.params?.[PRODUCER_NUMBER_PARAM];
  if (typeof asked === 'string' && asked) {
    if (choices.self?.producerNumber === asked) return { delegationId: null };
    const d = choices.delegations.find((o) => o.producerNumber === asked);
    if (d) return { delegationId: d.delegationId };
  }
  if (choiceCount(choices) === 1) return { delegationId: choices.self ? null : choices.delegations[0]!.delegationId };
  return undefined;
}

/**
 * The IdP's own first-party client of its account pages (`ACCOUNT_CLIENT_ID` of
 * src/oidc/provider.ts, `idp-account`): signing in there is for the person themselves, so it never
 * asks whom they work for, and its grants act for no producer.
 */
export const OWN_PAGES_CLIENT_ID = 'idp-account';
