import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.ts';

/**
 * The lock counters of sign-in (src/security/lockout.ts has the rules): an account's
 * `failed_login_count` and `locked_until` (table `accounts`), and the fake locks of usernames
 * without an account (table `unknown_login_locks`, one row per HMAC key, migration 0009). The
 * statements are atomic: an attempt is counted in the same statement that checks the lock.
 */

/**
 * Counts one attempt on the account unless it is locked at `now`; a lock whose time has passed is
 * cleared and the count restarts at 1 (one `UPDATE … RETURNING`).
 * @returns the new count, or undefined while the account is locked (or has no row).
 */
export async function countAccountAttempt(db: Kysely<Database>, accountId: string, now: Date): Promise<number | undefined> {
  const row = await db
    .updateTable('accounts')
    .set({
      failed_login_count: sql`CASE WHEN locked_until IS NOT NULL AND locked_until <= ${now} THEN 1 ELSE failed_login_count + 1 END`,
      locked_until: sql`CASE WHEN locked_until IS NOT NULL AND locked_until <= ${now} THEN NULL ELSE locked_until END`,
    })
    .where('id', '=', accountId)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', now)]))
    .returning('failed_login_count')
    .executeTakeFirst();
  return row?.failed_login_count;
}

/** Locks the account until `until` unless a lock is set already. @returns true when this call set it. */
export async function lockAccount(db: Kysely<Database>, accountId: string, until: Date): Promise<boolean> {
  const row = await db.updateTable('accounts').set({ locked_until: until }).where('id', '=', accountId).where('locked_until', 'is', null).returning('id').executeTakeFirst();
  return !!row;
}

/** Takes one attempt off the account's count (never below 0). */
export async function uncountAccountAttempt(db: Kysely<Database>, accountId: string): Promise<void> {
  await db.updateTable('accounts').set({ failed_login_count: sql`greatest(failed_login_count - 1, 0)` }).where('id', '=', accountId).execute();
}

/**
 * A completed sign-in, in one UPDATE of the account row (issue 12): the count and lock start over
 * and `last_login_at` is `at`. @param db a database or transaction.
 */
export async function completeAccountLogin(db: Kysely<Database>, accountId: string, at: Date): Promise<void> {
  await db.updateTable('accounts').set({ failed_login_count: 0, locked_until: null, last_login_at: at }).where('id', '=', accountId).execute();
}

/** Clears the account's count and lock. @param db a database or transaction. */
export async function clearAccountLock(db: Kysely<Database>, accountId: string): Promise<void> {
  await db.updateTable('accounts').set({ failed_login_count: 0, locked_until: null }).where('id', '=', accountId).execute();
}

/**
 * {@link countAccountAttempt} for the fake lock `key` of a username without an account: the same
 * counter and time rules in one `INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING`.
 * @returns the new count, or undefined while the fake lock holds.
 */
export async function countUnknownAttempt(db: Kysely<Database>, key: string, now: Date): Promise<number | undefined> {
  const row = await db
    .insertInto('unknown_login_locks')
    .values({ key, failed_login_count: 1, locked_until: null, updated_at: now })
    .onConflict((oc) =>
      oc
        .column('key')
        .doUpdateSet({
          failed_login_count: sql`CASE WHEN unknown_login_locks.locked_until IS NOT NULL AND unknown_login_locks.locked_until <= ${now} THEN 1 ELSE unknown_login_locks.failed_login_count + 1 END`,
          locked_until: sql`CASE WHEN unknown_login_locks.locked_until IS NOT NULL AND unknown_login_locks.locked_until <= ${now} THEN NULL ELSE unknown_login_locks.locked_until END`,
          updated_at: now,
        })
        .where((eb) => eb.or([eb('unknown_login_locks.locked_until', 'is', null), eb('unknown_login_locks.locked_until', '<=', now)])),
    )
    .returning('failed_login_count')
    .executeTakeFirst();
  return row?.failed_login_count;
}

/** Sets the fake lock `key` until `until` unless one is set already. @returns true when this call set it. */
export async function lockUnknown(db: Kysely<Database>, key: string, until: Date, now: Date): Promise<boolean> {
  const row = await db.updateTable('unknown_login_locks').set({ locked_until: until, updated_at: now }).where('key', '=', key).where('locked_until', 'is', null).returning('key').executeTakeFirst();
  return !!row;
}

/**
 * Deletes fake locks that ended and were untouched since `endedBefore`, and counts untouched since
 * `idleBefore` (src/security/lockout.ts purgeUnknownLocks says why that is safe).
 * @returns how many rows were deleted.
 */
export async function deleteUnknownLocks(db: Kysely<Database>, now: Date, endedBefore: Date, idleBefore: Date): Promise<bigint> {
  const res = await db
    .deleteFrom('unknown_login_locks')
    .where((eb) => eb.or([
      eb.and([eb('locked_until', 'is not', null), eb('locked_until', '<=', now), eb('updated_at', '<', endedBefore)]),
      eb('updated_at', '<', idleBefore),
    ]))
    .executeTakeFirstOrThrow();
  return res.numDeletedRows;
}
