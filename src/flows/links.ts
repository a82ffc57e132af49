import type Router from '@koa/router';
import type Provider from 'oidc-provider';
import { AppError } from '../http/errors.ts';
import { render } from '../http/render.ts';
import { verifyCsrf } from '../security/csrf.ts';
import { maskEmail } from '../security/mask.ts';
import type { Services } from '../services.ts';
import { minutesOf } from '../steps/engine.ts';
import { bodyOf, field, requestInfo } from '../steps/step.ts';
import { confirmEmail, readVerificationTicket, sendVerificationEmail } from './email-verification.ts';
import type { FlowStore } from './store.ts';
import { loginUrl } from './login-link.ts';
import { redeemUnlockLink } from './recovery/unlock.ts';
import type { RegistrationState } from './registration/state.ts';
import type { UsernameState } from './forgot-username/state.ts';

/**
 * The pages that mail links and the login page lead to, outside any step (they carry their own
 * proof: a single-use token, or a signed ticket):
 * - GET  /verify-email?token=…          "Confirm Your Email Address" (guide slide 5)
 * - GET  /unlock?token=…                the Forgot Username mail's unlock link (slide 12 note)
 * - POST /login/resend-verification     "Resend Email Link" on the login page (after a correct password)
 * - GET  /login                         "Return to Log In": the interaction, or the portal
 * `flows` gives the browser's registration and Forgot Username flows ("Return to Log In" goes back
 * to the interaction they came from; confirming ends the registration flow).
 */
export function linkRoutes(router: Router, services: Services, provider: Provider, flows: { registration: FlowStore<RegistrationState>; forgotUsername: FlowStore<UsernameState> }): void {
  const { config, clock } = services;

  router.get('/verify-email', async (ctx) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
    const accountId = await confirmEmail(services, token, requestInfo(ctx));
    const state = await flows.registration.load(ctx);
    const back = await loginUrl(provider, config, state?.interactionUid);
    if (!accountId) {
      await render(ctx, 'idp/email-confirmed', { title: 'Verify Your Email', ok: false, loginUrl: back }, 400);
      return;
    }
    if (state?.accountId === accountId) await flows.registration.end(ctx);
    await render(ctx, 'idp/email-confirmed', { title: 'Email confirmed', ok: true, loginUrl: back });
  });

  router.get('/unlock', async (ctx) => {
    const accountId = await redeemUnlockLink(services, ctx.query.token, requestInfo(ctx));
    const flow = await flows.forgotUsername.load(ctx);
    await render(ctx, 'idp/unlock', {
      title: accountId ? 'Account unlocked' : 'Unlock Account',
      ok: !!accountId,
      unlockMinutes: Math.round(config.UNLOCK_LINK_TTL_SECONDS / 60),
      loginUrl: await loginUrl(provider, config, flow?.interactionUid, accountId ? 'unlocked' : undefined),
    }, accountId ? 200 : 400);
  });

  router.post('/login/resend-verification', async (ctx) => {
    verifyCsrf(ctx);
    const body = bodyOf(ctx);
    const accountId = readVerificationTicket(config.COOKIE_KEYS, body.ticket, clock.now());
    if (!accountId) throw new AppError('http.bad_request', 400);
    const result = await sendVerificationEmail(services, accountId, requestInfo(ctx));
    const limited = !result.sent && result.reason === 'limited';
    await render(ctx, 'idp/notice', {
      title: 'Verify Your Email',
      notice: result.sent ? 'verify_email.resent' : limited ? 'verify_email.resend_limited' : 'verify_email.confirmed',
      noticeParams: result.sent ? { email: maskEmail(result.email) } : !result.sent && result.reason === 'limited' ? { minutes: minutesOf(result.retryAfterSeconds) } : {},
      loginUrl: await loginUrl(provider, config, field(body, 'interaction')),
    }, limited ? 429 : 200);
  });

  router.get('/login', async (ctx) => {
    ctx.redirect(await loginUrl(provider, config, ctx.query.interaction));
  });
}
