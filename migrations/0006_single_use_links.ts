import { sql, type Kysely } from 'kysely';

/**
 * One purpose-keyed table for single-use links (issue 8): the email confirmation links
 * (`email_verification_tokens`, purpose `verify_email`) and the unlock links (`unlock_tokens`,
 * purpose `unlock`) move to `single_use_links` with their rows; the twin tables are dropped.
 * Only the SHA-256 of a token is stored, as before.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('single_use_links')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .addColumn('voided_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('single_use_links_account').on('single_use_links').columns(['account_id', 'purpose']).execute();
  await db.schema.createIndex('single_use_links_expires').on('single_use_links').column('expires_at').execute();
  await sql`INSERT INTO single_use_links (token_hash, purpose, account_id, created_at, expires_at, used_at, voided_at)
    SELECT token_hash, 'verify_email', account_id, created_at, expires_at, used_at, voided_at FROM email_verification_tokens`.execute(db);
  await sql`INSERT INTO single_use_links (token_hash, purpose, account_id, created_at, expires_at, used_at, voided_at)
    SELECT token_hash, 'unlock', account_id, created_at, expires_at, used_at, NULL FROM unlock_tokens`.execute(db);
  await db.schema.dropTable('email_verification_tokens').execute();
  await db.schema.dropTable('unlock_tokens').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('email_verification_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .addColumn('voided_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('email_verification_tokens_account').on('email_verification_tokens').column('account_id').execute();
  await db.schema
    .createTable('unlock_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('unlock_tokens_account').on('unlock_tokens').column('account_id').execute();
  await db.schema.createIndex('unlock_tokens_expires').on('unlock_tokens').column('expires_at').execute();
  await sql`INSERT INTO email_verification_tokens SELECT token_hash, account_id, created_at, expires_at, used_at, voided_at FROM single_use_links WHERE purpose = 'verify_email'`.execute(db);
  await sql`INSERT INTO unlock_tokens SELECT token_hash, account_id, created_at, expires_at, used_at FROM single_use_links WHERE purpose = 'unlock'`.execute(db);
  await db.schema.dropTable('single_use_links').execute();
}
