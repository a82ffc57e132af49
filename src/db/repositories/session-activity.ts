import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.ts';

/**
 * What the "Signed-in sessions" page knows of each IdP session (table `session_activity`,
 * migration 0015; src/account/activity.ts): the browser and address it signed in from and its last
 * activity, keyed by oidc-provider's session `uid`.
 */

/**
 * Records a session's account, browser and address with `at` as its last activity (and, for a
 * new record, its creation).
 */
export async function upsertSessionActivity(db: Kysely<Database>, s: { sessionUid: string; accountId: string; userAgent: string | null; ip: string | null }, at: Date): Promise<void> {
  await db
    .insertInto('session_activity')
    .values({ session_uid: s.sessionUid, account_id: s.accountId, user_agent: s.userAgent, ip: s.ip, created_at: at, last_seen_at: at })
    .onConflict((oc) => oc.column('session_uid').doUpdateSet({ account_id: s.accountId, user_agent: s.userAgent, ip: s.ip, last_seen_at: at }))
    .execute();
}

/**
 * The account's unexpired oidc-provider Session rows (`payload.accountId`), each with its uid, its
 * `loginTs` (epoch seconds, null when absent) and the recorded browser and last activity (null when
 * none was recorded), in no particular order.
 */
export async function liveSessionsWithActivity(db: Kysely<Database>, accountId: string): Promise<{ uid: string | null; loginTs: number | null; userAgent: string | null; lastSeenAt: Date | null }[]> {
  const rows = await db
    .selectFrom('oidc_payloads as s')
    .leftJoin('session_activity as a', 'a.session_uid', 's.uid')
    .select(['s.uid', sql<number | null>`(s.payload->>'loginTs')::bigint`.as('login_ts'), 'a.user_agent', 'a.last_seen_at'])
    .where('s.model', '=', 'Session')
    .where(sql<string>`s.payload->>'accountId'`, '=', accountId)
    .where((eb) => eb.or([eb('s.expires_at', 'is', null), eb('s.expires_at', '>', new Date())]))
    .execute();
  return rows.map((r) => ({ uid: r.uid, loginTs: r.login_ts ? Number(r.login_ts) : null, userAgent: r.user_agent, lastSeenAt: r.last_seen_at ? new Date(r.last_seen_at) : null }));
}

/** Deletes the account's records of sessions other than `keepUid`. */
export async function deleteOtherSessionActivity(db: Kysely<Database>, accountId: string, keepUid: string): Promise<void> {
  await db.deleteFrom('session_activity').where('account_id', '=', accountId).where('session_uid', '!=', keepUid).execute();
}

/** Deletes the records whose oidc-provider Session row no longer exists. @returns how many. */
export async function purgeSessionActivity(db: Kysely<Database>): Promise<bigint> {
  const res = await db.deleteFrom('session_activity as a')
    .where((eb) => eb.not(eb.exists(eb.selectFrom('oidc_payloads as s').select('s.id').where('s.model', '=', 'Session').whereRef('s.uid', '=', 'a.session_uid'))))
    .executeTakeFirstOrThrow();
  return res.numDeletedRows;
}
