import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config/index.ts';
import { dropSchema, openDatabase, type Db } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import {
  generateCode,
  issueCode,
  markDeliveryFailed,
  purgeOneTimeCodes,
  verifyCode,
  verifyDecoy,
  type CodeDeps,
  type IssueCodeRequest,
  type VerifyCodeResult,
} from '../../src/security/one-time-codes.ts';
import { TEST_DATABASE_URL } from '../helpers/idp.ts';

const KEY = 'otp-test-cookie-key-0123456789abcdefghijklmnop';
const schema = `t_${randomBytes(6).toString('hex')}`;
let database: Db;
let deps: CodeDeps;
const clock = new ManualClock(new Date('2030-01-15T12:00:00Z'));

beforeAll(async () => {
  const config = loadConfig({}, {
    NODE_ENV: 'test', DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, COOKIE_KEYS: KEY,
    PORTAL_CLIENT_SECRET: 'portal-secret-0123456789abcdefghijklmnopqrstuvwxyz', LOG_LEVEL: 'silent',
  });
  database = await openDatabase(config);
  await migrateToLatest(database.db, schema);
  deps = { db: database.db, clock, config };
});
afterAll(async () => {
  if (!database) return;
  await dropSchema(database.db, schema);
  await database.close();
});

let producerSeq = 0;
/** A producer record and account, so codes can name an account (foreign key). */
async function newAccount(): Promise<string> {
  const producerNumber = String(700000000 + ++producerSeq);
  const id = randomUUID();
  await database.db.insertInto('producer_records').values({
    producer_number: producerNumber, npn: String(19000000 + producerSeq), first_name: 'Test', last_name: 'Producer',
    agency_name: null, email: `p${producerSeq}@example.com`, mobile_phone: '+13125550101', business_zip: '60601',
    bap_zip: null, parent_producer_number: null, status: 'active',
  }).execute();
  await database.db.insertInto('accounts').values({
    id, username: `producer${producerSeq}x`, username_normalized: `producer${producerSeq}x`, producer_number: producerNumber,
    password_hash: 'not-a-real-hash', password_changed_at: clock.now(), email_verified_at: null, status: 'active',
    locked_until: null, terms_version: null, terms_accepted_at: null, created_at: clock.now(), last_login_at: null,
  }).execute();
  return id;
}

function request(over: Partial<IssueCodeRequest> = {}): IssueCodeRequest {
  return { purpose: 'password_reset', subject: `flow-${randomUUID()}`, accountId: null, channel: 'email', ...over };
}

async function issued(req: IssueCodeRequest) {
  const r = await issueCode(deps, req);
  if (!r.issued) throw new Error(`not issued: ${r.reason}`);
  return r;
}

/** A wrong entry that is certainly not `code`. */
function wrongFor(code: string): string {
  let w = generateCode();
  while (w === code) w = generateCode();
  return w;
}

async function row(codeId: string) {
  return database.db.selectFrom('one_time_codes').selectAll().where('id', '=', codeId).executeTakeFirstOrThrow();
}

describe('one-time codes (guide slide "Forgot Password – Enter Verification Code")', () => {
  it('a right code verifies once, typed in any case with spaces or dashes', async () => {
    const req = request();
    const { code, expiresAt, ttlSeconds } = await issued(req);
    expect(ttlSeconds).toBe(600);
    expect(expiresAt.getTime() - clock.now().getTime()).toBe(600_000);
    const typed = ` ${code.slice(0, 4).toLowerCase()}-${code.slice(4)} `;
    expect(await verifyCode(deps, { ...req, input: typed })).toEqual({ ok: true, accountId: null, channel: 'email' });
    expect(await verifyCode(deps, { ...req, input: code })).toEqual({ ok: false, reason: 'expired_or_missing' });
  });

  it('returns the account of the code', async () => {
    const accountId = await newAccount();
    const req = request({ subject: accountId, accountId, channel: 'sms', purpose: 'verify_account' });
    const { code } = await issued(req);
    expect(await verifyCode(deps, { ...req, input: code })).toEqual({ ok: true, accountId, channel: 'sms' });
  });

  it('counts wrong entries: 4, 3, 2, 1 tries left, then exhausted; the right code no longer works', async () => {
    const req = request();
    const { code, codeId } = await issued(req);
    const wrong = wrongFor(code);
    const answers: VerifyCodeResult[] = [];
    for (let i = 0; i < 5; i++) answers.push(await verifyCode(deps, { ...req, input: wrong }));
    expect(answers).toEqual([
      { ok: false, reason: 'wrong', triesLeft: 4 },
      { ok: false, reason: 'wrong', triesLeft: 3 },
      { ok: false, reason: 'wrong', triesLeft: 2 },
      { ok: false, reason: 'wrong', triesLeft: 1 },
      { ok: false, reason: 'exhausted' },
    ]);
    expect(await verifyCode(deps, { ...req, input: code })).toEqual({ ok: false, reason: 'exhausted' });
    expect((await row(codeId)).attempts).toBe(5);
  });

  it('a malformed entry counts as a wrong try', async () => {
    const req = request();
    const { code } = await issued(req);
    expect(await verifyCode(deps, { ...req, input: 'nope' })).toEqual({ ok: false, reason: 'wrong', triesLeft: 4 });
    expect(await verifyCode(deps, { ...req, input: code })).toMatchObject({ ok: true });
  });

  it('20 parallel wrong guesses get at most 5 comparisons, and all fail', async () => {
    const req = request();
    const { code, codeId } = await issued(req);
    const answers = await Promise.all(Array.from({ length: 20 }, () => verifyCode(deps, { ...req, input: wrongFor(code) })));
    expect(answers.every((a) => !a.ok)).toBe(true);
    expect((await row(codeId)).attempts).toBeLessThanOrEqual(5);
    expect((await row(codeId)).attempts).toBe(5);
    const wrongs = answers.filter((a) => !a.ok && a.reason === 'wrong');
    expect(wrongs.map((a) => (a as { triesLeft: number }).triesLeft).sort()).toEqual([1, 2, 3, 4]);
    expect(answers.filter((a) => !a.ok && a.reason === 'exhausted')).toHaveLength(16);
    expect(await verifyCode(deps, { ...req, input: code })).toEqual({ ok: false, reason: 'exhausted' });
  });

  it('two parallel right entries succeed exactly once', async () => {
    const req = request();
    const { code, codeId } = await issued(req);
    const answers = await Promise.all([verifyCode(deps, { ...req, input: code }), verifyCode(deps, { ...req, input: code })]);
    expect(answers.filter((a) => a.ok)).toHaveLength(1);
    expect(answers.filter((a) => !a.ok)).toEqual([{ ok: false, reason: 'expired_or_missing' }]);
    expect((await row(codeId)).consumed_at).not.toBeNull();
  });

  it('expires after 10 minutes', async () => {
    const a = request();
    const b = request();
    const codeA = (await issued(a)).code;
    const codeB = (await issued(b)).code;
    clock.advance(599);
    expect(await verifyCode(deps, { ...a, input: codeA })).toMatchObject({ ok: true });
    clock.advance(1);
    expect(await verifyCode(deps, { ...b, input: codeB })).toEqual({ ok: false, reason: 'expired_or_missing' });
  });

  it('refuses a resend within 30 seconds; after 30 s the new code replaces the earlier one', async () => {
    const req = request({ channel: 'sms' });
    const first = await issued(req);
    clock.advance(10);
    expect(await issueCode(deps, req)).toEqual({ issued: false, reason: 'resend_too_soon', retryAfterSeconds: 20 });
    expect(await issueCode(deps, { ...req, channel: 'email' })).toEqual({ issued: false, reason: 'resend_too_soon', retryAfterSeconds: 20 });
    clock.advance(19.5);
    expect(await issueCode(deps, req)).toEqual({ issued: false, reason: 'resend_too_soon', retryAfterSeconds: 1 });
    clock.advance(0.5);
    const second = await issued({ ...req, channel: 'email' });
    expect(await verifyCode(deps, { ...req, input: first.code })).toMatchObject({ ok: false });
    expect((await row(first.codeId)).voided_at).not.toBeNull();
    expect(await verifyCode(deps, { ...req, input: second.code })).toEqual({ ok: true, accountId: null, channel: 'email' });
  });

  it('refuses the 6th send for an account and purpose within an hour; other purposes keep their own count', async () => {
    const accountId = await newAccount();
    const start = clock.now().getTime();
    for (let i = 0; i < 5; i++) {
      await issued({ purpose: 'password_reset', subject: accountId, accountId, channel: 'email' });
      clock.advance(31);
    }
    // 5 sends at +0, +31, +62, +93, +124 s; now +155 s.
    const refused = await issueCode(deps, { purpose: 'password_reset', subject: accountId, accountId, channel: 'email' });
    expect(refused).toEqual({ issued: false, reason: 'hourly_limit', retryAfterSeconds: 3600 - 155 });
    // Another subject of the same account and purpose (e.g. a flow id) is limited too.
    expect(await issueCode(deps, { purpose: 'password_reset', subject: `flow-${randomUUID()}`, accountId, channel: 'email' })).toMatchObject({ issued: false, reason: 'hourly_limit' });
    // The owner's sign-in codes are not used up by Forgot Password requests (another purpose).
    expect(await issueCode(deps, { purpose: 'mfa', subject: accountId, accountId, channel: 'sms' })).toMatchObject({ issued: true });
    // Another account is not limited.
    const other = await newAccount();
    expect(await issueCode(deps, { purpose: 'password_reset', subject: other, accountId: other, channel: 'email' })).toMatchObject({ issued: true });
    clock.advance(3600 - 155 - 1);
    expect(await issueCode(deps, { purpose: 'password_reset', subject: accountId, accountId, channel: 'sms' })).toEqual({ issued: false, reason: 'hourly_limit', retryAfterSeconds: 1 });
    clock.advance(1);
    expect(clock.now().getTime() - start).toBe(3600_000);
    expect(await issueCode(deps, { purpose: 'password_reset', subject: accountId, accountId, channel: 'sms' })).toMatchObject({ issued: true });
  });

  it('without a known account, limits per subject and purpose', async () => {
    const req = request();
    for (let i = 0; i < 5; i++) {
      await issued(req);
      clock.advance(30);
    }
    expect(await issueCode(deps, req)).toMatchObject({ issued: false, reason: 'hourly_limit' });
    expect(await issueCode(deps, request())).toMatchObject({ issued: true });
  });

  it('is bound to purpose and subject', async () => {
    const accountId = await newAccount();
    const req = request({ subject: accountId, accountId });
    const { code, codeId } = await issued(req);
    expect(await verifyCode(deps, { purpose: 'mfa', subject: accountId, input: code })).toEqual({ ok: false, reason: 'expired_or_missing' });
    expect(await verifyCode(deps, { purpose: 'password_reset', subject: `flow-${randomUUID()}`, input: code })).toEqual({ ok: false, reason: 'expired_or_missing' });
    expect((await row(codeId)).attempts).toBe(0);
    expect(await verifyCode(deps, { ...req, input: code })).toMatchObject({ ok: true, accountId });
  });

  it('stores only an HMAC of the code', async () => {
    const { code, codeId } = await issued(request());
    const stored = await row(codeId);
    expect(stored.code_hmac).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const all = JSON.stringify(stored).toUpperCase();
    expect(all).not.toContain(code);
    const sends = await database.db.selectFrom('message_sends').selectAll().where('code_id', '=', codeId).execute();
    expect(sends).toHaveLength(1);
    expect(JSON.stringify(sends).toUpperCase()).not.toContain(code);
  });

  it('verifies codes issued under an earlier cookie key after rotation', async () => {
    const req = request();
    const { code } = await issued(req);
    const rotated = { ...deps, config: { COOKIE_KEYS: ['rotated-key-0123456789abcdefghijklmnopqrst', KEY] } };
    expect(await verifyCode(rotated, { ...req, input: code })).toMatchObject({ ok: true });
    const other = request();
    const { code: code2 } = await issued(other);
    const dropped = { ...deps, config: { COOKIE_KEYS: ['rotated-key-0123456789abcdefghijklmnopqrst'] } };
    expect(await verifyCode(dropped, { ...other, input: code2 })).toEqual({ ok: false, reason: 'wrong', triesLeft: 4 });
  });

  it('decoy: the same answers as a real code given wrong entries, never ok', async () => {
    const real = request();
    const decoy = request();
    const realCode = (await issued(real)).code;
    const decoyCode = (await issued(decoy)).code; // discarded by the caller in real use
    const realAnswers: VerifyCodeResult[] = [];
    const decoyAnswers: VerifyCodeResult[] = [];
    for (let i = 0; i < 6; i++) {
      realAnswers.push(await verifyCode(deps, { ...real, input: wrongFor(realCode) }));
      decoyAnswers.push(await verifyDecoy(deps, { ...decoy, input: i === 2 ? decoyCode : wrongFor(decoyCode) }));
    }
    expect(decoyAnswers).toEqual(realAnswers);
    expect(decoyAnswers.map((a) => (a.ok ? 'ok' : a.reason))).toEqual(['wrong', 'wrong', 'wrong', 'wrong', 'exhausted', 'exhausted']);

    const later = request();
    await issued(later);
    clock.advance(600);
    expect(await verifyDecoy(deps, { ...later, input: 'ABCD2345' })).toEqual({ ok: false, reason: 'expired_or_missing' });
  });

  it('after a failed delivery, voids the code and allows another channel at once (still counted per hour)', async () => {
    const accountId = await newAccount();
    const req = request({ subject: accountId, accountId, channel: 'sms' });
    const sms = await issued(req);
    await markDeliveryFailed(deps, sms.codeId);
    expect(await verifyCode(deps, { ...req, input: sms.code })).toEqual({ ok: false, reason: 'expired_or_missing' });
    const mail = await issued({ ...req, channel: 'email' });
    expect(await verifyCode(deps, { ...req, input: mail.code })).toMatchObject({ ok: true, channel: 'email' });
    const sends = await database.db.selectFrom('message_sends').select(['channel', 'failed_at']).where('limit_key', '=', `a:${accountId}:${req.purpose}`).orderBy('id').execute();
    expect(sends.map((s) => [s.channel, s.failed_at !== null])).toEqual([['sms', true], ['email', false]]);
  });

  it('parallel issues for one subject leave exactly one live code', async () => {
    const req = request();
    const answers = await Promise.all(Array.from({ length: 5 }, () => issueCode(deps, req)));
    expect(answers.filter((a) => a.issued)).toHaveLength(1);
    expect(answers.filter((a) => !a.issued).every((a) => !a.issued && a.reason === 'resend_too_soon')).toBe(true);
  });

  it('refuses malformed purposes and subjects (programming errors)', async () => {
    await expect(issueCode(deps, request({ purpose: 'Password Reset' }))).rejects.toThrow(TypeError);
    await expect(issueCode(deps, request({ subject: '' }))).rejects.toThrow(TypeError);
    await expect(verifyCode(deps, { purpose: 'mfa', subject: 'x'.repeat(201), input: 'ABCD2345' })).rejects.toThrow(TypeError);
  });

  it('purges dead codes and old sends', async () => {
    const { codeId } = await issued(request());
    clock.advance(600 + 86400 + 1);
    const purged = await purgeOneTimeCodes(deps);
    expect(purged.codes).toBeGreaterThanOrEqual(1);
    expect(purged.sends).toBeGreaterThanOrEqual(1);
    expect(await database.db.selectFrom('one_time_codes').select('id').where('id', '=', codeId).executeTakeFirst()).toBeUndefined();
  });
});
