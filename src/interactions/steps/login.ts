import { audit } from '../../audit.ts';
import { findAccountById, isActive, recordLogin, type Account } from '../../db/repositories/accounts.ts';
import type { Sample } from '../../keystroke/index.ts';
import type { Factor, FactorContext, FactorId } from '../../mfa/factor.ts';
import { isReplayed, loadProfile, readSamples, saveTypings, TYPINGS } from '../../mfa/keystroke.ts';
import { findRememberedDevice, rememberDevice } from '../../mfa/trusted-devices.ts';
import { beginAttempt, failAttempt, isLocked, refundAttempt, succeedAttempt } from '../../security/lockout.ts';
import { isWellFormedCode, normalizeCodeEntry } from '../../security/one-time-codes.ts';
import type { Services } from '../../services.ts';
import { field, requestInfo, type InteractionDetails, type Step, type StepContext, type StepOutcome } from '../step.ts';
import { credentials, sendLockMail } from './credentials.ts';

/**
 * Where a sign-in stands after the correct password, kept in the interaction's own result
 * (server-side), so going back or opening a later URL cannot skip the second factor.
 */
interface PendingLogin {
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
}

/** Wrong second factors that end an interaction (issue: "5 wrong second factors end the interaction"). */
const MAX_FACTOR_FAILURES = 5;

function pendingOf(details: InteractionDetails): PendingLogin | undefined {
  const p = (details.result as { pendingLogin?: PendingLogin } | undefined)?.pendingLogin;
  return p && typeof p.accountId === 'string' ? p : undefined;
}

async function savePending(details: InteractionDetails, pending: PendingLogin | undefined): Promise<void> {
  const result = { ...(details.result ?? {}) } as Record<string, unknown>;
  if (pending) result.pendingLogin = pending;
  else delete result.pendingLogin;
  details.result = result as never;
  const ttl = Math.max(1, (details.exp ?? 0) - Math.floor(Date.now() / 1000));
  await details.save(ttl);
}

/** The acr values the client asked for (`acr_values`, space-separated; OIDC Core §3.1.2.1). */
export function requestedAcrs(details: InteractionDetails): string[] {
  const v = details.params.acr_values;
  return typeof v === 'string' ? v.split(' ').filter(Boolean) : [];
}

/** True when the client asked for the fresh-second-factor level (step-up). */
function wantsFreshFactor(details: InteractionDetails, services: Services): boolean {
  return requestedAcrs(details).includes(services.config.ACR_MFA);
}

/** The account can still finish a sign-in: active, email confirmed, not locked. */
function usable(account: Account | undefined, now: Date): account is Account {
  return !!account && isActive(account) && !!account.emailVerifiedAt && !isLocked(account.lockedUntil, now);
}

async function factorsFor(s: StepContext, account: Account): Promise<Factor[]> {
  const all = await s.services.factors.availableFor(account, s.services);
  // Step-up: only factors strong enough for the fresh-second-factor level.
  return wantsFreshFactor(s.details, s.services) ? all.filter((f) => f.strong) : all;
}

/** True when the typing-pattern page is due: the factor is configured and this device was not remembered for it. */
async function typingPageDue(s: StepContext, account: Account): Promise<boolean> {
  if (!s.services.config.MFA_FACTORS.includes('keystroke')) return false;
  return !(await findRememberedDevice(s.services, s.ctx, account, 'typing'));
}

/**
 * After the password (and the typing page): a remembered device skips "Verify your Account"
 * unless the client asks for the fresh-second-factor acr or a max_age the device's factor does not
 * meet; otherwise the choice of factors.
 */
async function afterPassword(s: StepContext, account: Account, pending: PendingLogin): Promise<StepOutcome> {
  const { services, ctx, details } = s;
  const info = { ...requestInfo(ctx), clientId: String(details.params.client_id ?? '') };
  const device = await findRememberedDevice(services, ctx, account);
  const maxAge = Number(details.params.max_age);
  const deviceFresh = device && (!Number.isFinite(maxAge) || services.clock.now().getTime() - device.createdAt.getTime() <= maxAge * 1000);
  if (device && deviceFresh && !wantsFreshFactor(details, services)) {
    await audit(services.db, services.clock, 'mfa.skipped_remembered_device', account.id, info, { deviceId: device.id });
    return finishLogin(s, account, pending, ['pwd'], services.config.ACR_REMEMBERED_DEVICE);
  }
  await savePending(details, { ...pending, stage: 'choose', factor: undefined });
  return { kind: 'render', status: 200, data: {} };
}

async function finishLogin(s: StepContext, account: Account, pending: PendingLogin, amr: string[], acr: string): Promise<StepOutcome> {
  const { services, ctx, details } = s;
  const info = { ...requestInfo(ctx), clientId: String(details.params.client_id ?? '') };
  // The typings of this sign-in enrol or refresh the typing pattern, now that it completed.
  const saved = await saveTypings(services, account.id, pending.typings ?? []);
  if (saved !== 'none') await audit(services.db, services.clock, saved === 'enrolled' ? 'keystroke.enrolled' : 'keystroke.updated', account.id, info, { samples: pending.typings?.length ?? 0 });
  if (pending.rememberTyping) await rememberDevice(services, ctx, account, 'typing', info, 'typing');
  await recordLogin(services.db, account.id, services.clock.now());
  await audit(services.db, services.clock, 'login.success', account.id, info, { amr, acr });
  return { kind: 'finish', result: { login: { accountId: account.id, amr, acr, remember: true } } };
}

/** The page of "Verify your Account" for the pending state (guide slides 8-11). */
async function verifyModel(s: StepContext, pending: PendingLogin): Promise<Record<string, unknown>> {
  const account = await findAccountById(s.services.db, pending.accountId);
  if (!account) return { view: 'idp/verify-account', unusable: true, factors: [], factor: null };
  const typing = { sentence: s.services.config.KEYSTROKE_SENTENCE, typings: TYPINGS, rememberDays: Math.round(s.services.config.DEVICE_TTL_SECONDS / 86400) };
  if (pending.stage === 'typing') {
    const enrolled = !!(await loadProfile(s.services.db, account.id, s.services.config.KEYSTROKE_SENTENCE));
    return { view: 'idp/typing-pattern', ...typing, enrolled };
  }
  const factors = await factorsFor(s, account);
  const factor = pending.factor ? s.services.factors.get(pending.factor) : undefined;
  return {
    view: 'idp/verify-account',
    unusable: false,
    stage: pending.stage,
    factors: factors.map((f) => ({ id: f.id, label: f.label, description: f.describe(account), kind: f.kind })),
    factor: factor ? { id: factor.id, label: factor.label, kind: factor.kind, description: factor.describe(account) } : null,
    stepUp: wantsFreshFactor(s.details, s.services),
    ...typing,
  };
}

/**
 * The `login` prompt: the password (credentials.ts), then "Verify your Account" as sub-steps of the
 * same prompt, so `login` resolves once with truthful `amr` and `acr` (ARCHITECTURE "How a step
 * works"). A remembered device skips the second factor unless the client asks for the
 * fresh-second-factor acr (`acr_values`) or a `max_age` that the device's factor does not meet.
 *
 * amr (RFC 8176): `pwd`; plus `otp` (email code) or `sms` (text code) and `mfa` when a second factor
 * passed. acr: ACR_MFA after a fresh strong factor, ACR_REMEMBERED_DEVICE otherwise.
 */
export const loginStep: Step = {
  prompt: 'login',
  view: 'idp/login',
  async viewModel(s) {
    const pending = pendingOf(s.details);
    return pending ? verifyModel(s, pending) : credentials.viewModel(s);
  },
  async submit(s, body) {
    const { services, details, ctx } = s;
    const { config, clock, db } = services;
    const info = { ...requestInfo(ctx), clientId: String(details.params.client_id ?? '') };
    const pending = pendingOf(details);

    if (!pending) {
      const checked = await credentials.submit(s, body);
      if (checked.kind !== 'password_ok') return checked;
      const { account } = checked;
      const fresh: PendingLogin = { accountId: account.id, stage: 'choose', failures: 0 };
      if (await typingPageDue(s, account)) {
        await savePending(details, { ...fresh, stage: 'typing' });
        return { kind: 'render', status: 200, data: {} };
      }
      return afterPassword(s, account, fresh);
    }

    const now = clock.now();
    const account = await findAccountById(db, pending.accountId);
    if (!usable(account, now)) {
      return { kind: 'render', status: 403, data: { unusable: true } };
    }
    const fc: FactorContext = { services, ctx, account, interactionUid: details.uid };
    const action = field(body, 'action');
    const available = await factorsFor(s, account);
    const current = pending.factor ? available.find((f) => f.id === pending.factor) : undefined;

    if (pending.stage === 'typing' && (action === 'typing' || action === 'skip_typing')) {
      if (action === 'skip_typing') return afterPassword(s, account, pending);
      const read = readSamples(body, config.KEYSTROKE_SENTENCE);
      if (!read.ok) return { kind: 'render', status: 422, data: { formError: read.reason === 'needs_js' ? 'mfa.keystroke_needs_js' : 'mfa.keystroke_retype' } };
      const template = await loadProfile(db, account.id, config.KEYSTROKE_SENTENCE);
      if (await isReplayed(db, account.id, template, read.samples)) return { kind: 'render', status: 422, data: { formError: 'mfa.keystroke_replay' } };
      return afterPassword(s, account, { ...pending, typings: read.samples, rememberTyping: field(body, 'remember') === 'yes' });
    }
    if (pending.stage === 'typing') return { kind: 'render', status: 422, data: { formError: 'mfa.keystroke_retype' } };

    if (action === 'cancel') {
      if (current) await current.cancel(fc);
      await savePending(details, undefined);
      return { kind: 'render', status: 200, data: {} };
    }

    if (action === 'switch') {
      if (current) await current.cancel(fc);
      await savePending(details, { ...pending, stage: 'choose', factor: undefined });
      return { kind: 'render', status: 200, data: {} };
    }

    if (action === 'choose' || (action === 'resend' && current)) {
      const factor = action === 'resend' ? current : available.find((f) => f.id === field(body, 'factor'));
      if (!factor) return { kind: 'render', status: 422, data: { formError: 'mfa.factor_unavailable' } };
      if (current && current.id !== factor.id) await current.cancel(fc);
      const started = await factor.start(fc);
      if (!started.ok) {
        await audit(db, clock, factor.id === 'sms' && started.error === 'mfa.sms_failed' ? 'mfa.send_failed' : 'mfa.failed', account.id, info, { factor: factor.id, reason: started.error });
        // A failed start leaves the person where they were (a failed text: back to the choice).
        const stage = started.error === 'mfa.sms_failed' ? 'choose' : pending.stage;
        await savePending(details, { ...pending, stage, factor: stage === 'choose' ? undefined : pending.factor });
        return { kind: 'render', status: started.error === 'mfa.sms_failed' ? 502 : 429, data: { formError: started.error, formErrorParams: started.errorParams ?? {} } };
      }
      await audit(db, clock, 'mfa.sent', account.id, info, { factor: factor.id });
      await savePending(details, { ...pending, stage: 'verify', factor: factor.id });
      return { kind: 'render', status: 200, data: { notice: started.notice, noticeParams: started.noticeParams } };
    }

    if (action === 'verify' && current && pending.stage === 'verify') {
      const code = field(body, 'code') ?? '';
      if (current.kind === 'code' && (code.length > 64 || !isWellFormedCode(normalizeCodeEntry(code)))) {
        return { kind: 'render', status: 422, data: { formError: 'mfa.code_format' } };
      }
      const policy = { threshold: config.LOCKOUT_THRESHOLD, lockSeconds: config.LOCKOUT_SECONDS };
      const attempt = await beginAttempt(db, account.id, now, policy);
      if (!attempt.allowed) return { kind: 'render', status: 403, data: { unusable: true } };
      const result = await current.verify(fc, body);
      const typings = [...(pending.typings ?? []), ...(result.samples ?? [])];
      if (result.ok) {
        await succeedAttempt(db, account.id);
        await audit(db, clock, 'mfa.passed', account.id, info, { factor: current.id });
        if (field(body, 'remember') === 'yes') await rememberDevice(services, ctx, account, current.id, info);
        // RFC 8176: `mfa` only when the second factor is a strong one (a keyboard pattern is not, by default).
        const amr = current.strong ? ['pwd', current.amr, 'mfa'] : ['pwd', current.amr];
        return finishLogin(s, account, { ...pending, typings }, amr, current.strong ? config.ACR_MFA : config.ACR_REMEMBERED_DEVICE);
      }
      if (!result.countsAsFailure) {
        await refundAttempt(db, account.id);
        if (result.restart) await savePending(details, { ...pending, stage: 'choose', factor: undefined });
        return { kind: 'render', status: 422, data: { formError: result.error, formErrorParams: result.errorParams ?? {} } };
      }
      const failures = pending.failures + 1;
      const lockedNow = await failAttempt(db, account.id, attempt.attempt, now, policy);
      await audit(db, clock, 'mfa.failed', account.id, info, { factor: current.id, failures });
      if (lockedNow) {
        await audit(db, clock, 'login.locked', account.id, info, { lockSeconds: config.LOCKOUT_SECONDS, by: 'second_factor' });
        services.later('account-locked mail', () => sendLockMail(services, account));
      }
      if (result.endInteraction || failures >= MAX_FACTOR_FAILURES || lockedNow) {
        await audit(db, clock, 'mfa.exhausted', account.id, info, { factor: current.id });
        await current.cancel(fc);
        await details.destroy();
        return { kind: 'render', status: 403, data: { view: 'idp/error', title: 'Verify your Account', message: 'mfa.code_exhausted', extraMessage: lockedNow ? 'login.locked' : null, error: null, description: null, portalUrl: config.PORTAL_URL } };
      }
      await savePending(details, result.restart ? { ...pending, failures, typings, stage: 'choose', factor: undefined } : { ...pending, failures, typings });
      return { kind: 'render', status: 401, data: { formError: result.error, formErrorParams: result.errorParams ?? {} } };
    }

    return { kind: 'render', status: 422, data: { formError: 'mfa.choose' } };
  },
};
