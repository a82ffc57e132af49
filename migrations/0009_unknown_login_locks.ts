import type { Kysely } from 'kysely';

/**
 * The fake lock of usernames without an account (issue 9, item 4): the same counter and lock as
 * `accounts.failed_login_count` / `locked_until`, keyed by an HMAC of the lower-cased username
 * (never the username itself), so an unknown username follows exactly the time rules of a real lock.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('unknown_login_locks')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('failed_login_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('locked_until', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('unknown_login_locks_updated').on('unknown_login_locks').column('updated_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('unknown_login_locks').ifExists().execute();
}
