import { interactionPolicy } from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Account } from '../db/repositories/accounts.ts';
import { accountOfRequest } from './account.ts';
import type { PromptSteps } from '../interactions/context.ts';
import { consentPrompt } from '../interactions/steps/consent.ts';
import { loginPrompt } from '../interactions/steps/login/index.ts';
import { termsPrompt } from '../interactions/steps/terms.ts';
import type { Services } from '../services.ts';

const { Prompt, base } = interactionPolicy;

/**
 * THE one place where the order of prompts lives (ARCHITECTURE "How a step works").
 *
 *   login     credentials (guide slides 6-7), the typing page (slide 8), then "Verify your Account"
 *             (slides 8-11) as sub-steps (interactions/steps/login/); re-prompted when the account
 *             became unusable, or when a client asks (acr_values) for the fresh-second-factor acr
 *             that the session does not have (step-up)
 *   terms     Terms of Use acceptance when the accepted version is older than the active one
 *   consent   third-party clients only (first-party grants are made in configuration.ts)
 *
 * Each prompt's checks live with its steps (`PromptSteps.checks`). Adding a prompt = a file in
 * interactions/steps, a view, a journey test, and a line here.
 */
export const PROMPTS: PromptSteps[] = [loginPrompt, termsPrompt, consentPrompt];

/** Builds oidc-provider's interaction policy with our checks, reading accounts through `services`. */
export function buildPolicy(services: Pick<Services, 'db' | 'clock' | 'config' | 'caches'>) {
  const policy = base();
  // The checks of several prompts need the session's account: read it once per request (shared
  // with findAccount, src/oidc/account.ts).
  const sessionAccount = (ctx: KoaContextWithOIDC, accountId: string): Promise<Account | undefined> => accountOfRequest(services.db, ctx, accountId);
  PROMPTS.forEach((prompt, order) => {
    const checks = prompt.checks?.(services, sessionAccount) ?? [];
    const existing = policy.get(prompt.name);
    if (existing) existing.checks.push(...checks);
    else policy.add(new Prompt({ name: prompt.name, requestable: false }, ...checks), order);
  });
  return policy;
}
