import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { audit } from '../../audit.ts';
import { findAccountById } from '../../db/repositories/accounts.ts';
import { render } from '../../http/render.ts';
import { field, requestInfo } from '../../interactions/step.ts';
import { verifyCsrf } from '../../security/csrf.ts';
import { isWellFormedCode, normalizeCodeEntry, ONE_TIME_CODE_POLICY, type CodeChannel } from '../../security/one-time-codes.ts';
import { checkPassword, PASSWORD_RULES } from '../../security/password-policy.ts';
import type { Services } from '../../services.ts';
import { FlowStore } from '../store.ts';
import {
  checkResetCode,
  completePasswordReset,
  findResetTarget,
  passwordWasUsed,
  sendResetCode,
  type Destinations,
  type SendCodeResult,
} from './forgot-password.ts';
import { requestUsernameMail, type UsernameMailRequest } from './forgot-username.ts';
import { INTERACTION_UID, isEmailAddress, MAX_EMAIL_LENGTH, readText } from './input.ts';
import { redeemUnlockLink } from './unlock.ts';

/** Rate-limit name for account-recovery requests per client address (defined by {@link recoveryRoutes}). */
export const RECOVERY_IP_LIMIT = 'recovery_ip';

/** Flow state of Forgot Username (guide slides 12-13). */
interface UsernameState extends Record<string, unknown> {
  step: 'sent';
  interactionUid?: string;
  /** The address as typed (trimmed): shown on the page and used by "Resend Email". */
  email: string;
}

/** Flow state of Forgot Password (guide slides 14-17); `step` is the step the browser may do next. */
interface ResetState extends Record<string, unknown> {
  step: 'choose' | 'code' | 'password';
  interactionUid?: string;
  accountId: string | null;
  subject: string;
  destinations: Destinations;
  channel?: CodeChannel;
  /** `password_changed_at` when the code was verified (a later change makes "Update Password" stale). */
  passwordChangedAt?: string;
}

/** Longest username accepted on "Find Account" (usernames have at most 40 characters; longer is simply unknown). */
const MAX_USERNAME = 100;
/** Longest code entry accepted (8 characters plus spaces and dashes). */
const MAX_CODE_ENTRY = 64;
/** Longest password accepted before the policy check (the policy allows 40). */
const MAX_PASSWORD = 200;

const minutes = (seconds: number) => Math.max(1, Math.ceil(seconds / 60));

/**
 * Mounts account recovery (guide slides 12-17):
 * - GET|POST /forgot-username               "Email address" → "Send Email" (slide 12)
 * - GET  /forgot-username/sent              "an email has been sent to … if an account exists" (slide 13)
 * - POST /forgot-username/resend            "Resend Email" (slide 13)
 * - GET  /unlock?token=…                    the mail's single-use unlock link (slide 12 note)
 * - GET|POST /forgot-password               Step 1 of 4: "Username" → "Find Account" (slide 14)
 * - GET|POST /forgot-password/verify        Step 2 of 4: "Send an email" | "Send me a text message" → "Send Code" (slide 15)
 * - GET|POST /forgot-password/code          Step 3 of 4: the 8-character code → "Continue" (slide 16)
 * - POST /forgot-password/code/resend       resend through the channel chosen (slide 16)
 * - GET|POST /forgot-password/new-password  Step 4 of 4: "Create New Password" → "Update Password" (slide 17)
 *
 * Each flow is a {@link FlowStore} row (RECOVERY_FLOW_TTL_SECONDS, bound to the browser's cookie);
 * a step whose earlier steps were not done in this flow shows step 1 again (409; 410 with a message
 * when the flow expired). Every POST checks the CSRF token (403 page) and answers bad input with the
 * page again and a 4xx. Requests are rate-limited per client address ({@link RECOVERY_IP_LIMIT},
 * RATE_LIMIT_RECOVERY_POINTS per RATE_LIMIT_WINDOW_SECONDS; 429). A username or an email address
 * without an account gets the same pages, statuses, cookies and work as one with an account.
 */
export function recoveryRoutes(router: Router, services: Services, provider: Provider): void {
  const { config, db, clock } = services;
  const secure = config.NODE_ENV === 'production';
  const ttl = config.RECOVERY_FLOW_TTL_SECONDS;
  services.rateLimits.define(RECOVERY_IP_LIMIT, { points: config.RATE_LIMIT_RECOVERY_POINTS, durationSeconds: config.RATE_LIMIT_WINDOW_SECONDS });
  const usernameFlows = new FlowStore<UsernameState>('forgot-username', db, clock, ttl, secure);
  const resetFlows = new FlowStore<ResetState>('forgot-password', db, clock, ttl, secure);
  const flowParams = { minutes: Math.round(ttl / 60) };

  /** "Return to Log In": the live interaction's login page (with a notice), else the portal. */
  async function loginUrl(uid: unknown, notice?: 'password_changed' | 'unlocked'): Promise<string> {
    if (typeof uid === 'string' && INTERACTION_UID.test(uid) && (await provider.Interaction.find(uid))) {
      return `/interaction/${uid}${notice ? `?notice=${notice}` : ''}`;
    }
    return config.PORTAL_URL;
  }

  function queryUid(ctx: Context): string | undefined {
    const uid = ctx.query.interaction;
    return typeof uid === 'string' && INTERACTION_UID.test(uid) ? uid : undefined;
  }

  function bodyOf(ctx: Context): Record<string, unknown> {
    const body = ctx.request.body;
    return body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  }

  function bodyUid(ctx: Context): string | undefined {
    const uid = field(bodyOf(ctx), 'interaction');
    return uid && INTERACTION_UID.test(uid) ? uid : undefined;
  }

  /** Consumes one point of the client address's recovery limit; renders the 429 page when refused. */
  async function withinLimit(ctx: Context, onLimited: (formError: string, params: Record<string, number>) => Promise<void>): Promise<boolean> {
    const info = requestInfo(ctx);
    const limited = await services.rateLimits.consume(RECOVERY_IP_LIMIT, info.ip);
    if (limited.allowed) return true;
    await audit(db, clock, 'rate_limited', null, info, { limit: RECOVERY_IP_LIMIT });
    await onLimited('http.rate_limited', { minutes: minutes(limited.retryAfterSeconds) });
    return false;
  }

  function limitMessage(r: { reason: 'resend_too_soon' | 'hourly_limit'; retryAfterSeconds: number }): { formError: string; formErrorParams: Record<string, number> } {
    return r.reason === 'resend_too_soon'
      ? { formError: 'recovery.resend_too_soon', formErrorParams: { seconds: r.retryAfterSeconds } }
      : { formError: 'recovery.hourly_limit', formErrorParams: { minutes: minutes(r.retryAfterSeconds) } };
  }

  // ---------------------------------------------------------------- Forgot Username (slides 12-13)

  async function usernameForm(ctx: Context, uid: string | undefined, extra: Record<string, unknown> = {}, status = 200) {
    await render(ctx, 'idp/forgot-username', { title: 'Forgot Username', uid: uid ?? '', loginUrl: await loginUrl(uid), ...extra }, status);
  }

  async function usernameSent(ctx: Context, state: UsernameState, extra: Record<string, unknown> = {}, status = 200) {
    await render(ctx, 'idp/forgot-username-sent', { title: 'Forgot Username', email: state.email, loginUrl: await loginUrl(state.interactionUid), ...extra }, status);
  }

  async function requireUsernameFlow(ctx: Context): Promise<UsernameState | undefined> {
    const state = await usernameFlows.load(ctx);
    if (state) return state;
    const expired = usernameFlows.hasCookie(ctx);
    await usernameForm(ctx, undefined, { formError: expired ? 'recovery.flow_expired' : 'recovery.start_over', formErrorParams: flowParams }, expired ? 410 : 409);
    return undefined;
  }

  router.get('/forgot-username', async (ctx) => {
    await usernameForm(ctx, queryUid(ctx));
  });

  router.post('/forgot-username', async (ctx) => {
    verifyCsrf(ctx);
    const uid = bodyUid(ctx);
    const input = readText(bodyOf(ctx), 'email', MAX_EMAIL_LENGTH);
    const typed = (field(bodyOf(ctx), 'email') ?? '').slice(0, MAX_EMAIL_LENGTH);
    if (input.problem || !isEmailAddress(input.value)) {
      await usernameForm(ctx, uid, { values: { email: typed }, errors: { email: 'recovery.email_invalid' } }, 422);
      return;
    }
    const email = input.value;
    const ok = await withinLimit(ctx, (formError, formErrorParams) => usernameForm(ctx, uid, { values: { email }, formError, formErrorParams }, 429));
    if (!ok) return;
    const result = await requestUsernameMail(services, email, requestInfo(ctx));
    if (!result.accepted) {
      await usernameForm(ctx, uid, { values: { email }, ...limitMessage(result) }, 429);
      return;
    }
    await usernameFlows.start(ctx, { step: 'sent', interactionUid: uid, email });
    ctx.status = 303;
    ctx.redirect('/forgot-username/sent');
  });

  router.get('/forgot-username/sent', async (ctx) => {
    const state = await requireUsernameFlow(ctx);
    if (!state) return;
    await usernameSent(ctx, state);
  });

  router.post('/forgot-username/resend', async (ctx) => {
    verifyCsrf(ctx);
    const state = await requireUsernameFlow(ctx);
    if (!state) return;
    const ok = await withinLimit(ctx, (formError, formErrorParams) => usernameSent(ctx, state, { formError, formErrorParams }, 429));
    if (!ok) return;
    const result: UsernameMailRequest = await requestUsernameMail(services, state.email, requestInfo(ctx));
    if (result.accepted) await usernameSent(ctx, state, { notice: 'recovery.username_resent', noticeParams: { email: state.email } });
    else await usernameSent(ctx, state, limitMessage(result), 429);
  });

  router.get('/unlock', async (ctx) => {
    const accountId = await redeemUnlockLink(services, ctx.query.token, requestInfo(ctx));
    const flow = await usernameFlows.load(ctx);
    await render(ctx, 'idp/unlock', {
      title: accountId ? 'Account unlocked' : 'Unlock Account',
      ok: !!accountId,
      unlockMinutes: Math.round(config.UNLOCK_LINK_TTL_SECONDS / 60),
      loginUrl: await loginUrl(flow?.interactionUid, accountId ? 'unlocked' : undefined),
    }, accountId ? 200 : 400);
  });

  // ---------------------------------------------------------------- Forgot Password (slides 14-17)

  async function step1(ctx: Context, uid: string | undefined, extra: Record<string, unknown> = {}, status = 200) {
    await render(ctx, 'idp/forgot-password', { title: 'Forgot Password', uid: uid ?? '', loginUrl: await loginUrl(uid), ...extra }, status);
  }

  async function step2(ctx: Context, state: ResetState, extra: Record<string, unknown> = {}, status = 200) {
    await render(ctx, 'idp/forgot-password-choose', {
      title: 'Get Verification Code',
      destinations: state.destinations,
      loginUrl: await loginUrl(state.interactionUid),
      ...extra,
    }, status);
  }

  async function step3(ctx: Context, state: ResetState, extra: Record<string, unknown> = {}, status = 200) {
    const destination = state.channel === 'sms' ? state.destinations.sms : state.destinations.email;
    await render(ctx, 'idp/forgot-password-code', {
      title: 'Enter Verification Code',
      channel: state.channel,
      destination,
      noticeParams: { destination: destination ?? '', minutes: Math.round(ONE_TIME_CODE_POLICY.ttlSeconds / 60) },
      loginUrl: await loginUrl(state.interactionUid),
      ...extra,
    }, status);
  }

  async function step4(ctx: Context, state: ResetState, extra: Record<string, unknown> = {}, status = 200) {
    await render(ctx, 'idp/forgot-password-new', {
      title: 'Create New Password',
      rules: PASSWORD_RULES,
      fieldErrors: {},
      loginUrl: await loginUrl(state.interactionUid),
      ...extra,
    }, status);
  }

  /** Ends the browser's reset flow and shows step 1 with `message` (a code of the catalog). */
  async function restart(ctx: Context, uid: string | undefined, message: string, status: number) {
    await resetFlows.end(ctx);
    await step1(ctx, uid, { formError: message, formErrorParams: flowParams }, status);
  }

  /**
   * The browser's reset flow when it is at `step`; otherwise step 1 again: 410 with a message when
   * the flow expired, 409 when there is none or it is at another step (which also ends it: going
   * back to choose another channel after a code was sent starts over).
   */
  async function requireStep(ctx: Context, step: ResetState['step']): Promise<ResetState | undefined> {
    const state = await resetFlows.load(ctx);
    if (state?.step === step) return state;
    if (state) await restart(ctx, state.interactionUid, 'recovery.start_over', 409);
    else if (resetFlows.hasCookie(ctx)) await restart(ctx, undefined, 'recovery.flow_expired', 410);
    else await step1(ctx, undefined, { formError: 'recovery.start_over' }, 409);
    return undefined;
  }

  router.get('/forgot-password', async (ctx) => {
    await step1(ctx, queryUid(ctx));
  });

  router.post('/forgot-password', async (ctx) => {
    verifyCsrf(ctx);
    const uid = bodyUid(ctx);
    const input = readText(bodyOf(ctx), 'username', MAX_USERNAME);
    if (input.problem) {
      const typed = (field(bodyOf(ctx), 'username') ?? '').slice(0, 40);
      await step1(ctx, uid, { values: { username: typed }, errors: { username: input.problem === 'form.required' ? 'username.required' : input.problem } }, 422);
      return;
    }
    const username = input.value;
    const ok = await withinLimit(ctx, (formError, formErrorParams) => step1(ctx, uid, { values: { username }, formError, formErrorParams }, 429));
    if (!ok) return;
    const target = await findResetTarget(services, username);
    await resetFlows.start(ctx, { step: 'choose', interactionUid: uid, ...target });
    await audit(db, clock, 'recovery.password_reset_started', target.accountId, requestInfo(ctx));
    ctx.status = 303;
    ctx.redirect('/forgot-password/verify');
  });

  router.get('/forgot-password/verify', async (ctx) => {
    const state = await requireStep(ctx, 'choose');
    if (state) await step2(ctx, state);
  });

  /** After a send: the code page, a wait message, or "try email" (the flow then stays at the choice). */
  async function afterSend(ctx: Context, state: ResetState, channel: CodeChannel, result: SendCodeResult, onPage: 2 | 3) {
    if (result.sent) {
      if (onPage === 2) {
        await resetFlows.save(ctx, { ...state, step: 'code', channel });
        ctx.status = 303;
        ctx.redirect('/forgot-password/code');
      } else {
        await step3(ctx, state, { notice: 'recovery.code_resent' });
      }
      return;
    }
    if (result.reason === 'sms_failed') {
      const back = { ...state, step: 'choose' as const, channel: undefined };
      await resetFlows.save(ctx, back);
      await step2(ctx, back, { formError: 'recovery.sms_failed', values: { channel: 'email' } }, 502);
      return;
    }
    if (onPage === 2) await step2(ctx, state, { values: { channel }, ...limitMessage(result) }, 429);
    else await step3(ctx, state, limitMessage(result), 429);
  }

  router.post('/forgot-password/verify', async (ctx) => {
    verifyCsrf(ctx);
    const state = await requireStep(ctx, 'choose');
    if (!state) return;
    const choice = field(bodyOf(ctx), 'channel');
    const channel: CodeChannel | undefined = choice === 'email' ? 'email' : choice === 'sms' && state.destinations.sms ? 'sms' : undefined;
    if (!channel) {
      await step2(ctx, state, { formError: 'recovery.channel_required' }, 422);
      return;
    }
    const ok = await withinLimit(ctx, (formError, formErrorParams) => step2(ctx, state, { values: { channel }, formError, formErrorParams }, 429));
    if (!ok) return;
    const result = await sendResetCode(services, state, channel, requestInfo(ctx));
    await afterSend(ctx, state, channel, result, 2);
  });

  router.get('/forgot-password/code', async (ctx) => {
    const state = await requireStep(ctx, 'code');
    if (state) await step3(ctx, state, { notice: state.channel === 'sms' ? 'recovery.code_sent_sms' : 'recovery.code_sent_email' });
  });

  router.post('/forgot-password/code/resend', async (ctx) => {
    verifyCsrf(ctx);
    const state = await requireStep(ctx, 'code');
    if (!state || !state.channel) return;
    const channel = state.channel;
    const ok = await withinLimit(ctx, (formError, formErrorParams) => step3(ctx, state, { formError, formErrorParams }, 429));
    if (!ok) return;
    const result = await sendResetCode(services, state, channel, requestInfo(ctx));
    await afterSend(ctx, state, channel, result, 3);
  });

  router.post('/forgot-password/code', async (ctx) => {
    verifyCsrf(ctx);
    const state = await requireStep(ctx, 'code');
    if (!state) return;
    const input = readText(bodyOf(ctx), 'code', MAX_CODE_ENTRY);
    const entry = input.value === undefined ? '' : normalizeCodeEntry(input.value);
    if (input.problem === 'form.required') {
      await step3(ctx, state, { errors: { code: 'form.required' } }, 422);
      return;
    }
    if (input.problem || !isWellFormedCode(entry)) {
      await step3(ctx, state, { errors: { code: 'recovery.code_format' } }, 422);
      return;
    }
    const ok = await withinLimit(ctx, (formError, formErrorParams) => step3(ctx, state, { formError, formErrorParams }, 429));
    if (!ok) return;
    const result = await checkResetCode(services, state, entry, requestInfo(ctx));
    if (result.ok) {
      const account = state.accountId ? await findAccountById(db, state.accountId) : undefined;
      if (!account || account.status !== 'active') {
        await restart(ctx, state.interactionUid, 'recovery.start_over', 409);
        return;
      }
      await resetFlows.save(ctx, { ...state, step: 'password', passwordChangedAt: account.passwordChangedAt.toISOString() });
      ctx.status = 303;
      ctx.redirect('/forgot-password/new-password');
      return;
    }
    if (result.reason === 'wrong') {
      await step3(ctx, state, { errors: { code: 'recovery.code_wrong' }, errorParams: { triesLeft: result.triesLeft } }, 422);
    } else if (result.reason === 'exhausted') {
      await restart(ctx, state.interactionUid, 'recovery.code_exhausted', 429);
    } else {
      await step3(ctx, state, { formError: 'recovery.code_expired' }, 422);
    }
  });

  router.get('/forgot-password/new-password', async (ctx) => {
    const state = await requireStep(ctx, 'password');
    if (state) await step4(ctx, state);
  });

  router.post('/forgot-password/new-password', async (ctx) => {
    verifyCsrf(ctx);
    const state = await requireStep(ctx, 'password');
    if (!state) return;
    const account = state.accountId ? await findAccountById(db, state.accountId) : undefined;
    if (!account || account.status !== 'active' || !state.passwordChangedAt) {
      await restart(ctx, state.interactionUid, 'recovery.start_over', 409);
      return;
    }
    const raw = bodyOf(ctx).password;
    const password = typeof raw === 'string' ? raw : '';
    const problems: string[] = password.length > MAX_PASSWORD ? ['password.length'] : checkPassword(password, { username: account.username });
    if (problems.length) {
      await step4(ctx, state, { fieldErrors: { password: problems } }, 422);
      return;
    }
    if (await passwordWasUsed(services, account.id, password)) {
      await step4(ctx, state, { fieldErrors: { password: ['recovery.password_reused'] } }, 422);
      return;
    }
    const done = await completePasswordReset(services, {
      accountId: account.id,
      passwordChangedAt: state.passwordChangedAt,
      password,
      emailProven: state.channel === 'email',
    }, requestInfo(ctx));
    if (!done.ok) {
      await restart(ctx, state.interactionUid, 'recovery.start_over', 409);
      return;
    }
    await resetFlows.end(ctx);
    ctx.status = 303;
    ctx.redirect(await loginUrl(state.interactionUid, 'password_changed'));
  });
}
