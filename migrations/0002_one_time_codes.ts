import { type Kysely, sql } from 'kysely';

/** One-time codes (Forgot Password, Verify your Account, MFA) and the sends that limit resends. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('one_time_codes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text', (c) => c.references('accounts.id').onDelete('cascade'))
    .addColumn('channel', 'text', (c) => c.notNull().check(sql`channel in ('email','sms')`))
    .addColumn('code_hmac', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0).check(sql`attempts >= 0`))
    .addColumn('consumed_at', 'timestamptz')
    .addColumn('voided_at', 'timestamptz')
    .execute();
  // At most one live (neither consumed nor voided) code per purpose and subject.
  await sql`CREATE UNIQUE INDEX one_time_codes_live ON one_time_codes (purpose, subject) WHERE consumed_at IS NULL AND voided_at IS NULL`.execute(db);
  await db.schema.createIndex('one_time_codes_account').on('one_time_codes').column('account_id').execute();
  await db.schema.createIndex('one_time_codes_expires').on('one_time_codes').column('expires_at').execute();

  await db.schema
    .createTable('otp_sends')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('account_key', 'text', (c) => c.notNull())
    .addColumn('code_id', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull().check(sql`channel in ('email','sms')`))
    .addColumn('sent_at', 'timestamptz', (c) => c.notNull())
    .addColumn('failed_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('otp_sends_account').on('otp_sends').columns(['account_key', 'sent_at']).execute();
  await db.schema.createIndex('otp_sends_subject').on('otp_sends').columns(['subject', 'purpose', 'sent_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('otp_sends').ifExists().execute();
  await db.schema.dropTable('one_time_codes').ifExists().execute();
}
