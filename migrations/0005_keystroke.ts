import { type Kysely, sql } from 'kysely';

/** Typing pattern (keystroke dynamics): per-account template, presented samples (replay defence), device scope. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('keystroke_profiles')
    .addColumn('account_id', 'text', (c) => c.primaryKey().references('accounts.id').onDelete('cascade'))
    .addColumn('sentence', 'text', (c) => c.notNull())
    .addColumn('template', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('keystroke_presented')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('sample', 'jsonb', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('keystroke_presented_account').on('keystroke_presented').columns(['account_id', 'at']).execute();
  await db.schema
    .alterTable('trusted_devices')
    .addColumn('scope', 'text', (c) => c.notNull().defaultTo('mfa').check(sql`scope in ('mfa', 'typing')`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('trusted_devices').dropColumn('scope').execute();
  await db.schema.dropTable('keystroke_presented').ifExists().execute();
  await db.schema.dropTable('keystroke_profiles').ifExists().execute();
}
