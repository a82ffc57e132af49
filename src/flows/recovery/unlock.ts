import type { Kysely } from 'kysely';
import { audit, type AuditContext } from '../../audit.ts';
import { unlockAccount } from '../../db/repositories/accounts.ts';
import { insertLink, linkIsLive, redeemLink } from '../../db/repositories/single-use-links.ts';
import type { Database } from '../../db/schema.ts';
import type { Services } from '../../services.ts';
import { hashToken, randomToken } from '../../security/tokens.ts';

/** Path of the unlock link (built from ISSUER, never from request headers). */
export const UNLOCK_PATH = '/unlock';

/**
 * Issues a single-use unlock link for a locked account (guide slide 12: "Users can select the Forgot
 * Username or Forgot Password hyperlinks to unlock their account"): a random token of 256 bits
 * (node:crypto), stored only as its SHA-256, valid `ttlSeconds` (UNLOCK_LINK_TTL_SECONDS, 30 minutes).
 * @param issuer config.ISSUER; the link is `ISSUER/unlock?token=…`.
 * @returns the absolute link (put it in the mail; never log it).
 */
export async function issueUnlockLink(db: Kysely<Database>, accountId: string, now: Date, ttlSeconds: number, issuer: string): Promise<string> {
  const token = randomToken(32);
  await insertLink(db, { purpose: 'unlock', accountId, tokenHash: hashToken(token), now, ttlSeconds });
  const link = new URL(UNLOCK_PATH, issuer);
  link.searchParams.set('token', token);
  return link.href;
}

/**
 * True when an unlock link's token is live (exists, unused, not expired) at the clock's now. Reads
 * only: GET and HEAD of the link show a page with one button and change nothing; only the POST of
 * that page ({@link redeemUnlockLink}) acts (issue 9, item 6: mail scanners open links).
 * @param token the `token` value as received (anything; malformed values are simply not live).
 */
export async function unlockLinkIsLive(services: Pick<Services, 'db' | 'clock'>, token: unknown): Promise<boolean> {
  if (typeof token !== 'string' || token.length < 20 || token.length > 200) return false;
  return linkIsLive(services.db, 'unlock', hashToken(token), services.clock.now());
}

/**
 * Follows an unlock link (the POST of the link's page, CSRF-checked by the caller): the token must exist, be unused and not expired. Using it marks it used and
 * unlocks the account (failed_login_count 0, locked_until null) in one transaction — a link opened
 * twice, even in parallel, works once — and records `recovery.account_unlocked`.
 * @param token the `token` form value as received (anything; malformed values are simply invalid).
 * @returns the account id, or undefined when the link is not valid (unknown, used or expired).
 */
export async function redeemUnlockLink(services: Pick<Services, 'db' | 'clock'>, token: unknown, ctx: AuditContext): Promise<string | undefined> {
  if (typeof token !== 'string' || token.length < 20 || token.length > 200) return undefined;
  const { db, clock } = services;
  const now = clock.now();
  const result = await db.transaction().execute(async (trx) => {
    const accountId = await redeemLink(trx, 'unlock', hashToken(token), now);
    if (!accountId) return undefined;
    const wasLocked = await unlockAccount(trx, accountId, now);
    return { accountId, wasLocked };
  });
  if (!result) return undefined;
  await audit(db, clock, 'recovery.account_unlocked', result.accountId, ctx, { via: 'unlock_link', wasLocked: result.wasLocked });
  return result.accountId;
}
