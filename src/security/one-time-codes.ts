import { createHmac, randomInt, randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { addSeconds, type Clock } from '../clock.ts';
import type { Config } from '../config/index.ts';
import { markSendFailed, purgeSends, recordSend, sendHistory } from '../db/repositories/message-sends.ts';
import { consumeCode, countCodeAttempt, insertCode, liveCodeAttempts, purgeCodes, voidCode, voidLiveCodes } from '../db/repositories/one-time-codes.ts';
import type { Database } from '../db/schema.ts';
import type { Branding } from '../notify/mail.ts';
import { hmac, safeEqual } from './tokens.ts';

/**
 * One-time codes sent by email or SMS: Forgot Password ("Enter Verification Code"), Verify your
 * Account, and the second factor. One module, purpose-bound rows, so a code issued for one step
 * never opens another.
 *
 * Sources: guide slide "Forgot Password – Enter Verification Code" (OTP of 8 characters, valid
 * 10 minutes); NIST SP 800-63B §5.1.3 (out-of-band secrets: random, short-lived, used once,
 * limited attempts); RFC 4226 §7.3 (throttle guesses: a small number of tries, then the value is
 * abandoned).
 *
 * Storage: the plaintext code exists only in the value returned by {@link issueCode} (for the
 * caller to send). The row keeps `code_hmac` = HMAC-SHA256 (base64url) under a key derived from
 * each COOKIE_KEYS entry (see {@link deriveCodeKey}) over the row id, purpose, subject and code,
 * so a leaked table reveals neither the code nor a value reusable for another row. Codes are
 * issued under COOKIE_KEYS[0] and verified under every configured key (rotation keeps live codes).
 */

/** The code alphabet: A-Z and 2-9 without look-alikes (no 0/O, 1/I/L). 31 characters. */
export const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';

/** Characters in a code (guide: "OTP should be 8 characters"): 31^8 ≈ 8.5·10^11, about 39.6 bits. */
export const CODE_LENGTH = 8;

/** The delivery channels of a code. */
export type CodeChannel = 'email' | 'sms';

/**
 * The fixed rules for every code (guide slide "Forgot Password – Enter Verification Code";
 * NIST SP 800-63B §5.1.3; RFC 4226 §7.3).
 */
export const ONE_TIME_CODE_POLICY = Object.freeze({
  /** Lifetime of a code, seconds (10 minutes). */
  ttlSeconds: 600,
  /** Entries counted per code; the entry that reaches this number and is wrong voids the code. */
  maxAttempts: 5,
  /** Minimum time between two sends for the same purpose and subject, seconds. */
  resendSeconds: 30,
  /** Sends per account (or per subject when the account is unknown) in any rolling hour. */
  sendsPerHour: 5,
});

/** What the code functions need from the services (a `Services` fits). */
export interface CodeDeps {
  db: Kysely<Database>;
  clock: Clock;
  config: Pick<Config, 'COOKIE_KEYS'>;
}

/** What a code is for and whom it belongs to. */
export interface CodeBinding {
  /** The step the code is for, e.g. `password_reset`, `verify_account`, `mfa` (`[a-z][a-z0-9_]{0,39}`). */
  purpose: string;
  /** Who the code is bound to inside that step: the account id, or an opaque flow id (1..200 characters). */
  subject: string;
}

/** A request to issue a code. */
export interface IssueCodeRequest extends CodeBinding {
  /** The account the code is for, or null when the flow has no known account (then limits count per subject). */
  accountId: string | null;
  /** How the caller will deliver it. */
  channel: CodeChannel;
  /**
   * What the send limits count per, when it differs from `subject` (default `subject`): the resend
   * spacing per (purpose, limitSubject), and the hourly limit per limitSubject when `accountId` is
   * null. Lets a code be bound to one flow and channel (issue 9, item 7) while the limits still
   * count per username across flows.
   */
  limitSubject?: string;
}

/**
 * Result of {@link issueCode}: the plaintext code (send it, never store or log it), or a refusal
 * with the seconds to wait.
 */
export type IssueCodeResult =
  | { issued: true; code: string; codeId: string; expiresAt: Date; ttlSeconds: number }
  | { issued: false; reason: 'resend_too_soon' | 'hourly_limit'; retryAfterSeconds: number };

/** A person's entry of a code. */
export interface VerifyCodeRequest extends CodeBinding {
  /** The text as typed; spaces and dashes are ignored and case does not matter. */
  input: string;
}

/**
 * Result of {@link verifyCode}.
 * - `ok`: the code was right and is now consumed (it will not verify again).
 * - `wrong`: counted as one of the tries; `triesLeft` ≥ 1 more entries are allowed.
 * - `exhausted`: the tries are used up; the code is void and the step must be started again.
 * - `expired_or_missing`: no live code (never issued, expired after 10 minutes, already used, or
 *   replaced by a newer one).
 */
export type VerifyCodeResult =
  | { ok: true; accountId: string | null; channel: CodeChannel }
  | { ok: false; reason: 'wrong'; triesLeft: number }
  | { ok: false; reason: 'exhausted' }
  | { ok: false; reason: 'expired_or_missing' };

/** The refusals of {@link verifyCode}, which is everything {@link verifyDecoy} can answer. */
export type VerifyCodeFailure = Exclude<VerifyCodeResult, { ok: true }>;

/**
 * A new random code: {@link CODE_LENGTH} characters of {@link CODE_ALPHABET}, each drawn with
 * node:crypto `randomInt` (rejection sampling, so no character is more likely than another).
 */
export function generateCode(): string {
  let code = '';
  for (let i = 0; i < CODE_LENGTH; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return code;
}

const SEPARATORS = /[\s\-\u2010-\u2015\u2212\uFE58\uFE63\uFF0D]/gu;

/**
 * A typed entry as compared: Unicode NFKC (full-width letters become ASCII), every space and dash
 * removed (anywhere, so `abcd-efgh` and ` ABCD EFGH ` both work), upper case. Not validated: an
 * entry with other characters simply does not match.
 */
export function normalizeCodeEntry(input: string): string {
  return input.normalize('NFKC').replace(SEPARATORS, '').toUpperCase();
}

const WELL_FORMED = new RegExp(`^[${CODE_ALPHABET}]{${CODE_LENGTH}}$`);

/** True when a normalized entry has the shape of a code (for a field hint; verification does not need it). */
export function isWellFormedCode(normalized: string): boolean {
  return WELL_FORMED.test(normalized);
}

/**
 * The code key derived from one configured secret: HMAC-SHA256(secret, "producer-idp/one-time-codes/v1"),
 * base64url. A dedicated key, so a code HMAC never equals a cookie signature or another token's MAC.
 */
export function deriveCodeKey(secret: string): string {
  return createHmac('sha256', secret).update('producer-idp/one-time-codes/v1', 'utf8').digest('base64url');
}

function codeMac(key: string, id: string, purpose: string, subject: string, code: string): string {
  return hmac(key, JSON.stringify(['otp', id, purpose, subject, code]));
}

const PURPOSE = /^[a-z][a-z0-9_]{0,39}$/;

function checkBinding(b: CodeBinding): void {
  if (typeof b.purpose !== 'string' || !PURPOSE.test(b.purpose)) throw new TypeError('one-time code: purpose must match [a-z][a-z0-9_]{0,39}');
  if (typeof b.subject !== 'string' || b.subject.length < 1 || b.subject.length > 200) throw new TypeError('one-time code: subject must have 1 to 200 characters');
}

/** Why a send must wait, and for how long (whole seconds, at least 1). */
export interface SendWait {
  reason: 'resend_too_soon' | 'hourly_limit';
  retryAfterSeconds: number;
}

/**
 * The send limits shared by every message a person can ask for again (one-time codes, Forgot
 * Username mails, confirmation links): no sooner than `resendSeconds` after the last send (when
 * given) and at most `sendsPerHour` in the rolling hour. Pure: the caller reads the history.
 * @param history `last` send time (or null/undefined), `count` of sends in the last hour and the
 *   `oldest` of them.
 * @returns the longest wait that applies, or undefined when a send is allowed now.
 */
export function sendLimitWait(
  now: Date,
  history: { last?: Date | string | null; count: number; oldest: Date | string | null },
  limits: { resendSeconds?: number; sendsPerHour: number },
): SendWait | undefined {
  const waits: SendWait[] = [];
  const seconds = (untilMs: number) => Math.max(1, Math.ceil((untilMs - now.getTime()) / 1000));
  if (history.last && limits.resendSeconds) {
    const until = new Date(history.last).getTime() + limits.resendSeconds * 1000;
    if (until > now.getTime()) waits.push({ reason: 'resend_too_soon', retryAfterSeconds: seconds(until) });
  }
  if (history.count >= limits.sendsPerHour) {
    const oldest = history.oldest ? new Date(history.oldest).getTime() : now.getTime();
    waits.push({ reason: 'hourly_limit', retryAfterSeconds: seconds(oldest + 3600_000) });
  }
  return waits.length ? waits.reduce((a, b) => (b.retryAfterSeconds > a.retryAfterSeconds ? b : a)) : undefined;
}

/**
 * Issues a code for (purpose, subject): voids the earlier live code of the same purpose and
 * subject and stores a new one (only its HMAC), valid {@link ONE_TIME_CODE_POLICY}.ttlSeconds
 * (600 s), and records the send. Serialized per account (or subject) and per (purpose, subject)
 * with transaction-scoped advisory locks, so the limits hold under parallel requests.
 *
 * Refuses, storing nothing, when the last send for the same purpose and subject (`limitSubject`
 * when given) was less than 30 s ago (`resend_too_soon`; a send marked failed by {@link markDeliveryFailed} does not count),
 * or when the account — or the subject (`limitSubject`), when `accountId` is null — already had 5 sends for this
 * purpose in the last hour (`hourly_limit`; counted per purpose so that Forgot Password requests by
 * someone else cannot block the owner's sign-in codes). `retryAfterSeconds` (≥ 1, whole seconds) is when the
 * same request will be accepted.
 *
 * The caller sends the code after this resolves (the transaction has committed) and never
 * stores or logs it. Source: guide slide "Forgot Password – Enter Verification Code"; NIST SP
 * 800-63B §5.1.3; RFC 4226 §7.3.
 * @throws TypeError when purpose, subject, limitSubject or channel is malformed (a programming error).
 */
export async function issueCode(deps: CodeDeps, req: IssueCodeRequest): Promise<IssueCodeResult> {
  checkBinding(req);
  if (req.channel !== 'email' && req.channel !== 'sms') throw new TypeError("one-time code: channel must be 'email' or 'sms'");
  const { db, clock, config } = deps;
  const policy = ONE_TIME_CODE_POLICY;
  const { purpose, subject } = req;
  const limitSubject = req.limitSubject ?? subject;
  if (typeof limitSubject !== 'string' || limitSubject.length < 1 || limitSubject.length > 200) throw new TypeError('one-time code: limitSubject must have 1 to 200 characters');
  // Per account AND purpose: someone who knows a username cannot use up, through Forgot Password,
  // the codes that the account's owner needs to sign in (and the other way round).
  const accountKey = req.accountId === null ? `s:${purpose}:${limitSubject}` : `a:${req.accountId}:${purpose}`;
  const now = clock.now();
  const code = generateCode();
  const id = randomUUID();
  const codeHmac = codeMac(deriveCodeKey(config.COOKIE_KEYS[0]), id, purpose, subject, code);
  const expiresAt = addSeconds(now, policy.ttlSeconds);

  const refusal = await db.transaction().execute(async (trx) => {
    // Always in this order (sends key, then code key), so two transactions never wait on each other in a cycle.
    await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`otp-sends|${accountKey}`}, 0))`.execute(trx);
    await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`otp-code|${JSON.stringify([purpose, subject])}`}, 0))`.execute(trx);

    const sendKey = { purpose, limitKey: accountKey, subject: limitSubject };
    const history = await sendHistory(trx, sendKey, now);
    const wait = sendLimitWait(now, history, policy);
    if (wait) return wait;

    await voidLiveCodes(trx, { purpose, subject }, now);
    await insertCode(trx, { id, purpose, subject, accountId: req.accountId, channel: req.channel, codeHmac, createdAt: now, expiresAt });
    await recordSend(trx, sendKey, now, { codeId: id, channel: req.channel });
    return undefined;
  });
  if (refusal) return { issued: false, ...refusal };
  return { issued: true, code, codeId: id, expiresAt, ttlSeconds: policy.ttlSeconds };
}

/**
 * Checks an entry against the live code of (purpose, subject). The try is counted BEFORE the
 * comparison, in one atomic `UPDATE … SET attempts = attempts + 1 … WHERE attempts < 5 RETURNING`
 * (like lockout's beginAttempt), so parallel guesses never get more than 5 comparisons per code.
 * The comparison is constant-time ({@link safeEqual} of HMACs); a right code is consumed atomically
 * (`UPDATE … WHERE consumed_at IS NULL RETURNING`), so two parallel right entries succeed once
 * (the other gets `expired_or_missing`). A code never verifies for another purpose or subject.
 *
 * Tries: wrong entries answer `triesLeft` 4, 3, 2, 1; the 5th wrong entry answers `exhausted`,
 * and so does every later entry, even the right code, until a new code is issued.
 * Source: RFC 4226 §7.3; NIST SP 800-63B §5.1.3; guide slide "Forgot Password – Enter Verification Code".
 * @returns a {@link VerifyCodeResult}.
 * @throws TypeError when purpose or subject is malformed (a programming error).
 */
export async function verifyCode(deps: CodeDeps, req: VerifyCodeRequest): Promise<VerifyCodeResult> {
  return attempt(deps, req, false);
}

/**
 * The enumeration-safe twin of {@link verifyCode}, for a flow whose account is unknown (e.g.
 * Forgot Password for a username that does not exist, where the page must look exactly as if a
 * code had been sent).
 *
 * How callers use it: when the account is unknown, still call {@link issueCode} with
 * `accountId: null` and the flow's opaque id as subject — the same resend spacing and hourly limit
 * apply, and the same "code sent" page is shown — but discard the code instead of sending it.
 * Then pass every entry of that flow to `verifyDecoy` instead of `verifyCode`. It runs the same
 * work (the same counting UPDATE round trip, the same HMACs and constant-time comparison) and
 * answers the same sequence a real code gives to wrong entries — `wrong` with `triesLeft` 4, 3, 2,
 * 1, then `exhausted`, and `expired_or_missing` after 10 minutes or a newer issue — but never `ok`,
 * not even for the (discarded) right code.
 * @returns a {@link VerifyCodeFailure}.
 * @throws TypeError when purpose or subject is malformed (a programming error).
 */
export async function verifyDecoy(deps: CodeDeps, req: VerifyCodeRequest): Promise<VerifyCodeFailure> {
  return (await attempt(deps, req, true)) as VerifyCodeFailure;
}

async function attempt(deps: CodeDeps, req: VerifyCodeRequest, decoy: boolean): Promise<VerifyCodeResult> {
  checkBinding(req);
  const { db, clock, config } = deps;
  const max = ONE_TIME_CODE_POLICY.maxAttempts;
  const { purpose, subject } = req;
  const now = clock.now();
  const entry = normalizeCodeEntry(typeof req.input === 'string' ? req.input : '').slice(0, 64);

  const row = await countCodeAttempt(db, { purpose, subject }, now, max);
  if (!row) {
    const attempts = await liveCodeAttempts(db, { purpose, subject }, now);
    return attempts !== undefined && attempts >= max ? { ok: false, reason: 'exhausted' } : { ok: false, reason: 'expired_or_missing' };
  }

  // Every configured key, without stopping at the first match (same work whatever the outcome).
  let match = false;
  for (const secret of config.COOKIE_KEYS) {
    match = safeEqual(codeMac(deriveCodeKey(secret), row.id, purpose, subject, entry), row.codeHmac) || match;
  }

  if (match && !decoy) {
    const consumed = await consumeCode(db, row.id, now);
    return consumed ? { ok: true, accountId: row.accountId, channel: row.channel } : { ok: false, reason: 'expired_or_missing' };
  }
  const triesLeft = max - row.attempts;
  return triesLeft > 0 ? { ok: false, reason: 'wrong', triesLeft } : { ok: false, reason: 'exhausted' };
}

/**
 * After the transport failed to deliver a code (e.g. `SmsDeliveryError` from notify/sms.ts: "we could not send
 * the text message; try email"): voids that code and marks its send failed, so a new code (by
 * another channel) can be issued at once. The failed send still counts toward the hourly limit.
 * @param codeId `codeId` from {@link issueCode}.
 */
export async function markDeliveryFailed(deps: Pick<CodeDeps, 'db' | 'clock'>, codeId: string): Promise<void> {
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (trx) => {
    await voidCode(trx, codeId, now);
    await markSendFailed(trx, codeId, now);
  });
}

/**
 * Voids the live code of a (purpose, subject), e.g. when the person switches to another factor
 * ("Switching to another factor is allowed and voids the pending code"). Sends are not touched, so
 * the hourly limit still counts them.
 * @returns true when a live code was voided.
 */
export async function voidCodes(deps: Pick<CodeDeps, 'db' | 'clock'>, binding: CodeBinding): Promise<boolean> {
  checkBinding(binding);
  return (await voidLiveCodes(deps.db, binding, deps.clock.now())) > 0;
}

/**
 * Deletes codes that expired more than `retainSeconds` ago and sends older than that (the limits
 * look back one hour at most). For a periodic job.
 * @param retainSeconds how long to keep dead rows, seconds (default 86400, at least 3600).
 * @returns how many rows of each table were deleted.
 */
export async function purgeOneTimeCodes(deps: Pick<CodeDeps, 'db' | 'clock'>, retainSeconds = 86400): Promise<{ codes: number; sends: number }> {
  const before = addSeconds(deps.clock.now(), -Math.max(3600, retainSeconds));
  const codes = await purgeCodes(deps.db, before);
  const sends = await purgeSends(deps.db, before);
  return { codes: Number(codes), sends };
}

/**
 * The text that carries a code (SMS body, or the plain text of a mail): only the product name,
 * the code, its lifetime and "ignore it if you did not ask" — no link, no name, no account detail.
 * With the default branding it is about 135 characters; when a long product name would make it
 * 160 characters or more (two SMS segments), the product name is left out.
 * @param code the code as issued.
 * @param minutes its lifetime in minutes (ttlSeconds / 60).
 * @param branding only `productName` is used.
 */
export function codeMessage(code: string, minutes: number, branding: Pick<Branding, 'productName'>): string {
  const lifetime = `${minutes} minute${minutes === 1 ? '' : 's'}`;
  const rest = `verification code is ${code}. It expires in ${lifetime}. If you did not request it, ignore this message.`;
  const branded = `Your ${branding.productName} ${rest}`;
  return branded.length < 160 ? branded : `Your ${rest}`;
}
