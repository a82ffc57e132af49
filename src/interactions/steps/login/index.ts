import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { isActive } from '../../../db/repositories/accounts.ts';
import type { PromptSteps } from '../../context.ts';
import { chooseFactorStep } from './choose-factor.ts';
import { credentialsStep } from './credentials.ts';
import { enterCodeStep } from './enter-code.ts';
import { typingPatternStep } from './typing-pattern.ts';

export { LOGIN_IP_LIMIT } from './credentials.ts';

const { Check } = interactionPolicy;

/**
 * The `login` prompt: the password (credentials.ts), then — as sub-steps of the same prompt, so
 * `login` resolves once with truthful `amr` and `acr` (ARCHITECTURE "How a step works") — the
 * typing page (typing-pattern.ts), "Verify your Account" (choose-factor.ts) and the code or
 * keyboard pattern (enter-code.ts). A remembered device skips the second factor unless the client
 * asks for the fresh-second-factor acr (`acr_values`) or a `max_age` that the device's factor does
 * not meet.
 *
 * amr (RFC 8176): `pwd`; plus `otp` (email code) or `sms` (text code) and `mfa` when a second factor
 * passed. acr: ACR_MFA after a fresh strong factor, ACR_REMEMBERED_DEVICE otherwise.
 *
 * Checks (besides oidc-provider's own: no session, max_age, id_token_hint, acr): an account that was
 * disabled, removed or lost its verified email signs in again; step-up (OIDC Core §3.1.2.1
 * acr_values): a session without the fresh-second-factor acr signs in again when the client asks.
 */
export const loginPrompt: PromptSteps = {
  name: 'login',
  stepFor(state) {
    if (!state) return credentialsStep;
    if (state.stage === 'typing') return typingPatternStep;
    return state.stage === 'verify' ? enterCodeStep : chooseFactorStep;
  },
  checks(services, sessionAccount) {
    return [
      new Check('account_unusable', 'the signed-in account can no longer be used', 'login_required', async (ctx: KoaContextWithOIDC) => {
        const accountId = ctx.oidc.session?.accountId;
        if (!accountId) return Check.NO_NEED_TO_PROMPT;
        const account = await sessionAccount(ctx, accountId);
        if (!account || !isActive(account) || !account.emailVerifiedAt) return Check.REQUEST_PROMPT;
        return Check.NO_NEED_TO_PROMPT;
      }),
      new Check('acr_step_up', 'the requested acr is above the session acr', 'login_required', (ctx: KoaContextWithOIDC) => {
        const requested = typeof ctx.oidc.params?.acr_values === 'string' ? String(ctx.oidc.params.acr_values).split(' ') : [];
        if (!ctx.oidc.session?.accountId || !requested.includes(services.config.ACR_MFA)) return Check.NO_NEED_TO_PROMPT;
        return ctx.oidc.session.acr === services.config.ACR_MFA ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
      }),
    ];
  },
};
