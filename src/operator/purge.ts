import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema.ts';
import { purgeFlows } from '../db/repositories/flows.ts';
import { purgePresented } from '../db/repositories/keystroke.ts';
import { purgeSends } from '../db/repositories/message-sends.ts';
import { purgeCodes } from '../db/repositories/one-time-codes.ts';
import { purgeLinks } from '../db/repositories/single-use-links.ts';
import { purgeDevices } from '../db/repositories/trusted-devices.ts';
import { purgeUnknownLocks } from '../security/lockout.ts';
import { purgeDelegationGrants } from '../db/repositories/delegations.ts';
import { purgeAuditEvents } from '../db/repositories/audit-events.ts';
import { purgeExpiredPayloads } from '../db/repositories/oidc-payloads.ts';
import { purgeRateLimits } from '../db/repositories/rate-limits.ts';
import { purgeSessionActivity } from '../db/repositories/session-activity.ts';
import { purgeExpiredSessions } from '../portal/session.ts';

const DAY_MS = 86_400_000;

/** How long send history is kept after a send: longer than the hourly limit's window. */
export const SEND_HISTORY_KEEP_MS = 2 * DAY_MS;
/** How long revoked or expired remembered devices stay visible to the Service Desk. */
export const DEVICE_HISTORY_KEEP_MS = 30 * DAY_MS;
/** How long presented typing samples are kept for the replay defence (at most 60 per account anyway). */
export const KEYSTROKE_PRESENTED_KEEP_MS = 90 * DAY_MS;

/** One clean-up rule: the table and the DELETE that removes what has expired at `now`. */
interface PurgeRule {
  table: string;
  purge(db: Kysely<Database>, now: Date, auditRetentionDays: number, lockoutSeconds: number): Promise<bigint | number>;
}

/** LOCKOUT_SECONDS when the caller does not give it (guide slide 6: 30 minutes). */
const DEFAULT_LOCKOUT_SECONDS = 30 * 60;

/**
 * What expires, table by table. A row is removed only when nothing can use it any more: its own
 * expiry has passed (flows, codes, links, oidc-provider's sessions/grants/tokens, rate-limit keys),
 * the window that reads it has passed (send history: the hourly limit; the fake locks of unknown
 * usernames: lock expired and no attempt for LOCKOUT_SECONDS), or its retention has (audit events:
 * AUDIT_RETENTION_DAYS).
 */
const RULES: PurgeRule[] = [
  { table: 'flows', purge: (db, now) => purgeFlows(db, now) },
  { table: 'one_time_codes', purge: (db, now) => purgeCodes(db, now) },
  { table: 'single_use_links', purge: (db, now) => purgeLinks(db, now) },
  { table: 'message_sends', purge: (db, now) => purgeSends(db, new Date(now.getTime() - SEND_HISTORY_KEEP_MS)) },
  // rate-limiter-flexible's table: `expire` is epoch milliseconds (null: never).
  { table: 'rate_limits', purge: (db, now) => purgeRateLimits(db, now) },
  // The portal's and example application's sessions: the portal's own table, purged by its store's function.
  { table: 'portal_sessions', purge: (db, now) => purgeExpiredSessions(db, now) },
  { table: 'oidc_payloads', purge: (db, now) => purgeExpiredPayloads(db, now) },
  // My Account's record of each session (migration 0015): gone once its session is (after the rule above).
  { table: 'session_activity', purge: (db) => purgeSessionActivity(db) },
  { table: 'trusted_devices', purge: (db, now) => purgeDevices(db, new Date(now.getTime() - DEVICE_HISTORY_KEEP_MS)) },
  // Whom each grant acts for (issue 14): kept while its grant exists (a grant's life moves on at each save).
  { table: 'delegation_grants', purge: (db, now) => purgeDelegationGrants(db, now) },
  { table: 'keystroke_presented', purge: (db, now) => purgePresented(db, new Date(now.getTime() - KEYSTROKE_PRESENTED_KEEP_MS)) },
  { table: 'unknown_login_locks', purge: (db, now, _days, lockoutSeconds) => purgeUnknownLocks(db, now, lockoutSeconds) },
  { table: 'audit_events', purge: (db, now, days) => purgeAuditEvents(db, new Date(now.getTime() - days * DAY_MS)) },
];

/** The advisory-lock key of the purge job (any constant shared by every replica). */
const PURGE_LOCK_KEY = 7_401_221_901;

/**
 * Removes expired rows from every table ({@link RULES}), holding a PostgreSQL advisory lock so
 * that only one replica (or `db purge`) purges at a time; another holder makes it return null.
 * @param now the time against which expiry is judged
 * @param auditRetentionDays audit events older than this many days go (AUDIT_RETENTION_DAYS)
 * @param lockoutSeconds LOCKOUT_SECONDS: fake locks of unknown usernames idle this long (and not locked) go
 * @returns rows removed per table, or null when another process holds the lock.
 */
export async function purgeExpired(db: Kysely<Database>, now: Date, auditRetentionDays: number, lockoutSeconds = DEFAULT_LOCKOUT_SECONDS): Promise<Record<string, number> | null> {
  return db.connection().execute(async (conn) => {
    const got = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${PURGE_LOCK_KEY}) as locked`.execute(conn);
    if (!got.rows[0]?.locked) return null;
    try {
      const counts: Record<string, number> = {};
      for (const rule of RULES) counts[rule.table] = Number(await rule.purge(conn, now, auditRetentionDays, lockoutSeconds));
      return counts;
    } finally {
      await sql`select pg_advisory_unlock(${PURGE_LOCK_KEY})`.execute(conn);
    }
  });
}

/**
 * Runs {@link purgeExpired} every `intervalSeconds` in the server (first run after one interval),
 * logging the counts; errors are logged, never thrown. Returns a function that stops the job.
 */
export function schedulePurge(options: { db: Kysely<Database>; now: () => Date; intervalSeconds: number; auditRetentionDays: number; lockoutSeconds?: number; logger: Logger }): () => void {
  const { db, now, intervalSeconds, auditRetentionDays, lockoutSeconds, logger } = options;
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    purgeExpired(db, now(), auditRetentionDays, lockoutSeconds)
      .then((counts) => {
        if (counts) logger.info({ purged: counts }, 'purge');
      })
      .catch((err) => logger.error({ err: { message: (err as Error).message } }, 'purge failed'))
      .finally(() => {
        running = false;
      });
  }, intervalSeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
