import { type Kysely, sql } from 'kysely';

/**
 * Index of oidc-provider rows by account (`payload->>'accountId'`), so that ending every session,
 * grant and token of an account (src/oidc/revocation.ts, issue 9 item 3) does not scan the table.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE INDEX oidc_payloads_account ON oidc_payloads ((payload->>'accountId')) WHERE payload ? 'accountId'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS oidc_payloads_account`.execute(db);
}
