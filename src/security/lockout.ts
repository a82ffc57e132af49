import { sql, type Kysely } from 'kysely';
import { addSeconds } from '../clock.ts';
import type { Database } from '../db/schema.ts';

/** Lockout parameters (guide slide 6: 5 wrong passwords lock for 30 minutes). */
export interface LockoutPolicy {
  /** wrong attempts in a row that lock the account. */
  threshold: number;
  /** lock duration, seconds. */
  lockSeconds: number;
}

/**
 * Counts one attempt against the account BEFORE the secret is compared, in one atomic UPDATE, so
 * parallel attempts cannot get more than `threshold` comparisons. A lock whose time has passed is
 * cleared and the count restarts at 1.
 * @returns `{ allowed: true, attempt }` when the secret may be compared (attempt is 1-based);
 *   `{ allowed: false }` when the account is locked or this attempt is beyond the threshold.
 */
export async function beginAttempt(db: Kysely<Database>, accountId: string, now: Date, policy: LockoutPolicy): Promise<{ allowed: boolean; attempt: number }> {
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
  if (!row) return { allowed: false, attempt: 0 };
  return { allowed: row.failed_login_count <= policy.threshold, attempt: row.failed_login_count };
}

/**
 * After a wrong secret: locks the account when the attempt reached the threshold.
 * @returns true when THIS call locked the account (so exactly one caller sends the lock email).
 */
export async function failAttempt(db: Kysely<Database>, accountId: string, attempt: number, now: Date, policy: LockoutPolicy): Promise<boolean> {
  if (attempt < policy.threshold) return false;
  const row = await db
    .updateTable('accounts')
    .set({ locked_until: addSeconds(now, policy.lockSeconds) })
    .where('id', '=', accountId)
    .where('locked_until', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return !!row;
}

/** Gives back an attempt counted by {@link beginAttempt} whose secret was never compared (e.g. an expired code). */
export async function refundAttempt(db: Kysely<Database>, accountId: string): Promise<void> {
  await db.updateTable('accounts').set({ failed_login_count: sql`greatest(failed_login_count - 1, 0)` }).where('id', '=', accountId).execute();
}

/** After a correct secret: the count starts over. */
export async function succeedAttempt(db: Kysely<Database>, accountId: string): Promise<void> {
  await db.updateTable('accounts').set({ failed_login_count: 0, locked_until: null }).where('id', '=', accountId).execute();
}

/** True when the account is locked at `now`. */
export function isLocked(lockedUntil: Date | null, now: Date): boolean {
  return !!lockedUntil && lockedUntil.getTime() > now.getTime();
}
