import { sql, type Kysely } from 'kysely';

/**
 * One send history for every message a person can ask for again (issue 8): confirmation mails
 * (`mail_sends`), Forgot Username mails (`recovery_mail_sends`) and one-time codes (`otp_sends`)
 * move to `message_sends` with their rows; the three tables are dropped.
 * - `limit_key`: whom the hourly limit counts — a code's account key (`a:<account>:<purpose>`, or
 *   `s:<purpose>:<subject>` without an account), the account id of a confirmation mail, the HMAC of
 *   the address of a Forgot Username mail;
 * - `subject`: whom the resend spacing counts (a code's subject; the same as `limit_key` otherwise);
 * - `code_id`, `channel`: the one-time code sent, and how (codes only); `failed_at`: the transport
 *   did not deliver it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('message_sends')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('limit_key', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('code_id', 'text')
    .addColumn('channel', 'text', (c) => c.check(sql`channel in ('email','sms')`))
    .addColumn('sent_at', 'timestamptz', (c) => c.notNull())
    .addColumn('failed_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('message_sends_limit').on('message_sends').columns(['limit_key', 'sent_at']).execute();
  await db.schema.createIndex('message_sends_subject').on('message_sends').columns(['subject', 'purpose', 'sent_at']).execute();
  await db.schema.createIndex('message_sends_code').on('message_sends').column('code_id').execute();
  await sql`INSERT INTO message_sends (purpose, limit_key, subject, code_id, channel, sent_at, failed_at)
    SELECT purpose, account_key, subject, code_id, channel, sent_at, failed_at FROM otp_sends ORDER BY id`.execute(db);
  await sql`INSERT INTO message_sends (purpose, limit_key, subject, sent_at)
    SELECT purpose, account_id, account_id, sent_at FROM mail_sends ORDER BY id`.execute(db);
  await sql`INSERT INTO message_sends (purpose, limit_key, subject, sent_at)
    SELECT purpose, email_key, email_key, sent_at FROM recovery_mail_sends ORDER BY id`.execute(db);
  await db.schema.dropTable('otp_sends').execute();
  await db.schema.dropTable('mail_sends').execute();
  await db.schema.dropTable('recovery_mail_sends').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
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
  await db.schema
    .createTable('mail_sends')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('mail_sends_account').on('mail_sends').columns(['account_id', 'purpose', 'sent_at']).execute();
  await db.schema
    .createTable('recovery_mail_sends')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('email_key', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('recovery_mail_sends_key').on('recovery_mail_sends').columns(['email_key', 'purpose', 'sent_at']).execute();
  await sql`INSERT INTO otp_sends (account_key, code_id, subject, purpose, channel, sent_at, failed_at)
    SELECT limit_key, code_id, subject, purpose, channel, sent_at, failed_at FROM message_sends WHERE code_id IS NOT NULL ORDER BY id`.execute(db);
  await sql`INSERT INTO mail_sends (account_id, purpose, sent_at)
    SELECT s.limit_key, s.purpose, s.sent_at FROM message_sends s JOIN accounts a ON a.id = s.limit_key WHERE s.purpose = 'verify_email' ORDER BY s.id`.execute(db);
  await sql`INSERT INTO recovery_mail_sends (email_key, purpose, sent_at)
    SELECT limit_key, purpose, sent_at FROM message_sends WHERE purpose = 'forgot_username' ORDER BY id`.execute(db);
  await db.schema.dropTable('message_sends').execute();
}
