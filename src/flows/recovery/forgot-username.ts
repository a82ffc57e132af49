import { sql } from 'kysely';
import { audit, type AuditContext } from '../../audit.ts';
import { findAccountsByEmail } from '../../db/repositories/accounts.ts';
import { recordSend, sendHistory } from '../../db/repositories/message-sends.ts';
import { renderMessage } from '../../notify/mail.ts';
import { isLocked } from '../../security/lockout.ts';
import { ONE_TIME_CODE_POLICY, sendLimitWait } from '../../security/one-time-codes.ts';
import type { Services } from '../../services.ts';
import { emailKey, recoveryKey } from './input.ts';
import { issueUnlockLink } from './unlock.ts';

/** `message_sends.purpose` of the Forgot Username mail. */
export const USERNAME_MAIL_PURPOSE = 'forgot_username';

/**
 * Result of {@link requestUsernameMail}: accepted (the mail, if any, goes out after the response),
 * or refused with the whole seconds to wait (≥ 1).
 */
export type UsernameMailRequest =
  | { accepted: true }
  | { accepted: false; reason: 'resend_too_soon' | 'hourly_limit'; retryAfterSeconds: number };

/**
 * "Send Email" / "Resend Email" of Forgot Username (guide slides 12-13). Does exactly the same work
 * whether or not an account uses `email`, so status, page and timing do not tell: it applies the
 * limits of one-time codes to the ADDRESS — no sooner than 30 s after the last accepted request and
 * at most 5 per rolling hour ({@link ONE_TIME_CODE_POLICY}), counted per HMAC of the lower-cased
 * address (table `message_sends`, serialized per address with a transaction-scoped advisory
 * lock, so parallel requests cannot pass the limit) — records the request, writes one audit event
 * without an account, and schedules {@link sendUsernameMail} with `services.later` (after the
 * response). Looking the address up happens only there.
 * @param email a valid address (the caller checked it with `isEmailAddress`), as typed.
 * @returns a {@link UsernameMailRequest}.
 */
export async function requestUsernameMail(services: Services, email: string, ctx: AuditContext): Promise<UsernameMailRequest> {
  const { db, clock, config } = services;
  const policy = ONE_TIME_CODE_POLICY;
  const key = emailKey(recoveryKey(config), email);
  const now = clock.now();
  const refusal = await db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`recovery-mail|${USERNAME_MAIL_PURPOSE}|${key}`}, 0))`.execute(trx);
    const sendKey = { purpose: USERNAME_MAIL_PURPOSE, limitKey: key, subject: key };
    const wait = sendLimitWait(now, await sendHistory(trx, sendKey, now), policy);
    if (wait) return wait;
    await recordSend(trx, sendKey, now);
    return undefined;
  });
  if (refusal) return { accepted: false, ...refusal };
  await audit(db, clock, 'recovery.username_requested', null, ctx, { emailKey: key });
  services.later('forgot-username mail', () => sendUsernameMail(services, email, ctx));
  return { accepted: true };
}

/**
 * Sends the Forgot Username mail (guide slide 13) when at least one account uses `email` (producer
 * record's email, compared ignoring case): one mail to the address on record listing the username of
 * every such account, the Internet Help Desk phone (HELP_DESK_PHONE) and, for each active account
 * that is locked now, a single-use unlock link valid UNLOCK_LINK_TTL_SECONDS (issued in one
 * transaction before the mail goes out). Nothing is sent for an address without accounts. Runs
 * after the response ({@link requestUsernameMail}); audit events `recovery.username_sent` and
 * `recovery.unlock_link_sent` per account.
 * @returns how many accounts the mail listed (0: nothing was sent).
 * @throws the mailer's error when the SMTP server refuses (services.later logs it).
 */
export async function sendUsernameMail(services: Services, email: string, ctx: AuditContext): Promise<{ accounts: number }> {
  const { db, clock, config } = services;
  const accounts = await findAccountsByEmail(db, email);
  if (!accounts.length) return { accounts: 0 };
  const now = clock.now();
  const entries = await db.transaction().execute(async (trx) => {
    const out: { accountId: string; username: string; disabled: boolean; unlockLink: string | null }[] = [];
    for (const a of accounts) {
      const locked = a.status === 'active' && isLocked(a.lockedUntil, now);
      const unlockLink = locked ? await issueUnlockLink(trx, a.id, now, config.UNLOCK_LINK_TTL_SECONDS, config.ISSUER) : null;
      out.push({ accountId: a.id, username: a.username, disabled: a.status !== 'active', unlockLink });
    }
    return out;
  });
  const to = accounts[0].producer.email;
  const msg = await renderMessage('forgot-username', to, `Your ${config.PRODUCT_NAME} username`, services.branding, {
    accounts: entries.map(({ username, disabled, unlockLink }) => ({ username, disabled, unlockLink })),
    unlockMinutes: Math.round(config.UNLOCK_LINK_TTL_SECONDS / 60),
    loginUrl: config.PORTAL_URL,
  });
  await services.mailer.send(msg);
  for (const e of entries) {
    await audit(db, clock, 'recovery.username_sent', e.accountId, ctx);
    if (e.unlockLink) await audit(db, clock, 'recovery.unlock_link_sent', e.accountId, ctx, { validSeconds: config.UNLOCK_LINK_TTL_SECONDS });
  }
  return { accounts: entries.length };
}
