import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql, type Kysely } from 'kysely';
import { FileMigrationProvider, Migrator } from 'kysely/migration';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { dropSchema, openDatabase, type Db } from '../../src/db/database.ts';
import { isCatalogRace } from '../../src/db/migrate.ts';
import { TEST_DATABASE_URL } from '../helpers/idp.ts';

const schema = `t_${randomBytes(6).toString('hex')}`;
const migrationFolder = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');
let database: Db;
let db: Kysely<any>;
let migrator: Migrator;

beforeAll(async () => {
  const config = loadConfig({}, {
    NODE_ENV: 'test', DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, COOKIE_KEYS: 'migration-test-cookie-key-0123456789abcdef',
    PORTAL_CLIENT_SECRET: 'portal-secret-0123456789abcdefghijklmnopqrstuvwxyz', LOG_LEVEL: 'silent',
  });
  database = await openDatabase(config);
  db = database.db as unknown as Kysely<any>;
  migrator = new Migrator({ db, migrationTableSchema: schema, provider: new FileMigrationProvider({ fs, path, migrationFolder }) });
});
afterAll(async () => {
  if (!database) return;
  await dropSchema(database.db, schema);
  await database.close();
});

const at = (s: string) => new Date(s);

/** A migrator call, tried again while another test file's schema drop races Kysely's introspection. */
async function migrate(run: () => Promise<{ error?: unknown }>): Promise<{ error?: unknown }> {
  let result = await run();
  for (let attempt = 1; result.error && attempt < 5 && isCatalogRace(result.error, schema); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    result = await run();
  }
  return result;
}

describe('migrations 0006-0007 (issue 8): single-use links and send history move, rows included', () => {
  it('moves the rows of the twin tables into single_use_links and message_sends, and back on the way down', async () => {
    const up5 = await migrate(() => migrator.migrateTo('0005_keystroke'));
    expect(up5.error).toBeUndefined();
    await db.insertInto('producer_records').values({ producer_number: '000104203', npn: '19000003', first_name: 'Pat', last_name: 'Lee', email: 'pat@example.com', business_zip: '60601', status: 'active' }).execute();
    await db.insertInto('terms').values({ version: '2026-01', body: 'Terms', published_at: at('2026-01-01T00:00:00Z'), is_active: true }).execute();
    await db.insertInto('accounts').values({ id: 'acc1', username: 'PatLee01', username_normalized: 'patlee01', producer_number: '000104203', password_hash: 'x', password_changed_at: at('2026-01-01T00:00:00Z'), status: 'active', terms_version: '2026-01', terms_accepted_at: at('2026-01-01T00:00:00Z'), created_at: at('2026-01-01T00:00:00Z') }).execute();
    await db.insertInto('email_verification_tokens').values([
      { token_hash: 'v1', account_id: 'acc1', created_at: at('2026-01-01T00:00:00Z'), expires_at: at('2026-01-08T00:00:00Z'), used_at: null, voided_at: at('2026-01-01T00:05:00Z') },
      { token_hash: 'v2', account_id: 'acc1', created_at: at('2026-01-01T00:05:00Z'), expires_at: at('2026-01-08T00:05:00Z'), used_at: at('2026-01-01T00:06:00Z'), voided_at: null },
    ]).execute();
    await db.insertInto('unlock_tokens').values({ token_hash: 'u1', account_id: 'acc1', created_at: at('2026-01-02T00:00:00Z'), expires_at: at('2026-01-02T00:30:00Z'), used_at: null }).execute();
    await db.insertInto('mail_sends').values({ account_id: 'acc1', purpose: 'verify_email', sent_at: at('2026-01-01T00:00:00Z') }).execute();
    await db.insertInto('recovery_mail_sends').values({ email_key: 'ek', purpose: 'forgot_username', sent_at: at('2026-01-02T00:00:00Z') }).execute();
    await db.insertInto('otp_sends').values({ account_key: 'a:acc1:mfa', code_id: 'c1', subject: 'uid:email', purpose: 'mfa', channel: 'sms', sent_at: at('2026-01-03T00:00:00Z'), failed_at: at('2026-01-03T00:00:01Z') }).execute();

    const latest = await migrate(() => migrator.migrateToLatest());
    expect(latest.error).toBeUndefined();
    const links = await db.selectFrom('single_use_links').selectAll().orderBy('token_hash').execute();
    expect(links.map((l) => [l.token_hash, l.purpose, l.account_id, l.used_at !== null, l.voided_at !== null])).toEqual([
      ['u1', 'unlock', 'acc1', false, false],
      ['v1', 'verify_email', 'acc1', false, true],
      ['v2', 'verify_email', 'acc1', true, false],
    ]);
    const sends = await db.selectFrom('message_sends').selectAll().orderBy('sent_at').execute();
    expect(sends.map((s) => [s.purpose, s.limit_key, s.subject, s.code_id, s.channel, s.failed_at !== null])).toEqual([
      ['verify_email', 'acc1', 'acc1', null, null, false],
      ['forgot_username', 'ek', 'ek', null, null, false],
      ['mfa', 'a:acc1:mfa', 'uid:email', 'c1', 'sms', true],
    ]);
    const tables = await sql<{ table_name: string }>`SELECT table_name FROM information_schema.tables WHERE table_schema = ${schema}`.execute(db);
    const names = tables.rows.map((r) => r.table_name);
    for (const gone of ['email_verification_tokens', 'unlock_tokens', 'mail_sends', 'recovery_mail_sends', 'otp_sends']) expect(names).not.toContain(gone);

    const down = await migrate(() => migrator.migrateTo('0005_keystroke'));
    expect(down.error).toBeUndefined();
    expect((await db.selectFrom('email_verification_tokens').select('token_hash').orderBy('token_hash').execute()).map((r) => r.token_hash)).toEqual(['v1', 'v2']);
    expect((await db.selectFrom('unlock_tokens').select('token_hash').execute()).map((r) => r.token_hash)).toEqual(['u1']);
    expect(await db.selectFrom('mail_sends').select(['account_id', 'purpose']).execute()).toEqual([{ account_id: 'acc1', purpose: 'verify_email' }]);
    expect(await db.selectFrom('recovery_mail_sends').select(['email_key', 'purpose']).execute()).toEqual([{ email_key: 'ek', purpose: 'forgot_username' }]);
    expect(await db.selectFrom('otp_sends').select(['account_key', 'code_id', 'channel']).execute()).toEqual([{ account_key: 'a:acc1:mfa', code_id: 'c1', channel: 'sms' }]);
  });
});
