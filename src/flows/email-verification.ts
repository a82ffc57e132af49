import { audit, type AuditContext } from '../audit.ts';
import { findAccountById, lockAccountRow, markEmailVerified } from '../db/repositories/accounts.ts';
import { recordSend, sendHistory } from '../db/repositories/message-sends.ts';
import { insertLink, linkIsLive, redeemLink, voidLinks } from '../db/repositories/single-use-links.ts';
import { renderMessage } from '../notify/mail.ts';
import type { Services } from '../services.ts';
import { ONE_TIME_CODE_POLICY, sendLimitWait } from '../security/one-time-codes.ts';
import { hashToken, hmac, randomToken, safeEqual } from '../security/tokens.ts';

/** Why a confirmation mail was not sent. */
export type SendRefusal = { sent: false; reason: 'limited'; retryAfterSeconds: number } | { sent: false; reason: 'already_verified' | 'no_account' };

/**
 * Sends the "Confirm Your Email Address" mail (guide slide 5) to the email on the producer record:
 * a new random token (256 bits, stored only as SHA-256), valid EMAIL_VERIFICATION_TTL_SECONDS
 * (7 days) or until used once. Earlier unused links of the account are voided in the same
 * transaction. The send limits of one-time codes apply (issue 9, item 9; {@link sendLimitWait}): no
 * sooner than 30 s after the account's last confirmation mail, and at most 5 per rolling hour (or
 * MAIL_SENDS_PER_HOUR when lower), the first mail of registration included. The mail is sent after commit.
 * @returns `{ sent: true, email }` or a refusal with its reason.
 */
export async function sendVerificationEmail(
  services: Services,
  accountId: string,
  ctx: AuditContext,
): Promise<{ sent: true; email: string } | SendRefusal> {
  const { db, clock, config } = services;
  const now = clock.now();
  const account = await findAccountById(db, accountId);
  if (!account) return { sent: false, reason: 'no_account' };
  if (account.emailVerifiedAt) return { sent: false, reason: 'already_verified' };
  const token = randomToken(32);
  const result = await db.transaction().execute(async (trx) => {
    // Serialize sends per account so the hourly count is exact under parallel clicks.
    await lockAccountRow(trx, accountId);
    const sendKey = { purpose: 'verify_email', limitKey: accountId, subject: accountId };
    const wait = sendLimitWait(now, await sendHistory(trx, sendKey, now), {
      resendSeconds: ONE_TIME_CODE_POLICY.resendSeconds,
      sendsPerHour: Math.min(config.MAIL_SENDS_PER_HOUR, ONE_TIME_CODE_POLICY.sendsPerHour),
    });
    if (wait) return { limited: true as const, retryAfterSeconds: wait.retryAfterSeconds };
    await voidLinks(trx, accountId, 'verify_email', now);
    await insertLink(trx, { purpose: 'verify_email', accountId, tokenHash: hashToken(token), now, ttlSeconds: config.EMAIL_VERIFICATION_TTL_SECONDS });
    await recordSend(trx, sendKey, now);
    return { limited: false as const };
  });
  if (result.limited) return { sent: false, reason: 'limited', retryAfterSeconds: result.retryAfterSeconds };

  const link = new URL('/verify-email', config.ISSUER);
  link.searchParams.set('token', token);
  const msg = await renderMessage('verify-email', account.producer.email, `Confirm your email address for ${config.PRODUCT_NAME}`, services.branding, {
    firstName: account.producer.firstName,
    username: account.username,
    link: link.href,
    validDays: Math.round(config.EMAIL_VERIFICATION_TTL_SECONDS / 86400),
  });
  await services.mailer.send(msg);
  await audit(db, clock, 'registration.email_sent', accountId, ctx);
  return { sent: true, email: account.producer.email };
}

/**
 * True when a confirmation link's token is live (exists, unused, not voided, not expired). Reads
 * only: GET and HEAD of the link show a page with one button; only its POST ({@link confirmEmail})
 * confirms and uses the link (issue 9, item 6: a mail scanner's HEAD must not burn it).
 */
export async function confirmationLinkIsLive(services: Pick<Services, 'db' | 'clock'>, token: unknown): Promise<boolean> {
  if (typeof token !== 'string' || token.length < 20 || token.length > 200) return false;
  return linkIsLive(services.db, 'verify_email', hashToken(token), services.clock.now());
}

/**
 * Confirms an email address from a link (the POST of the link's page, CSRF-checked by the caller): the token must exist, be unused, not voided and not
 * expired; using it marks it used and the account's email verified, atomically (a link clicked
 * twice in parallel confirms once).
 * @returns the account id, or undefined when the link is not valid.
 */
export async function confirmEmail(services: Services, token: string, ctx: AuditContext): Promise<string | undefined> {
  if (typeof token !== 'string' || token.length < 20 || token.length > 200) return undefined;
  const { db, clock } = services;
  const now = clock.now();
  const accountId = await db.transaction().execute(async (trx) => {
    const id = await redeemLink(trx, 'verify_email', hashToken(token), now);
    if (!id) return undefined;
    await markEmailVerified(trx, id, now);
    return id;
  });
  if (accountId) await audit(db, clock, 'registration.email_verified', accountId, ctx);
  return accountId;
}

const TICKET_TTL_SECONDS = 15 * 60;

/**
 * A short-lived signed ticket (`accountId.expiry.mac`, HMAC-SHA256 under the first cookie key) that
 * lets the login page offer "Resend Email Link" after a correct password, without a session.
 */
export function verificationTicket(key: string, accountId: string, now: Date): string {
  const exp = Math.floor(now.getTime() / 1000) + TICKET_TTL_SECONDS;
  return `${accountId}.${exp}.${hmac(key, `verify-resend|${accountId}|${exp}`)}`;
}

/** The account id of a valid ticket (any configured key), or undefined. */
export function readVerificationTicket(keys: string[], ticket: unknown, now: Date): string | undefined {
  if (typeof ticket !== 'string' || ticket.length > 300) return undefined;
  const [accountId, exp, mac] = ticket.split('.');
  if (!accountId || !exp || !mac) return undefined;
  if (!keys.some((k) => safeEqual(mac, hmac(k, `verify-resend|${accountId}|${exp}`)))) return undefined;
  if (Number(exp) * 1000 < now.getTime()) return undefined;
  return accountId;
}
