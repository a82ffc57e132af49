import { audit, auditAll, type AuditEvent } from '../../../audit.ts';
import { findAccountById, isActive, type Account } from '../../../db/repositories/accounts.ts';
import type { Factor } from '../../../mfa/factor.ts';
import { maySaveTypings, saveTypings, sendTypingPatternMail, type TypingProof } from '../../../mfa/keystroke.ts';
import { findRememberedDevice, rememberDevice } from '../../../mfa/trusted-devices.ts';
import { renderMessage } from '../../../notify/mail.ts';
import { isLocked, succeedAttempt } from '../../../security/lockout.ts';
import type { Services } from '../../../services.ts';
import type { StepResult } from '../../../steps/step.ts';
import type { InteractionContext, InteractionDetails, InteractionState } from '../../context.ts';
import type { PendingLogin } from '../../pending.ts';

/** The acr values the client asked for (`acr_values`, space-separated; OIDC Core §3.1.2.1). */
export function requestedAcrs(details: InteractionDetails): string[] {
  const v = details.params.acr_values;
  return typeof v === 'string' ? v.split(' ').filter(Boolean) : [];
}

/** True when the client asked for the fresh-second-factor level (step-up). */
export function wantsFreshFactor(details: InteractionDetails, services: Pick<Services, 'config'>): boolean {
  return requestedAcrs(details).includes(services.config.ACR_MFA);
}

/** The account can still finish a sign-in: active, email confirmed, not locked. */
export function usable(account: Account | undefined, now: Date): account is Account {
  return !!account && isActive(account) && !!account.emailVerifiedAt && !isLocked(account.lockedUntil, now);
}

/**
 * The account of the pending sign-in when it can still finish it, else the 403 "cannot be used"
 * answer (disabled, email no longer confirmed, or locked meanwhile).
 */
export async function pendingAccount(c: InteractionContext, pending: PendingLogin): Promise<{ account: Account } | { refused: StepResult<InteractionState> }> {
  const account = await findAccountById(c.services.db, pending.accountId);
  if (!usable(account, c.services.clock.now())) return { refused: { kind: 'retry', status: 403, data: { unusable: true } } };
  return { account };
}

/** The second factors this account can use here (step-up: only the strong ones). */
export async function factorsFor(c: InteractionContext, account: Account): Promise<Factor[]> {
  const all = await c.services.factors.availableFor(account, c.services);
  return wantsFreshFactor(c.details, c.services) ? all.filter((f) => f.strong) : all;
}

/** Mails the account's owner that the account was locked (guide slide 6). */
export async function sendLockMail(services: Services, account: Account): Promise<void> {
  const { config } = services;
  const msg = await renderMessage('account-locked', account.producer.email, `Your ${config.PRODUCT_NAME} account was locked`, services.branding, {
    firstName: account.producer.firstName,
    username: account.username,
    threshold: config.LOCKOUT_THRESHOLD,
    lockMinutes: Math.round(config.LOCKOUT_SECONDS / 60),
    loginUrl: config.PORTAL_URL,
  });
  await services.mailer.send(msg);
}

/**
 * Ends the `login` prompt: only here does the lockout count start over (issue 9, item 1: failures
 * of any factor count until a whole sign-in completes). Saves this sign-in's typings to the typing
 * pattern (enrol or refresh) when `proof` — the second factor that passed in this sign-in — allows
 * it ({@link maySaveTypings}) and mails the owner when a pattern was enrolled (issue 9, item 2);
 * remembers the device for the typing page when asked, records the login and answers with
 * truthful `amr` and `acr` (RFC 8176; ARCHITECTURE "How a step works"). `events` are audited
 * with `login.success`, in one insert (issue 12).
 */
export async function finishLogin(c: InteractionContext, account: Account, pending: PendingLogin, amr: string[], acr: string, proof: TypingProof, events: AuditEvent[] = []): Promise<StepResult<InteractionState>> {
  const { services, ctx, info } = c;
  await succeedAttempt(services.db, account.id, services.clock.now());
  const saved = maySaveTypings(proof) ? await saveTypings(services, account.id, pending.typings ?? []) : 'none';
  if (saved !== 'none') events.push({ type: saved === 'enrolled' ? 'keystroke.enrolled' : 'keystroke.updated', accountId: account.id, ctx: info, details: { samples: pending.typings?.length ?? 0, proof } });
  if (saved === 'enrolled') services.later('typing-pattern mail', () => sendTypingPatternMail(services, account));
  if (pending.rememberTyping) await rememberDevice(services, ctx, account, 'typing', info, 'typing');
  await auditAll(services.db, services.clock, [...events, { type: 'login.success', accountId: account.id, ctx: info, details: { amr, acr } }]);
  // `ts` (the session's loginTs, OIDC auth_time) from the injectable clock: the account pages'
  // re-authentication rule (src/account/session.ts) compares it with the same clock.
  const ts = Math.floor(services.clock.now().getTime() / 1000);
  return { kind: 'finish', result: { login: { accountId: account.id, amr, acr, remember: true, ts } } };
}

/**
 * After the password (and the typing page): a remembered device skips "Verify your Account"
 * unless the client asks for the fresh-second-factor acr or a max_age the device's factor does not
 * meet, or this sign-in brings typings from the typing page (they are saved only after a fresh
 * second factor: issue 9, item 2); otherwise the choice of factors.
 */
export async function afterPassword(c: InteractionContext, account: Account, pending: PendingLogin): Promise<StepResult<InteractionState>> {
  const { services, ctx, details, info } = c;
  const device = await findRememberedDevice(services, ctx, account);
  const maxAge = Number(details.params.max_age);
  const deviceFresh = device && (!Number.isFinite(maxAge) || services.clock.now().getTime() - device.createdAt.getTime() <= maxAge * 1000);
  if (device && deviceFresh && !wantsFreshFactor(details, services) && !pending.typings?.length) {
    const skipped: AuditEvent = { type: 'mfa.skipped_remembered_device', accountId: account.id, ctx: info, details: { deviceId: device.id } };
    return finishLogin(c, account, pending, ['pwd'], services.config.ACR_REMEMBERED_DEVICE, 'none', [skipped]);
  }
  return { kind: 'next', state: { ...pending, stage: 'choose', factor: undefined } };
}

/** True when the typing-pattern page is due: the factor is configured and this device was not remembered for it. */
export async function typingPageDue(c: InteractionContext, account: Account): Promise<boolean> {
  if (!c.services.config.MFA_FACTORS.includes('keystroke')) return false;
  return !(await findRememberedDevice(c.services, c.ctx, account, 'typing'));
}
