import { type Kysely, sql } from 'kysely';

/**
 * My Account (issue 14 item 6): `session_activity`, what the "Signed-in sessions" page shows of each
 * IdP session besides oidc-provider's own record — the browser (user agent) and address it was
 * signed in from, and its last activity (an authorization request or an account page). Keyed by
 * oidc-provider's session `uid` (stable for the browser's session); written by src/account/activity.ts,
 * deleted with the session when the account pages end it, and purged once older than any session.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('session_activity')
    .addColumn('session_uid', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('user_agent', 'text')
    .addColumn('ip', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('session_activity_account').on('session_activity').column('account_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('session_activity').ifExists().execute();
}
