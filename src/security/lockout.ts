import { createHmac } from 'node:crypto';
import type { Kysely } from 'kysely';
import { addSeconds } from '../clock.ts';
import { completeAccountLogin, countAccountAttempt, countUnknownAttempt, deleteUnknownLocks, lockAccount, lockUnknown, uncountAccountAttempt } from '../db/repositories/login-locks.ts';
import type { Database } from '../db/schema.ts';

/** Lockout parameters (guide slide 6: 5 wrong passwords lock for 30 minutes). */
export interface LockoutPolicy {
  /** wrong attempts in a row that lock the account. */
  threshold: number;
  /** lock duration, seconds. */
  lockSeconds: number;
}

/** The answer of a counted attempt: allowed while the count is within the threshold; none counted (locked): refused. */
function allowedUnder(policy: LockoutPolicy, count: number | undefined): { allowed: boolean; attempt: number } {
  if (count === undefined) return { allowed: false, attempt: 0 };
  return { allowed: count <= policy.threshold, attempt: count };
}

/**
 * Counts one attempt against the account BEFORE the secret is compared, in one atomic UPDATE, so
 * parallel attempts cannot get more than `threshold` comparisons. A lock whose time has passed is
 * cleared and the count restarts at 1.
 * @returns `{ allowed: true, attempt }` when the secret may be compared (attempt is 1-based);
 *   `{ allowed: false }` when the account is locked or this attempt is beyond the threshold.
 */
export async function beginAttempt(db: Kysely<Database>, accountId: string, now: Date, policy: LockoutPolicy): Promise<{ allowed: boolean; attempt: number }> {
  return allowedUnder(policy, await countAccountAttempt(db, accountId, now));
}

/**
 * After a wrong secret: locks the account when the attempt reached the threshold.
 * @returns true when THIS call locked the account (so exactly one caller sends the lock email).
 */
export async function failAttempt(db: Kysely<Database>, accountId: string, attempt: number, now: Date, policy: LockoutPolicy): Promise<boolean> {
  if (attempt < policy.threshold) return false;
  return lockAccount(db, accountId, addSeconds(now, policy.lockSeconds));
}

/** Gives back an attempt counted by {@link beginAttempt} whose secret was never compared (e.g. an expired code). */
export async function refundAttempt(db: Kysely<Database>, accountId: string): Promise<void> {
  await uncountAccountAttempt(db, accountId);
}

/**
 * After a WHOLE sign-in completed (password and, when asked for, the second factor): the count
 * starts over. A correct password alone must not call this: failures of every factor (password,
 * email/SMS code, keyboard pattern) count toward the same lock until a sign-in completes (issue 9,
 * item 1); after a correct password the caller gives its attempt back with {@link refundAttempt}.
 * Records the sign-in's time (`last_login_at`) in the same UPDATE.
 */
export async function succeedAttempt(db: Kysely<Database>, accountId: string, at: Date): Promise<void> {
  await completeAccountLogin(db, accountId, at);
}

/** True when the account is locked at `now`. */
export function isLocked(lockedUntil: Date | null, now: Date): boolean {
  return !!lockedUntil && lockedUntil.getTime() > now.getTime();
}

/**
 * The key of the fake lock of a username without an account: HMAC-SHA256 (base64url) under a key
 * derived from `secret` (COOKIE_KEYS[0]) of the trimmed, lower-cased username. The username itself
 * is never stored.
 */
export function unknownLockKey(secret: string, username: string): string {
  const key = createHmac('sha256', secret).update('producer-idp/unknown-login-lock/v1', 'utf8').digest();
  return createHmac('sha256', key).update(username.trim().toLowerCase(), 'utf8').digest('base64url');
}

/**
 * {@link beginAttempt} for a username without an account (issue 9, item 4): the same counter, the
 * same atomic statement and the same time rules — `threshold` wrong attempts in a row lock for
 * `lockSeconds` from the attempt that reached the threshold, attempts during the lock change nothing,
 * and the first attempt after the lock counts as 1 — in table `unknown_login_locks` (migration 0009,
 * one row per {@link unknownLockKey}). So for any sequence of attempts and waits an unknown username
 * answers exactly as a real one whose passwords are all wrong.
 * @returns `{ allowed: false }` while the fake lock holds; otherwise the 1-based attempt number.
 */
export async function beginUnknownAttempt(db: Kysely<Database>, key: string, now: Date, policy: LockoutPolicy): Promise<{ allowed: boolean; attempt: number }> {
  return allowedUnder(policy, await countUnknownAttempt(db, key, now));
}

/** {@link failAttempt} for a username without an account (every attempt is wrong). @returns true when this call set the lock. */
export async function failUnknownAttempt(db: Kysely<Database>, key: string, attempt: number, now: Date, policy: LockoutPolicy): Promise<boolean> {
  if (attempt < policy.threshold) return false;
  return lockUnknown(db, key, addSeconds(now, policy.lockSeconds), now);
}

/** How long the failure count of an unknown username is kept without any attempt, seconds (30 days). */
export const UNKNOWN_LOCK_IDLE_SECONDS = 30 * 86400;

/**
 * Deletes fake locks whose removal cannot be told apart from a real account (issue 9 item 4):
 * - a lock that has ended, untouched for `lockSeconds` (LOCKOUT_SECONDS): a real account's next
 *   attempt after an ended lock also starts counting from 1, so nothing observable changes;
 * - a count that never reached the lock, untouched for {@link UNKNOWN_LOCK_IDLE_SECONDS}: a real
 *   account keeps such a count, so only an attacker who waits 30 days between attempts on one
 *   username could see a difference (the README says so); this bounds the table's growth.
 * Used by the purge job (src/operator/purge.ts).
 * @returns how many rows were deleted.
 */
export async function purgeUnknownLocks(db: Kysely<Database>, now: Date, lockSeconds: number): Promise<bigint> {
  return deleteUnknownLocks(db, now, addSeconds(now, -lockSeconds), addSeconds(now, -UNKNOWN_LOCK_IDLE_SECONDS));
}
