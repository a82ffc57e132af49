import { type Kysely, sql } from 'kysely';

/**
 * Portal sessions (issue 13): the sessions of the portal and of the example downstream application
 * (src/portal/session.ts `PgSessionStore`), kept in PostgreSQL so that every replica of a relying
 * party sees them and a back-channel logout received by any replica ends them for all.
 * - `id_hash`: SHA-256 (hex) of the random session id in the browser's cookie; the id itself is
 *   never stored.
 * - `client_id`: which relying party the session belongs to (a logout token names one client).
 * - `sub`, `sid`: the signed-in producer at the IdP and the IdP session (ID token `sid`), null while
 *   nobody is signed in; back-channel logout deletes by them (Back-Channel Logout 1.0 §2.7).
 * - `data`: the session's data sealed with AES-256-GCM under a key derived from the session id, so
 *   the table alone reveals no token or claim.
 * - `expires_at`: idle expiry, slid forward on use but never past `absolute_expires_at`.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('portal_sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('sub', 'text')
    .addColumn('sid', 'text')
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('absolute_expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('portal_sessions_client_sub').on('portal_sessions').columns(['client_id', 'sub']).execute();
  await db.schema.createIndex('portal_sessions_expires_at').on('portal_sessions').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('portal_sessions').ifExists().execute();
}
