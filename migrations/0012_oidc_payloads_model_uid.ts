import type { Kysely } from 'kysely';

/**
 * Performance (issue 12): oidc-provider looks interactions and sessions up by `(model, uid)`
 * (src/oidc/adapter.ts `findByUid`), and the index was on `uid` alone. The index on `(model, uid)`
 * serves those lookups exactly and replaces the old one (no query reads `uid` without `model`).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('oidc_payloads_model_uid').on('oidc_payloads').columns(['model', 'uid']).execute();
  await db.schema.dropIndex('oidc_payloads_uid').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('oidc_payloads_uid').on('oidc_payloads').column('uid').execute();
  await db.schema.dropIndex('oidc_payloads_model_uid').execute();
}
