import { sql, type Kysely } from 'kysely';
import type { Database, OneTimeCodesTable } from '../schema.ts';

/** The (purpose, subject) a code is bound to (src/security/one-time-codes.ts checks their shape). */
export interface CodeKey {
  purpose: string;
  subject: string;
}

/** A live code as {@link countCodeAttempt} returns it: its HMAC and the tries counted so far. */
export interface CountedCode {
  id: string;
  codeHmac: string;
  attempts: number;
  accountId: string | null;
  channel: OneTimeCodesTable['channel'];
}

/** The live codes of `key`: not consumed, not voided. */
function live(db: Kysely<Database>, key: CodeKey) {
  return db.updateTable('one_time_codes').where('purpose', '=', key.purpose).where('subject', '=', key.subject).where('consumed_at', 'is', null).where('voided_at', 'is', null);
}

/**
 * Voids the live code of `key` (a newer code, or a switch to another factor, replaces it).
 * @param db a database or the issuing transaction.
 * @returns how many codes were voided (0 or 1).
 */
export async function voidLiveCodes(db: Kysely<Database>, key: CodeKey, now: Date): Promise<number> {
  const res = await live(db, key).set({ voided_at: now }).executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/**
 * Voids every live code of `purpose` issued for the account, whatever its subject (e.g. a mobile
 * number's confirmation code when a code goes to another number), except `exceptId`. @returns how many were voided.
 */
export async function voidLiveCodesOfAccount(db: Kysely<Database>, purpose: string, accountId: string, now: Date, exceptId?: string): Promise<number> {
  let q = db.updateTable('one_time_codes').set({ voided_at: now })
    .where('purpose', '=', purpose).where('account_id', '=', accountId);
  if (exceptId) q = q.where('id', '!=', exceptId);
  const res = await q
    .where('consumed_at', 'is', null).where('voided_at', 'is', null).where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** Stores a new code: only its HMAC, with its binding, channel and expiry. @param db a database or transaction. */
export async function insertCode(db: Kysely<Database>, code: CodeKey & { id: string; accountId: string | null; channel: OneTimeCodesTable['channel']; codeHmac: string; createdAt: Date; expiresAt: Date }): Promise<void> {
  await db
    .insertInto('one_time_codes')
    .values({ id: code.id, purpose: code.purpose, subject: code.subject, account_id: code.accountId, channel: code.channel, code_hmac: code.codeHmac, created_at: code.createdAt, expires_at: code.expiresAt })
    .execute();
}

/**
 * Counts one try against the live, unexpired code of `key` BEFORE it is compared, in one atomic
 * `UPDATE … SET attempts = attempts + 1 … WHERE attempts < maxAttempts RETURNING`.
 * @returns the code with its new count, or undefined (no live code, expired, or tries used up).
 */
export async function countCodeAttempt(db: Kysely<Database>, key: CodeKey, now: Date, maxAttempts: number): Promise<CountedCode | undefined> {
  const row = await live(db, key)
    .set({ attempts: sql`attempts + 1` })
    .where('expires_at', '>', now)
    .where('attempts', '<', maxAttempts)
    .returning(['id', 'code_hmac', 'attempts', 'account_id', 'channel'])
    .executeTakeFirst();
  return row ? { id: row.id, codeHmac: row.code_hmac, attempts: row.attempts, accountId: row.account_id, channel: row.channel } : undefined;
}

/** The tries counted on the live, unexpired code of `key`, or undefined when there is none. */
export async function liveCodeAttempts(db: Kysely<Database>, key: CodeKey, now: Date): Promise<number | undefined> {
  const row = await db
    .selectFrom('one_time_codes')
    .select('attempts')
    .where('purpose', '=', key.purpose)
    .where('subject', '=', key.subject)
    .where('consumed_at', 'is', null)
    .where('voided_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return row?.attempts;
}

/**
 * Consumes a code, atomically (`… WHERE consumed_at IS NULL AND voided_at IS NULL RETURNING`: two
 * parallel right entries succeed once).
 * @returns true when this call consumed it.
 */
export async function consumeCode(db: Kysely<Database>, id: string, now: Date): Promise<boolean> {
  const row = await db.updateTable('one_time_codes').set({ consumed_at: now }).where('id', '=', id).where('consumed_at', 'is', null).where('voided_at', 'is', null).returning('id').executeTakeFirst();
  return !!row;
}

/** Voids one code by id, unless it was consumed or voided already. @param db a database or transaction. */
export async function voidCode(db: Kysely<Database>, id: string, now: Date): Promise<void> {
  await db.updateTable('one_time_codes').set({ voided_at: now }).where('id', '=', id).where('consumed_at', 'is', null).where('voided_at', 'is', null).execute();
}

/** Deletes codes that expired before `before`. @returns how many. */
export async function purgeCodes(db: Kysely<Database>, before: Date): Promise<bigint> {
  return (await db.deleteFrom('one_time_codes').where('expires_at', '<', before).executeTakeFirstOrThrow()).numDeletedRows;
}
