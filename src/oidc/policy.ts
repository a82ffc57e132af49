import { interactionPolicy } from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { findAccountById, isActive, type Account } from '../db/repositories/accounts.ts';
import { activeTerms } from '../db/repositories/terms.ts';
import { consentStep } from '../interactions/steps/consent.ts';
import { loginStep } from '../interactions/steps/login.ts';
import { termsStep } from '../interactions/steps/terms.ts';
import type { Step } from '../interactions/step.ts';
import type { Services } from '../services.ts';

const { Check, Prompt, base } = interactionPolicy;

/**
 * THE one place where the order of prompts lives (ARCHITECTURE "How a step works").
 *
 *   login     credentials (guide slides 6-7), then "Verify your Account" (slides 8-11) as sub-steps;
 *             re-prompted when the account became unusable, or when a client asks (acr_values) for
 *             the fresh-second-factor acr that the session does not have (step-up)
 *   terms     Terms of Use acceptance when the accepted version is older than the active one
 *   consent   third-party clients only (first-party grants are made in configuration.ts)
 *
 * Later issues add: account verification (second factor) as sub-steps of `login`, and typing-pattern
 * enrollment as a prompt after `login`. Adding a step = a file in interactions/steps, a view, a
 * journey test, and a line here.
 */
export const STEPS: Step[] = [loginStep, termsStep, consentStep];

/** Builds oidc-provider's interaction policy with our checks, reading accounts through `services`. */
export function buildPolicy(services: Pick<Services, 'db' | 'clock' | 'config'>) {
  const policy = base();
  // The checks of several prompts need the session's account: read it once per request.
  const loaded = new WeakMap<object, Promise<Account | undefined>>();
  const sessionAccount = (ctx: KoaContextWithOIDC, accountId: string) => {
    let p = loaded.get(ctx);
    if (!p) loaded.set(ctx, (p = findAccountById(services.db, accountId)));
    return p;
  };

  // login: besides oidc-provider's own checks (no session, max_age, id_token_hint, acr), an account
  // that was disabled, removed or lost its verified email must sign in again.
  policy.get('login')!.checks.push(
    new Check('account_unusable', 'the signed-in account can no longer be used', 'login_required', async (ctx: KoaContextWithOIDC) => {
      const accountId = ctx.oidc.session?.accountId;
      if (!accountId) return Check.NO_NEED_TO_PROMPT;
      const account = await sessionAccount(ctx, accountId);
      if (!account || !isActive(account) || !account.emailVerifiedAt) return Check.REQUEST_PROMPT;
      return Check.NO_NEED_TO_PROMPT;
    }),
  );

  // Step-up (OIDC Core §3.1.2.1 acr_values): a session without the fresh-second-factor acr signs in
  // again when the client asks for it. (max_age and essential acr claims are oidc-provider's own checks.)
  policy.get('login')!.checks.push(
    new Check('acr_step_up', 'the requested acr is above the session acr', 'login_required', (ctx: KoaContextWithOIDC) => {
      const requested = typeof ctx.oidc.params?.acr_values === 'string' ? String(ctx.oidc.params.acr_values).split(' ') : [];
      if (!ctx.oidc.session?.accountId || !requested.includes(services.config.ACR_MFA)) return Check.NO_NEED_TO_PROMPT;
      return ctx.oidc.session.acr === services.config.ACR_MFA ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  );

  const terms = new Prompt(
    { name: 'terms', requestable: false },
    new Check('terms_outdated', 'the active Terms of Use have not been accepted', 'interaction_required', async (ctx: KoaContextWithOIDC) => {
      const accountId = ctx.oidc.session?.accountId;
      if (!accountId) return Check.NO_NEED_TO_PROMPT;
      const [account, active] = await Promise.all([sessionAccount(ctx, accountId), activeTerms(services.db)]);
      if (!account || !active) return Check.NO_NEED_TO_PROMPT;
      return account.termsVersion === active.version ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  );
  policy.add(terms, 1);
  return policy;
}
