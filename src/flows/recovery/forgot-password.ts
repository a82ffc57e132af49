import { endAccessAfterPasswordReset } from '../../oidc/revocation.ts';
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { audit, type AuditContext } from '../../audit.ts';
import {
  findAccountById,
  findAccountByUsername,
  lockAccountRow,
  pickActiveContact,
  recentPasswordHashes,
  setPasswordWithHistory,
  type Account,
} from '../../db/repositories/accounts.ts';
import { renderMessage } from '../../notify/mail.ts';
import { deliverCode } from '../../security/code-delivery.ts';
import { maskEmail, maskPhone } from '../../security/mask.ts';
import { randomToken } from '../../security/tokens.ts';
import {
  issueCode,
  verifyCode,
  verifyDecoy,
  type CodeChannel,
  type VerifyCodeResult,
} from '../../security/one-time-codes.ts';
import type { Services } from '../../services.ts';
import { recoveryKey, usernameKey } from './input.ts';

/** The one-time-code purpose of Forgot Password (codes of other steps never open it). */
export const RESET_PURPOSE = 'password_reset';

/** How many previous passwords a new one must differ from (guide slide 17: "any of the 10 previously used passwords"). */
export const PASSWORD_HISTORY_DEPTH = 10;

/** The masked destinations the "Get Verification Code" page offers (guide slide 15). */
export interface Destinations {
  /** The email on the producer record, masked (`xxxxlan@example.com`). */
  email: string;
  /** The mobile number, masked (`xxxxxx0101`), or null: then "Send me a text message" is not offered. */
  sms: string | null;
}

/**
 * Whom a Forgot Password flow is about, as decided at "Find Account" (guide slide 14). The same
 * shape whether or not the username has an active account, so the later steps run the same code.
 */
export interface ResetTarget {
  /** The active account, or null: then nothing is ever sent and every code entered fails. */
  accountId: string | null;
  /** {@link usernameKey} of the username: what the send limits count per (across flows). */
  subject: string;
  /**
   * A random id of this flow (128 bits), made at "Find Account": codes are bound to it and to their
   * channel ({@link resetCodeSubject}), so a code sent in another browser's flow, or by another
   * channel, never works here (issue 9, item 7).
   */
  flowKey: string;
  /** What the page shows (real masks, or stable placeholders for a username without an active account). */
  destinations: Destinations;
}

/**
 * Common mail domains a placeholder address is drawn from. An attacker who does not already know a
 * producer's address cannot tell these placeholders from real masked addresses.
 */
const PLACEHOLDER_DOMAINS = [
  'gmail.com', 'yahoo.com', 'outlook.com', 'hotmail.com', 'aol.com', 'icloud.com', 'comcast.net', 'att.net', 'msn.com', 'live.com',
];
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/**
 * Stable placeholder destinations for a username without an active account (guide slide 15 shows
 * masked destinations; showing none, or random ones, would reveal that the account does not exist).
 * Derived from HMAC-SHA256(recovery key, lower-cased username), so the same username always shows
 * the same masks, in the same shapes as {@link maskEmail} / {@link maskPhone}: a local part of 6 to
 * 17 characters of which the last 3-4 letters show, one of {@link PLACEHOLDER_DOMAINS}, and — for
 * `smsPercent` % of usernames, to match the share of real records with a mobile number — a phone
 * `xxxxxx` + 4 digits.
 * @param key the recovery key ({@link recoveryKey}).
 * @param smsPercent 0-100 (RECOVERY_DECOY_SMS_PERCENT).
 */
export function placeholderDestinations(key: string, username: string, smsPercent: number): Destinations {
  const b = createHmac('sha256', key).update(`placeholder|${username.trim().toLowerCase()}`, 'utf8').digest();
  const length = 6 + (b[0] % 12);
  const keep = Math.min(4, Math.floor(length / 2));
  let tail = '';
  for (let i = 0; i < keep; i++) tail += LETTERS[b[1 + i] % LETTERS.length];
  const email = maskEmail('x'.repeat(length - keep) + tail + '@' + PLACEHOLDER_DOMAINS[b[5] % PLACEHOLDER_DOMAINS.length]);
  const digits = String(b.readUInt32BE(8) % 10000).padStart(4, '0');
  const sms = b.readUInt16BE(6) % 100 < smsPercent ? maskPhone(`+1312555${digits}`) : null;
  return { email, sms };
}

function realDestinations(account: Account): Destinations {
  return { email: maskEmail(account.producer.email), sms: account.producer.mobilePhone ? maskPhone(account.producer.mobilePhone) : null };
}

/**
 * The masks shown for a username without an active account (issue 9, item 8): the masks of a real
 * active account's producer record, chosen by rendezvous hashing on HMAC(recovery key, username)
 * ({@link pickActiveContact}), so they come from exactly the distribution real usernames show
 * (domains, last characters, share of mobile numbers), are stable for the username (a new account
 * changes the choice with probability 1/n), and cannot be predicted without the key. Falls back to
 * {@link placeholderDestinations} when there is no active account. Runs for every "Find Account",
 * real username or not, so both paths do the same work.
 */
export async function placeholderFromRecords(services: Pick<Services, 'db' | 'config'>, username: string): Promise<Destinations> {
  const key = recoveryKey(services.config);
  const seed = createHmac('sha256', key).update(`placeholder-record|${username.trim().toLowerCase()}`, 'utf8').digest('hex');
  const contact = await pickActiveContact(services.db, seed);
  if (!contact) return placeholderDestinations(key, username, services.config.RECOVERY_DECOY_SMS_PERCENT);
  return { email: maskEmail(contact.email), sms: contact.mobilePhone ? maskPhone(contact.mobilePhone) : null };
}

/**
 * "Find Account" (guide slide 14): looks the username up (ignoring case). An account counts only when
 * its status is `active`; otherwise the target has `accountId: null` and placeholder destinations
 * ({@link placeholderFromRecords}), and the flow continues exactly as for a real account. The same
 * queries and HMACs on both paths. Each call starts a new flow (a new {@link ResetTarget.flowKey}).
 * @param username the trimmed username as typed (the caller checked its length and characters).
 */
export async function findResetTarget(services: Services, username: string): Promise<ResetTarget> {
  const { db, config } = services;
  const key = recoveryKey(config);
  const account = await findAccountByUsername(db, username);
  const placeholder = await placeholderFromRecords(services, username);
  const subject = usernameKey(key, username);
  const flowKey = randomToken(16);
  if (account && account.status === 'active') return { accountId: account.id, subject, flowKey, destinations: realDestinations(account) };
  return { accountId: null, subject, flowKey, destinations: placeholder };
}

/**
 * The one-time code's subject for a reset flow and channel: `usernameKey:flowKey:channel`. A code
 * works only in the flow and on the channel it was sent for (issue 9, item 7); the send limits
 * still count per username ({@link ResetTarget.subject}, `limitSubject` of issueCode).
 */
export function resetCodeSubject(target: Pick<ResetTarget, 'subject' | 'flowKey'>, channel: CodeChannel): string {
  return `${target.subject}:${target.flowKey || 'none'}:${channel}`;
}

/**
 * Recent SMS hand-off times of a transport (milliseconds, last 20), so that a placeholder "send"
 * waits about as long as a real one; 250 ms until something was measured.
 */
const smsLatency = new WeakMap<object, number[]>();

function typicalLatency(sender: object): number {
  const samples = smsLatency.get(sender);
  if (!samples?.length) return 250;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function recordLatency(sender: object, ms: number): void {
  const samples = smsLatency.get(sender) ?? [];
  samples.push(ms);
  if (samples.length > 20) samples.shift();
  smsLatency.set(sender, samples);
}

/** Result of {@link sendResetCode}. */
export type SendCodeResult =
  | { sent: true }
  | { sent: false; reason: 'resend_too_soon' | 'hourly_limit'; retryAfterSeconds: number }
  | { sent: false; reason: 'sms_failed' };

/**
 * "Send Code" and "Resend" (guide slides 15-16): issues an 8-character code for
 * (`password_reset`, target.subject) with {@link issueCode} — 10 minutes, the earlier code voided,
 * no sooner than 30 s after the last send, 5 sends per hour per account (per username without one)
 * — and delivers it:
 * - email: after the response (`services.later`), to the email on the producer record; an SMTP
 *   failure marks the send failed (logged), so a new code can be asked for at once;
 * - text: awaited, to the mobile number; an `SmsDeliveryError` (or no number any more) marks
 *   the send failed ({@link markDeliveryFailed}, so email can be chosen at once) and answers
 *   `sms_failed` ("we could not send the text message; try email").
 * For a target without an account, `issueCode` still runs (accountId null) and the code is
 * discarded; a text "send" waits about as long as recent real ones did. Audit `recovery.code_sent`.
 * @returns a {@link SendCodeResult}.
 */
export async function sendResetCode(services: Services, target: Pick<ResetTarget, 'accountId' | 'subject' | 'flowKey'>, channel: CodeChannel, ctx: AuditContext): Promise<SendCodeResult> {
  const { db, clock, config } = services;
  // The same lookup on both paths (an id that cannot exist when there is no account).
  const found = await findAccountById(db, target.accountId ?? '-');
  const account = found && found.status === 'active' ? found : undefined;
  const issued = await issueCode(services, { purpose: RESET_PURPOSE, subject: resetCodeSubject(target, channel), limitSubject: target.subject, accountId: account ? account.id : null, channel });
  if (!issued.issued) return { sent: false, reason: issued.reason, retryAfterSeconds: issued.retryAfterSeconds };
  if (account) {
    const started = performance.now();
    const delivery = await deliverCode(services, issued, {
      channel,
      // A number removed from the record meanwhile cannot be texted: the gateway refuses it as invalid.
      to: channel === 'sms' ? account.producer.mobilePhone ?? '' : account.producer.email,
      purpose: RESET_PURPOSE,
      mail: { template: 'reset-code', subject: `Your ${config.PRODUCT_NAME} password reset code` },
      emailAfterResponse: true,
      onFailed: (reason) => audit(db, clock, 'recovery.code_send_failed', account.id, ctx, channel === 'sms' ? { channel, reason } : { channel }),
    });
    if (!delivery.delivered) return { sent: false, reason: 'sms_failed' };
    if (channel === 'sms') recordLatency(services.sms, performance.now() - started);
  } else if (channel === 'sms') {
    await sleep(typicalLatency(services.sms));
  }
  await audit(db, clock, 'recovery.code_sent', account ? account.id : null, ctx, { channel });
  return { sent: true };
}

/**
 * "Continue" on "Enter Verification Code" (guide slide 16): checks the entry with
 * {@link verifyCode} for a real account, or {@link verifyDecoy} for a target without one (the same
 * work and the same answers to wrong entries — `wrong` with 4, 3, 2, 1 tries left, then `exhausted`
 * — but never `ok`). Tries are counted atomically before the comparison (20 parallel entries get at
 * most 5). A right code whose row belongs to another account is refused as `expired_or_missing`.
 * Only a code sent in this flow (`target.flowKey`) by the flow's channel (`target.channel`) is
 * compared ({@link resetCodeSubject}; issue 9, item 7); a right code of another channel or flow is
 * refused as well. Wrong codes here never count toward the sign-in lock (issue 9, item 1: that would
 * let anyone lock others out and tell which usernames exist); reset codes keep their own limits.
 * Audit `recovery.code_verified` / `recovery.code_rejected`.
 * @returns the {@link VerifyCodeResult}.
 */
export async function checkResetCode(services: Services, target: Pick<ResetTarget, 'accountId' | 'subject' | 'flowKey'> & { channel?: CodeChannel }, input: string, ctx: AuditContext): Promise<VerifyCodeResult> {
  const { db, clock } = services;
  const channel: CodeChannel = target.channel === 'sms' ? 'sms' : 'email';
  const req = { purpose: RESET_PURPOSE, subject: resetCodeSubject(target, channel), input };
  let result: VerifyCodeResult = target.accountId ? await verifyCode(services, req) : await verifyDecoy(services, req);
  if (result.ok && (result.accountId !== target.accountId || result.channel !== target.channel)) result = { ok: false, reason: 'expired_or_missing' };
  if (result.ok) await audit(db, clock, 'recovery.code_verified', target.accountId, ctx, { channel: result.channel });
  else await audit(db, clock, 'recovery.code_rejected', target.accountId, ctx, { reason: result.reason });
  return result;
}

/**
 * True when `password` equals one of the account's {@link PASSWORD_HISTORY_DEPTH} most recent
 * passwords (guide slide 17), the current one included: each stored argon2id hash is verified in
 * turn with the hasher (stops at the first match).
 */
export async function passwordWasUsed(services: Services, accountId: string, password: string): Promise<boolean> {
  const hashes = await recentPasswordHashes(services.db, accountId, PASSWORD_HISTORY_DEPTH);
  for (const phc of hashes) {
    if (await services.hasher.verify(phc, password)) return true;
  }
  return false;
}

/** What {@link completePasswordReset} needs. */
export interface PasswordResetCompletion {
  accountId: string;
  /** `password_changed_at` (ISO 8601) when the code was verified: another change since then makes this one stale. */
  passwordChangedAt: string;
  /** The new password, already checked (policy and history). */
  password: string;
  /** The code came by email (then the email address counts as confirmed). */
  emailProven: boolean;
}

/**
 * "Update Password" (guide slide 17), in one transaction with the account row locked: refuses
 * (`stale`, nothing written) when the account is no longer active or its password changed since the
 * code was verified (a second submit, or a reset finished elsewhere); otherwise sets the new argon2id
 * hash and `password_changed_at`, unlocks the account, keeps the newest 10 `password_history` rows,
 * and signs the account out everywhere (endAccessAfterPasswordReset: its sessions, grants, tokens and
 * codes ended with endAccountSessions, its remembered devices revoked). It does not sign the person in. After commit: audit events
 * `recovery.password_changed`, `recovery.sessions_revoked` and (when it was locked)
 * `recovery.account_unlocked`, and the "your password was changed" mail (after the response).
 * @returns `{ ok: true }` or `{ ok: false, reason: 'stale' }`.
 */
export async function completePasswordReset(services: Services, c: PasswordResetCompletion, ctx: AuditContext): Promise<{ ok: true } | { ok: false; reason: 'stale' }> {
  const { db, clock, config, hasher } = services;
  const phc = await hasher.hash(c.password);
  const now = clock.now();
  const done = await db.transaction().execute(async (trx) => {
    const row = await lockAccountRow(trx, c.accountId);
    if (!row || row.status !== 'active' || row.passwordChangedAt.getTime() !== new Date(c.passwordChangedAt).getTime()) return undefined;
    const { wasLocked } = await setPasswordWithHistory(trx, c.accountId, phc, now, { keep: PASSWORD_HISTORY_DEPTH, emailProven: c.emailProven });
    const revoked = await endAccessAfterPasswordReset(trx, c.accountId, now);
    return { wasLocked, revoked };
  });
  if (!done) return { ok: false, reason: 'stale' };
  await audit(db, clock, 'recovery.password_changed', c.accountId, ctx);
  await audit(db, clock, 'recovery.sessions_revoked', c.accountId, ctx, done.revoked);
  if (done.wasLocked) await audit(db, clock, 'recovery.account_unlocked', c.accountId, ctx, { via: 'password_reset' });
  mailPasswordChanged(services, c.accountId, now, 'password-changed');
  return { ok: true };
}

/**
 * Mails the owner "Your password was changed" after the response (guide slide 17): `template` is
 * `password-changed` (Forgot Password) or `account-password-changed` (My Account's Change Password).
 */
export function mailPasswordChanged(services: Services, accountId: string, at: Date, template: 'password-changed' | 'account-password-changed'): void {
  const { config, db } = services;
  services.later('password-changed mail', async () => {
    const account = await findAccountById(db, accountId);
    if (!account) return;
    const msg = await renderMessage(template, account.producer.email, `Your ${config.PRODUCT_NAME} password was changed`, services.branding, {
      firstName: account.producer.firstName,
      username: account.username,
      changedAt: at.toUTCString(),
      loginUrl: config.PORTAL_URL,
    });
    await services.mailer.send(msg);
  });
}
