import pg from 'pg';
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeExpired } from '../../src/operator/purge.ts';
import { beginSignIn, createAccount, submitLogin } from '../helpers/accounts.ts';
import { cliHarness } from '../helpers/cli.ts';
import { startIdp, TEST_DATABASE_URL, type TestIdp } from '../helpers/idp.ts';

/** Clean-up of expired rows (issue 11 item 5): the job, its lock, and `db purge`. */
let idp: TestIdp;
const { cli: run } = cliHarness('purge');
const DAY = 86_400_000;

beforeAll(async () => {
  idp = await startIdp();
  await createAccount(idp, { producerNumber: '000104201', username: 'PurgeAvery1' });
});
afterAll(async () => {
  await idp?.stop();
});

const count = async (table: 'flows' | 'oidc_payloads' | 'audit_events' | 'one_time_codes') =>
  Number((await idp.services.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);

describe('purge of expired rows', () => {
  it('anonymous page views create no rows that only a purge would remove', async () => {
    const before = { flows: await count('flows'), audit: await count('audit_events') };
    for (const path of ['/register', '/forgot-username', '/forgot-password', '/', '/healthz']) {
      expect((await request(idp.server).get(path)).status).toBeLessThan(400);
    }
    expect(await count('flows')).toBe(before.flows);
    const limits = await sql<{ key: string }>`select key from rate_limits`.execute(idp.services.db);
    expect(limits.rows.map((r) => r.key)).toEqual([]);
  });

  it('removes only what has expired, and audit events past AUDIT_RETENTION_DAYS', async () => {
    // Rows a sign-in leaves: an interaction, a one-time code, a rate-limit key; a registration flow.
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent);
    await submitLogin(agent, uid, 'PurgeAvery1', 'Wrong-password-1!');
    const terms = await agent.get('/register');
    const version = /name="version" value="([^"]+)"/.exec(terms.text)![1];
    await agent.post('/register/terms').type('form').send({ _csrf: /name="_csrf" value="([^"]+)"/.exec(terms.text)![1], decision: 'accept', version });
    const now = new Date();
    await idp.services.db.insertInto('audit_events').values([
      { at: new Date(now.getTime() - 401 * DAY), type: 'login.success', account_id: null, client_id: null, ip: null, user_agent: null, details: '{}', request_id: null },
      { at: new Date(now.getTime() - 399 * DAY), type: 'login.success', account_id: null, client_id: null, ip: null, user_agent: null, details: '{}', request_id: null },
    ]).execute();
    const flows = await count('flows');
    const payloads = await count('oidc_payloads');
    const audits = await count('audit_events');
    expect(flows).toBeGreaterThan(0);

    // Now: nothing that is still valid goes; the 401-day-old audit event does.
    const first = await purgeExpired(idp.services.db, now, 400);
    expect(first).not.toBeNull();
    expect(first!.flows).toBe(0);
    expect(first!.audit_events).toBe(1);
    expect(await count('flows')).toBe(flows);
    expect(await count('oidc_payloads')).toBe(payloads);
    expect(await count('audit_events')).toBe(audits - 1);

    // A month later: the flow, the interaction, the code and the rate-limit keys have expired.
    const later = await purgeExpired(idp.services.db, new Date(now.getTime() + 30 * DAY), 400);
    expect(later!.flows).toBe(flows);
    expect(later!.oidc_payloads).toBeGreaterThan(0);
    expect(later!.rate_limits).toBeGreaterThan(0);
    expect(later!.audit_events).toBe(1); // the 399-day-old one is now past 400 days
    expect(await count('flows')).toBe(0);
    const clients = await idp.services.db.selectFrom('oidc_payloads').select('id').where('model', '=', 'Client').execute();
    expect(clients.length).toBeGreaterThan(0); // registrations never expire
  });

  it('removes the fake lock of an unknown username once its lock has ended (and LOCKOUT_SECONDS passed), and a count below the lock only after 30 idle days', async () => {
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent);
    const t0 = idp.clock.now();
    for (let i = 0; i < idp.config.LOCKOUT_THRESHOLD; i++) await submitLogin(agent, uid, 'NoSuchPurgeLocked', 'Wrong-password-1!');
    await submitLogin(agent, uid, 'NoSuchPurgeOnce', 'Wrong-password-1!');
    const rows = async () => (await idp.services.db.selectFrom('unknown_login_locks').select(['failed_login_count', 'locked_until']).execute()).length;
    expect(await rows()).toBe(2);
    const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
    const lock = idp.config.LOCKOUT_SECONDS;
    // While the lock holds: both stay (a real account keeps its count and its lock too).
    expect((await purgeExpired(idp.services.db, at(lock - 60), 400, lock))!.unknown_login_locks).toBe(0);
    // Lock ended and LOCKOUT_SECONDS without an attempt: the locked one goes (a real account would
    // start counting from 1 again); the count below the lock stays, as a real account's would.
    expect((await purgeExpired(idp.services.db, at(2 * lock + 60), 400, lock))!.unknown_login_locks).toBe(1);
    expect(await rows()).toBe(1);
    // 30 days without an attempt: the count below the lock goes too (bounded growth).
    expect((await purgeExpired(idp.services.db, at(30 * 86400 + 60), 400, lock))!.unknown_login_locks).toBe(1);
    expect(await rows()).toBe(0);
  });

  it('runs on one replica at a time (advisory lock), and `db purge` prints the counts or says a purge is running', async () => {
    const ok = await run(['db', 'purge'], { DATABASE_SCHEMA: idp.config.DATABASE_SCHEMA });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^flows:\s+\d+$/m);
    expect(ok.stdout).toMatch(/^audit_events:\s+\d+$/m);
    expect(ok.stdout).toMatch(/^total:\s+\d+$/m);
    const holder = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock(7401221901)');
      expect(await purgeExpired(idp.services.db, new Date(), 400)).toBeNull();
      const busy = await run(['db', 'purge'], { DATABASE_SCHEMA: idp.config.DATABASE_SCHEMA });
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain('another purge is running');
    } finally {
      await holder.end();
    }
    expect(await purgeExpired(idp.services.db, new Date(), 400)).not.toBeNull();
  });
});
