import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.ts';

/**
 * Logout tokens still to deliver (table `backchannel_logouts`; src/oidc/backchannel.ts delivers
 * them): one row per relying party, account and `sid`, deleted once delivered or given up.
 */

/** A delivery claimed by {@link claimDueLogouts}. */
export interface DueLogout {
  id: string;
  client_id: string;
  account_id: string;
  sid: string;
  reason: string;
  /** Attempts made before this one. */
  attempts: number;
}

/** The part shared by the two queueing queries: one row per relying party of a live Session `s` with a `backchannel_logout_uri`. */
const QUEUE_FROM_SESSIONS = (reason: string) => sql`
    INSERT INTO backchannel_logouts (client_id, account_id, sid, reason)
    SELECT a.key, s.payload->>'accountId', a.value->>'sid', ${reason}
      FROM oidc_payloads s
      CROSS JOIN LATERAL jsonb_each(coalesce(s.payload->'authorizations', '{}'::jsonb)) a
      JOIN oidc_payloads c ON c.model = 'Client' AND c.id = a.key AND c.payload ? 'backchannel_logout_uri'
     WHERE s.model = 'Session'
       AND a.value ? 'sid'
       AND (s.expires_at IS NULL OR s.expires_at > now())`;

/**
 * Queues a delivery for every relying party with a `backchannel_logout_uri` that has a live
 * session (oidc-provider `Session` rows: `authorizations[client_id].sid`) of one of these accounts,
 * except the session `exceptSessionId`.
 * @param accountIds non-empty.
 * @returns how many deliveries were queued.
 */
export async function queueAccountLogouts(db: Kysely<Database>, accountIds: readonly string[], reason: string, exceptSessionId?: string): Promise<number> {
  const res = await sql`${QUEUE_FROM_SESSIONS(reason)}
       AND s.payload->>'accountId' IN (${sql.join([...accountIds])})
       AND s.id <> ${exceptSessionId ?? ''}`.execute(db);
  return Number(res.numAffectedRows ?? 0);
}

/**
 * Queues a delivery for every relying party with a `backchannel_logout_uri` of these live sessions
 * (by Session id), as {@link queueAccountLogouts}.
 * @param sessionIds non-empty.
 * @returns how many deliveries were queued.
 */
export async function queueSessionLogouts(db: Kysely<Database>, sessionIds: readonly string[], reason: string): Promise<number> {
  const res = await sql`${QUEUE_FROM_SESSIONS(reason)}
       AND s.id IN (${sql.join([...sessionIds])})`.execute(db);
  return Number(res.numAffectedRows ?? 0);
}

/** Queues one delivery (a logout token oidc-provider asked to send). */
export async function queueLogout(db: Kysely<Database>, d: { clientId: string; accountId: string; sid: string; reason: string }): Promise<void> {
  await db.insertInto('backchannel_logouts').values({ client_id: d.clientId, account_id: d.accountId, sid: d.sid, reason: d.reason }).execute();
}

/**
 * Claims up to `limit` due deliveries for `lockSeconds` seconds (database clock), skipping rows
 * another process holds (`FOR UPDATE SKIP LOCKED`), oldest due first.
 * @returns the claimed deliveries.
 */
export async function claimDueLogouts(db: Kysely<Database>, limit: number, lockSeconds: number): Promise<DueLogout[]> {
  return (await sql<DueLogout>`
    UPDATE backchannel_logouts SET locked_until = now() + make_interval(secs => ${lockSeconds})
     WHERE id IN (SELECT id FROM backchannel_logouts
                   WHERE next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
                   ORDER BY next_attempt_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
    RETURNING id, client_id, account_id, sid, reason, attempts`.execute(db)).rows;
}

/** Deletes a delivery (delivered, given up, or its client gone). */
export async function deleteLogout(db: Kysely<Database>, id: string): Promise<void> {
  await db.deleteFrom('backchannel_logouts').where('id', '=', id).execute();
}

/**
 * Releases a failed delivery for another attempt in `delaySeconds` seconds (database clock).
 * @param attempts the attempts made so far; @param error why the last one failed (kept for operators).
 */
export async function scheduleLogoutRetry(db: Kysely<Database>, id: string, attempts: number, error: string, delaySeconds: number): Promise<void> {
  await db.updateTable('backchannel_logouts')
    .set({ attempts, locked_until: null, last_error: error, next_attempt_at: sql`now() + make_interval(secs => ${delaySeconds})` as never })
    .where('id', '=', id).execute();
}
