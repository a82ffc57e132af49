import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beginSignIn, createAccount, csrf, GOOD_PASSWORD, submitLogin } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';

/** Issue 12's quick wins, as a browser, an operator or PostgreSQL sees them. */
let idp: TestIdp;
beforeAll(async () => {
  // One hash at a time and one waiting: the tests below fill the queue on purpose.
  idp = await startIdp({ ARGON2_MAX_CONCURRENT: 1, ARGON2_QUEUE_MAX: 1 });
});
afterAll(async () => {
  await idp?.stop();
});

describe('static files under /css/ and /js/ (issue 12)', () => {
  it('serves every stylesheet and script the pages link to, with an hour of caching and nosniff', async () => {
    const login = await beginSignIn(idp, request.agent(idp.server));
    expect(login.page.text).toContain('href="/css/idp.css"');
    for (const [file, type] of [['/css/idp.css', 'text/css'], ['/js/password-checklist.js', 'javascript'], ['/js/keystroke-recorder.js', 'javascript'], ['/js/verify-choice.js', 'javascript']] as const) {
      const res = await request(idp.server).get(file);
      expect(res.status, file).toBe(200);
      expect(res.headers['content-type']).toContain(type);
      expect(res.headers['cache-control']).toBe('max-age=3600');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('answers the not-found page for a missing file, and never serves public/ outside its prefixes', async () => {
    const missing = await request(idp.server).get('/css/missing.css');
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('The page you asked for does not exist.');
    const outside = await request(idp.server).get('/idp.css');
    expect(outside.status).toBe(404);
    const traversal = await request(idp.server).get('/css/../js/verify-choice.js');
    expect([200, 404]).toContain(traversal.status); // normalised by the client or refused; never a 500
  });
});

describe('oidc_payloads index (migration 0012)', () => {
  it('indexes (model, uid), the columns interaction and session lookups use, instead of uid alone', async () => {
    const rows = await sql<{ indexname: string; indexdef: string }>`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = ${idp.config.DATABASE_SCHEMA} AND tablename = 'oidc_payloads'`.execute(idp.services.db);
    const byName = new Map(rows.rows.map((r) => [r.indexname, r.indexdef]));
    expect(byName.get('oidc_payloads_model_uid')).toMatch(/\(model, uid\)/);
    expect(byName.has('oidc_payloads_uid')).toBe(false);
  });
});

describe('SQL statement counter (producer_idp_db_queries_total)', () => {
  it('counts every statement sent to the database', async () => {
    const before = (await idp.services.metrics.dbQueries.get()).values[0]?.value ?? 0;
    await idp.services.db.selectFrom('terms').select('version').execute();
    await idp.services.db.selectFrom('accounts').select('id').execute();
    const after = (await idp.services.metrics.dbQueries.get()).values[0]?.value ?? 0;
    expect(after - before).toBe(2);
    expect((await idp.services.metrics.exposition()).body).toContain('producer_idp_db_queries_total');
  });
});

describe('password hashing capped, with a bounded queue (issue 12)', () => {
  it('refuses a sign-in with 503 and Retry-After while the hash queue is full, counting nothing; the same sign-in passes once it drains', async () => {
    await createAccount(idp, { producerNumber: '000104201', username: 'AveryBusy01' });
    const agent = request.agent(idp.server);
    const { uid, page } = await beginSignIn(idp, agent);
    // Fill the queue: one hash running, the others waiting (ARGON2_QUEUE_MAX=1).
    const pending = Array.from({ length: 12 }, () => idp.services.hasher.hash('Filler!pass9'));
    expect(idp.services.hasher.saturated).toBe(true);
    const busy = await agent.post(`/interaction/${uid}/login`).type('form').send({ _csrf: csrf(page.text), username: 'AveryBusy01', password: GOOD_PASSWORD });
    expect(busy.status).toBe(503);
    expect(busy.headers['retry-after']).toBe('2');
    expect(busy.text).toContain('Many people are signing in right now');
    const account = await idp.services.db.selectFrom('accounts').select('failed_login_count').where('username_normalized', '=', 'averybusy01').executeTakeFirstOrThrow();
    expect(account.failed_login_count).toBe(0);
    const events = await idp.services.db.selectFrom('audit_events').select('type').where('type', 'like', 'login.%').execute();
    expect(events).toEqual([]);

    await Promise.all(pending);
    expect(idp.services.hasher.saturated).toBe(false);
    const passed = await submitLogin(agent, uid, 'AveryBusy01', GOOD_PASSWORD);
    expect(passed.status).toBe(200);
    expect(passed.text).toContain('Verify your Account');
  });

  it('does not refuse pages that do not hash while the queue is full', async () => {
    const pending = Array.from({ length: 12 }, () => idp.services.hasher.hash('Filler!pass9'));
    expect(idp.services.hasher.saturated).toBe(true);
    const agent = request.agent(idp.server);
    const { page } = await beginSignIn(idp, agent);
    expect(page.status).toBe(200);
    const terms = await agent.get('/register');
    expect(terms.status).toBe(200);
    await Promise.all(pending);
  });
});
