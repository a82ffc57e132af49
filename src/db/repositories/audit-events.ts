import type { Kysely } from 'kysely';
import type { Database } from '../schema.ts';

/**
 * The audit trail (table `audit_events`; src/audit.ts names the event types and writes them). Rows
 * are appended, read by My Account's "Recent activity" and the Service Desk, and removed only by
 * the purge after AUDIT_RETENTION_DAYS.
 */

/** One event to append; `details` is the JSON text. */
export interface NewAuditRow {
  at: Date;
  type: string;
  account_id: string | null;
  client_id: string | null;
  ip: string | null;
  user_agent: string | null;
  details: string;
  request_id: string | null;
}

/** An account's event as the account pages and the Service Desk read it. */
export interface AccountEventRow {
  at: Date;
  type: string;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
}

/**
 * Appends the events in one INSERT, in the order given.
 * @throws the database error when the rows cannot be written (none is then written).
 */
export async function insertAuditEvents(db: Kysely<Database>, rows: readonly NewAuditRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.insertInto('audit_events').values([...rows]).execute();
}

/**
 * The account's last `limit` events, newest first (ties: last written first), of the types in
 * `filter.types`, or whose type starts with `filter.prefix` (e.g. `login.`).
 */
export async function eventsOfAccount(db: Kysely<Database>, accountId: string, filter: { types: readonly string[] } | { prefix: string }, limit: number): Promise<AccountEventRow[]> {
  let q = db.selectFrom('audit_events').select(['at', 'type', 'ip', 'user_agent', 'details']).where('account_id', '=', accountId);
  q = 'types' in filter ? q.where('type', 'in', [...filter.types]) : q.where('type', 'like', `${escapeLike(filter.prefix)}%`);
  const rows = await q.orderBy('at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => ({ at: new Date(r.at), type: r.type, ip: r.ip, userAgent: r.user_agent, details: (r.details ?? {}) as unknown as Record<string, unknown> }));
}

/** `value` with LIKE's wildcards (`%`, `_`) and the escape character escaped. */
function escapeLike(value: string): string {
  return value.replace(/[%_\\]/g, '\\$&');
}

/** One event as `audit list` reads it, with the account's username (null: no or deleted account). */
export interface AuditListRow {
  at: Date;
  type: string;
  username: string | null;
  clientId: string | null;
  ip: string | null;
  requestId: string | null;
  details: unknown;
}

/**
 * Events, newest first (ties: last written first), at most `filter.limit`: of the account whose
 * username is `filter.username` (any case), at or after `filter.since`, and of type `filter.type`
 * exactly or, with `filter.typePrefix`, of every type that starts with it.
 */
export async function listAuditEvents(db: Kysely<Database>, filter: { username?: string; since?: Date; type?: string; typePrefix?: string; limit: number }): Promise<AuditListRow[]> {
  let q = db
    .selectFrom('audit_events as e')
    .leftJoin('accounts as a', 'a.id', 'e.account_id')
    .select(['e.at', 'e.type', 'a.username', 'e.client_id', 'e.ip', 'e.request_id', 'e.details'])
    .orderBy('e.at', 'desc')
    .orderBy('e.id', 'desc')
    .limit(filter.limit);
  if (filter.username) q = q.where('a.username_normalized', '=', filter.username.toLowerCase());
  if (filter.since) q = q.where('e.at', '>=', filter.since);
  if (filter.typePrefix !== undefined) q = q.where('e.type', 'like', `${escapeLike(filter.typePrefix)}%`);
  else if (filter.type !== undefined) q = q.where('e.type', '=', filter.type);
  const rows = await q.execute();
  return rows.map((r) => ({ at: new Date(r.at), type: r.type, username: r.username ?? null, clientId: r.client_id, ip: r.ip, requestId: r.request_id, details: r.details }));
}

/** Deletes the events written before `before`. @returns how many. */
export async function purgeAuditEvents(db: Kysely<Database>, before: Date): Promise<bigint> {
  const res = await db.deleteFrom('audit_events').where('at', '<', before).executeTakeFirstOrThrow();
  return res.numDeletedRows;
}
