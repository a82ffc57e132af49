import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { AppError } from '../http/errors.ts';
import { render } from '../http/render.ts';
import { verifyCsrf } from '../security/csrf.ts';
import { maskEmail } from '../security/mask.ts';
import type { Services } from '../services.ts';
import { minutesOf } from '../steps/engine.ts';
import { bodyOf, field, requestInfo } from '../steps/step.ts';
import { confirmationLinkIsLive, confirmEmail, readVerificationTicket, sendVerificationEmail } from './email-verification.ts';
import type { FlowStore } from './store.ts';
import { loginUrl } from './login-link.ts';
import { redeemUnlockLink, unlockLinkIsLive } from './recovery/unlock.ts';
import type { RegistrationState } from './registration/state.ts';
import type { UsernameState } from './forgot-username/state.ts';

/**
 * The pages that mail links and the login page lead to, outside any step (they carry their own
 * proof: a single-use token, or a signed ticket):
 * - GET  /verify-email?token=…          "Confirm Your Email Address" (guide slide 5): a page with one button
 * - POST /verify-email                  that button: confirms (CSRF-checked)
 * - GET  /unlock?token=…                the Forgot Username mail's unlock link (slide 12 note): a page with one button
 * - POST /unlock                        that button: unlocks (CSRF-checked)
 * - POST /login/resend-verification     "Resend Email Link" on the login page (after a correct password)
 * - GET  /login                         "Return to Log In": the interaction, or the portal
 * `flows` gives the browser's registration and Forgot Username flows ("Return to Log In" goes back
 * to the interaction they came from; confirming ends the registration flow).
 */
export function linkRoutes(router: Router, services: Services, provider: Provider, flows: { registration: FlowStore<RegistrationState>; forgotUsername: FlowStore<UsernameState> }): void {
  const { config, clock } = services;

  confirmationRoutes(router, services, provider, flows.registration);
  unlockRoutes(router, services, provider, flows.forgotUsername);

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

/** The form value `token` of a link page's POST, or '' (anything else is simply not a live link). */
function postedToken(ctx: Context): string {
  return field(bodyOf(ctx), 'token') ?? '';
}

/**
 * GET /verify-email?token=… only shows a page with one button (GET and HEAD change nothing: a mail
 * scanner that opens the link must not use it up; issue 9, item 6); the POST of that page confirms
 * the address, uses the link and ends the browser's registration flow of that account.
 */
function confirmationRoutes(router: Router, services: Services, provider: Provider, registration: FlowStore<RegistrationState>): void {
  const { config } = services;
  const page = (ctx: Context, data: { title: string; ok: boolean; confirm: boolean; token: string; loginUrl: string }, status: number) =>
    render(ctx, 'idp/email-confirmed', data, status);

  router.get('/verify-email', async (ctx) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
    const live = await confirmationLinkIsLive(services, token);
    const state = await registration.load(ctx);
    const back = await loginUrl(provider, config, state?.interactionUid);
    await page(ctx, { title: 'Verify Your Email', ok: false, confirm: live, token: live ? token : '', loginUrl: back }, live ? 200 : 400);
  });

  router.post('/verify-email', async (ctx) => {
    verifyCsrf(ctx);
    const accountId = await confirmEmail(services, postedToken(ctx), requestInfo(ctx));
    const state = await registration.load(ctx);
    const back = await loginUrl(provider, config, state?.interactionUid);
    if (!accountId) return page(ctx, { title: 'Verify Your Email', ok: false, confirm: false, token: '', loginUrl: back }, 400);
    if (state?.accountId === accountId) await registration.end(ctx);
    await page(ctx, { title: 'Email confirmed', ok: true, confirm: false, token: '', loginUrl: back }, 200);
  });
}

/**
 * GET /unlock?token=… only shows a page with one button (GET and HEAD change nothing; issue 9,
 * item 6); the POST of that page unlocks the account (recovery/unlock.ts).
 */
function unlockRoutes(router: Router, services: Services, provider: Provider, forgotUsername: FlowStore<UsernameState>): void {
  const { config } = services;
  const unlockMinutes = Math.round(config.UNLOCK_LINK_TTL_SECONDS / 60);

  router.get('/unlock', async (ctx) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
    const live = await unlockLinkIsLive(services, token);
    const flow = await forgotUsername.load(ctx);
    const back = await loginUrl(provider, config, flow?.interactionUid);
    await render(ctx, 'idp/unlock', { title: 'Unlock Account', ok: false, confirm: live, token: live ? token : '', unlockMinutes, loginUrl: back }, live ? 200 : 400);
  });

  router.post('/unlock', async (ctx) => {
    verifyCsrf(ctx);
    const accountId = await redeemUnlockLink(services, postedToken(ctx), requestInfo(ctx));
    const flow = await forgotUsername.load(ctx);
    await render(ctx, 'idp/unlock', {
      title: accountId ? 'Account unlocked' : 'Unlock Account',
      ok: !!accountId,
      confirm: false,
      token: '',
      unlockMinutes,
      loginUrl: await loginUrl(provider, config, flow?.interactionUid, accountId ? 'unlocked' : undefined),
    }, accountId ? 200 : 400);
  });
}
