import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.ts';

/**
 * rate-limiter-flexible's table `rate_limits` (src/security/rate-limit.ts; layout by the library,
 * created by migration 0001): the library reads and writes it itself; the IdP only purges it.
 */

/**
 * Deletes the keys that expired before `now` (`expire` is epoch milliseconds; null: never).
 * @returns how many rows were deleted.
 */
export async function purgeRateLimits(db: Kysely<Database>, now: Date): Promise<bigint> {
  return (await sql`delete from rate_limits where expire is not null and expire < ${now.getTime()}`.execute(db)).numAffectedRows ?? 0n;
}
