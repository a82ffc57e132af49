import { sql, type Kysely } from 'kysely';
import { addSeconds } from '../../clock.ts';
import type { Database } from '../schema.ts';

/** Whom a send counts for (table `message_sends`, migration 0007). */
export interface SendKey {
  /** One-time code purpose (`mfa`, `password_reset`), `verify_email` or `forgot_username`. */
  purpose: string;
  /** Whom the hourly limit counts (see schema.ts MessageSendsTable). */
  limitKey: string;
  /** Whom the resend spacing counts. */
  subject: string;
}

/** The send history the limits look at: the last delivered send of (purpose, subject), and the hour's sends of (purpose, limitKey). */
export interface SendHistory {
  last: Date | null;
  count: number;
  oldest: Date | null;
}

/**
 * Reads the history of `key` at `now`: `last` = the latest send of (purpose, subject) not marked
 * failed; `count`/`oldest` = sends of (purpose, limitKey) in the rolling hour before `now`.
 * Call it inside the transaction that records the next send, after taking that key's lock.
 */
export async function sendHistory(db: Kysely<Database>, key: SendKey, now: Date): Promise<SendHistory> {
  const last = await db
    .selectFrom('message_sends')
    .select(sql<Date | null>`max(sent_at)`.as('at'))
    .where('subject', '=', key.subject)
    .where('purpose', '=', key.purpose)
    .where('failed_at', 'is', null)
    .executeTakeFirstOrThrow();
  const hour = await db
    .selectFrom('message_sends')
    .select([sql<number>`count(*)::int`.as('n'), sql<Date | null>`min(sent_at)`.as('oldest')])
    .where('limit_key', '=', key.limitKey)
    .where('purpose', '=', key.purpose)
    .where('sent_at', '>', addSeconds(now, -3600))
    .executeTakeFirstOrThrow();
  return { last: last.at, count: hour.n, oldest: hour.oldest };
}

/** Records a send of `key` at `now` (a one-time code: with its id and channel). */
export async function recordSend(db: Kysely<Database>, key: SendKey, now: Date, code?: { codeId: string; channel: 'email' | 'sms' }): Promise<void> {
  await db
    .insertInto('message_sends')
    .values({ purpose: key.purpose, limit_key: key.limitKey, subject: key.subject, code_id: code?.codeId ?? null, channel: code?.channel ?? null, sent_at: now })
    .execute();
}

/** Marks the send of one-time code `codeId` failed (it then no longer delays a resend; it still counts per hour). */
export async function markSendFailed(db: Kysely<Database>, codeId: string, now: Date): Promise<void> {
  await db.updateTable('message_sends').set({ failed_at: now }).where('code_id', '=', codeId).where('failed_at', 'is', null).execute();
}

/** Deletes sends older than `before`. @returns how many rows were deleted. */
export async function purgeSends(db: Kysely<Database>, before: Date): Promise<number> {
  const res = await db.deleteFrom('message_sends').where('sent_at', '<', before).executeTakeFirst();
  return Number(res.numDeletedRows);
}
