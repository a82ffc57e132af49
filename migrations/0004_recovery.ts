import type { Kysely } from 'kysely';

/**
 * Account recovery (guide slides 12-17): single-use unlock links sent with Forgot Username, and the
 * sends of the Forgot Username mail, counted per email address (there may be no account behind it).
 */
export async function up(db: Kysely<any>): Promise<void> {
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

  await db.schema
    .createTable('recovery_mail_sends')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    // HMAC of the lower-cased address: the address of someone without an account is never stored.
    .addColumn('email_key', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('recovery_mail_sends_key').on('recovery_mail_sends').columns(['email_key', 'purpose', 'sent_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('recovery_mail_sends').ifExists().execute();
  await db.schema.dropTable('unlock_tokens').ifExists().execute();
}
