import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beginSignIn, createAccount, csrf, GOOD_PASSWORD, portalRedirect, signIn } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';
import { PostgresServer } from '../helpers/postgres-server.ts';

/**
 * Database outages (issue 11 item 4), against a PostgreSQL server of the test's own that is stopped
 * mid-load and started again: 503 pages or `temporarily_unavailable`, never a 500 or "your sign-in
 * session expired"; the pool reconnects by itself; nothing answered as done is lost and no account
 * is half-written.
 */
let pg: PostgresServer;
let idp: TestIdp;
const PRODUCERS = 300;

beforeAll(async () => {
  pg = await PostgresServer.create();
  idp = await startIdp({ DATABASE_URL: pg.url, DATABASE_CONNECT_TIMEOUT_MS: 1000, RATE_LIMIT_REGISTER_POINTS: 10000, RATE_LIMIT_LOGIN_POINTS: 10000 });
  const now = new Date();
  await idp.services.db.insertInto('producer_records').values(Array.from({ length: PRODUCERS }, (_, i) => ({
    producer_number: String(900000000 + i),
    npn: String(29000000 + i),
    first_name: 'Outage',
    last_name: `Tester${i}`,
    agency_name: 'Outage Agency',
    email: `outage${i}@example.test`,
    mobile_phone: null,
    business_zip: '60601',
    bap_zip: null,
    parent_producer_number: null,
    status: 'active' as const,
    created_at: now,
    updated_at: now,
  }))).execute();
  await createAccount(idp, { producerNumber: '000104201', username: 'OutageAvery1' });
}, 120_000);

afterAll(async () => {
  try {
    pg?.start();
  } catch {
    // already running
  }
  await idp?.stop();
  pg?.destroy();
});

type Outcome = 'ok' | 'unavailable' | 'bad';
interface Seen { status: number; text: string; retryAfter?: string }

/** Classifies one answer: a 503 must be the "temporarily unavailable" page with Retry-After. */
function classify(res: { status: number; text: string; headers: Record<string, string> }, seen: Seen[]): Outcome | undefined {
  seen.push({ status: res.status, text: res.text.slice(0, 300), retryAfter: res.headers['retry-after'] });
  if (res.status === 503) return /temporarily unavailable/i.test(res.text) && res.headers['retry-after'] ? 'unavailable' : 'bad';
  if (res.status >= 500 || /sign-in session expired/i.test(res.text)) return 'bad';
  return undefined;
}

let next = 0;
/** Registers the next producer through the pages (guide slides 3-5). */
async function register(seen: Seen[]): Promise<{ outcome: Outcome; username?: string }> {
  const i = next++;
  if (i >= PRODUCERS) throw new Error('out of producers');
  const agent = request.agent(idp.server);
  const username = `OutageUser${i}`;
  const terms = await agent.get('/register');
  let c = classify(terms, seen);
  if (c) return { outcome: c };
  const version = /name="version" value="([^"]+)"/.exec(terms.text)?.[1] ?? '';
  const accepted = await agent.post('/register/terms').type('form').send({ _csrf: csrf(terms.text), decision: 'accept', version });
  if ((c = classify(accepted, seen))) return { outcome: c };
  const step1 = await agent.get('/register/producer');
  if ((c = classify(step1, seen))) return { outcome: c };
  const r1 = await agent.post('/register/producer').type('form').send({ _csrf: csrf(step1.text), producerNumber: String(900000000 + i), npn: String(29000000 + i), zip: '60601' });
  if ((c = classify(r1, seen))) return { outcome: c };
  const step2 = await agent.get('/register/login');
  if ((c = classify(step2, seen))) return { outcome: c };
  const r2 = await agent.post('/register/login').type('form').send({ _csrf: csrf(step2.text), username, password: GOOD_PASSWORD });
  if ((c = classify(r2, seen))) return { outcome: c };
  if (r2.status === 303 && r2.headers.location === '/register/verify-email') return { outcome: 'ok', username };
  seen.push({ status: r2.status, text: `unexpected: ${r2.text.slice(0, 300)}` });
  return { outcome: 'bad' };
}

/** Signs OutageAvery1 in (password + email code): ok when the client gets its code. */
async function signInOnce(seen: Seen[]): Promise<Outcome> {
  const agent = request.agent(idp.server);
  let started;
  try {
    started = await beginSignIn(idp, agent);
  } catch (err) {
    const text = String(err);
    // The outage began inside /auth: a 503 page, or — once the client is known — the OAuth error
    // redirect to the client (RFC 6749 §4.1.2.1), which is as good an answer.
    if (/503/.test(text) && /temporarily unavailable/i.test(text)) return 'unavailable';
    if (/ 303 \S*[?&]error=temporarily_unavailable/.test(text)) return 'unavailable';
    seen.push({ status: 0, text: `unexpected: ${text.slice(0, 300)}` });
    return 'bad';
  }
  const res = await signIn(idp, agent, started.uid, 'OutageAvery1').catch((err: Error) => ({ status: 0, text: String(err), headers: {} as Record<string, string> }));
  const c = classify(res as never, seen);
  if (c) return c;
  if (res.status === 303) return 'ok';
  // A failed step in the middle (the code mail of a sign-in whose page answered 503) is not a fault.
  if (res.status === 0 && /temporarily unavailable|choosing email failed: 503/i.test(res.text)) return 'unavailable';
  // The test's own look-up of the code's mail address (signIn reads the database) met the outage.
  if (res.status === 0 && /ECONNREFUSED|Connection terminated|terminating connection|database system is (shutting down|starting up)/i.test(res.text)) return 'unavailable';
  seen.push({ status: res.status, text: `unexpected: ${res.text.slice(0, 300)}` });
  return 'bad';
}

describe('database outage', () => {
  it('answers 503 while PostgreSQL is down, recovers by itself when it is back, and loses nothing', async () => {
    const seen: Seen[] = [];
    const registered: string[] = [];
    const outcomes: { what: string; outcome: Outcome; phase: string }[] = [];
    let phase = 'before';
    let running = true;

    // Load: two registration workers and one sign-in worker, until told to stop.
    const worker = async (what: 'register' | 'sign-in') => {
      while (running && next < PRODUCERS - 2) {
        const p = phase;
        if (what === 'register') {
          const r = await register(seen);
          if (r.outcome === 'ok') registered.push(r.username!);
          outcomes.push({ what, outcome: r.outcome, phase: p });
        } else {
          outcomes.push({ what, outcome: await signInOnce(seen), phase: p });
        }
        // While the database is down, try again a little later (as a person would).
        if (outcomes.at(-1)?.outcome === 'unavailable') await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    const workers = [worker('register'), worker('register'), worker('sign-in')];

    // Wait (no fixed sleep: the machine may be slow) for both kinds of work to succeed once.
    const until = async (done: () => boolean, ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end && !done()) await new Promise((resolve) => setTimeout(resolve, 100));
    };
    const succeeded = (what: string, p: string) => outcomes.some((o) => o.what === what && o.phase === p && o.outcome === 'ok');
    await until(() => succeeded('register', 'before') && succeeded('sign-in', 'before'), 60_000);
    phase = 'down';
    pg.stop();
    await until(() => outcomes.filter((o) => o.phase === 'down' && o.outcome === 'unavailable').length >= 3, 60_000);

    // While it is down: protocol endpoints answer temporarily_unavailable, pages a 503 page.
    const token = await request(idp.server).post('/token').type('form').send({ grant_type: 'refresh_token', refresh_token: 'x', client_id: 'producer-portal' });
    expect(token.status).toBe(503);
    expect(token.body.error).toBe('temporarily_unavailable');
    expect(token.headers['retry-after']).toBeTruthy();
    const auth = await request(idp.server).get('/auth?client_id=producer-portal&response_type=code&scope=openid&redirect_uri=x').set('accept', 'text/html');
    expect(auth.status).toBe(503);
    expect(auth.text).toMatch(/temporarily unavailable/i);
    expect(auth.text).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    // With a redirect_uri the client registered: the 503 page, or the error sent to the client
    // (RFC 6749 §4.1.2.1), never server_error.
    const params = new URLSearchParams({ client_id: idp.config.PORTAL_CLIENT_ID, redirect_uri: portalRedirect(idp), response_type: 'code', scope: 'openid', state: 's1', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
    const authRp = await request(idp.server).get(`/auth?${params}`).set('accept', 'text/html');
    if (authRp.status === 303) expect(new URL(authRp.headers.location).searchParams.get('error')).toBe('temporarily_unavailable');
    else expect([authRp.status, /temporarily unavailable/i.test(authRp.text)]).toEqual([503, true]);
    const ready = await request(idp.server).get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.checks.database.ok).toBe(false);
    expect((await request(idp.server).get('/healthz')).status).toBe(200);

    phase = 'after';
    pg.start();
    // Recovery: the pool reconnects by itself; wait until both kinds of work succeed again.
    await until(() => succeeded('register', 'after') && succeeded('sign-in', 'after'), 60_000);
    running = false;
    await Promise.all(workers);

    const bad = seen.filter((s) => s.status >= 500 && s.status !== 503 || /unexpected|sign-in session expired/i.test(s.text));
    expect(bad).toEqual([]);
    expect(outcomes.filter((o) => o.outcome === 'bad')).toEqual([]);
    expect(outcomes.some((o) => o.phase === 'before' && o.outcome === 'ok')).toBe(true);
    expect(outcomes.some((o) => o.outcome === 'unavailable')).toBe(true);
    const summary = outcomes.map((o) => `${o.what}/${o.phase}/${o.outcome}`).join(' ');
    expect(outcomes.some((o) => o.what === 'register' && o.phase === 'after' && o.outcome === 'ok'), summary).toBe(true);
    expect(outcomes.some((o) => o.what === 'sign-in' && o.phase === 'after' && o.outcome === 'ok')).toBe(true);
    expect((await request(idp.server).get('/readyz')).status).toBe(200);

    // Nothing lost: every registration answered as done has its account; no account is half-written.
    const rows = await idp.services.db.selectFrom('accounts as a')
      .leftJoin('password_history as h', 'h.account_id', 'a.id')
      .select(['a.username', 'a.password_hash', 'h.password_hash as history_hash'])
      .where('a.username', 'like', 'OutageUser%')
      .execute();
    const usernames = new Set(rows.map((r) => r.username));
    for (const u of registered) expect(usernames.has(u), `${u} was answered as registered`).toBe(true);
    for (const r of rows) expect(r.history_hash).toBe(r.password_hash);
  }, 240_000);
});

describe('start-up while PostgreSQL is unreachable', () => {
  const start = async (env: Record<string, string>, until: RegExp, timeoutMs: number, onOutput?: (out: string) => void) => {
    const { spawn } = await import('node:child_process');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { freePort } = await import('../helpers/postgres-server.ts');
    const child = spawn(process.execPath, ['src/main.ts'], {
      env: { ...process.env, NODE_ENV: 'development', PORT: String(await freePort()), PORTAL_ENABLED: 'false', EXAMPLE_APP_ENABLED: 'false', DATA_DIR: mkdtempSync(`${tmpdir()}/pidp-`), LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; onOutput?.(out); });
    child.stderr.on('data', (d) => { out += d; onOutput?.(out); });
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      child.on('exit', (c) => { clearTimeout(timer); resolve(c); });
      const poll = setInterval(() => { if (until.test(out)) { clearInterval(poll); clearTimeout(timer); resolve(null); } }, 100);
      child.on('exit', () => clearInterval(poll));
    });
    child.kill('SIGTERM');
    return { code, out };
  };

  it('gives up after DATABASE_STARTUP_WAIT_SECONDS with a clear message naming the server and the setting (exit 69, no stack trace)', async () => {
    const { freePort } = await import('../helpers/postgres-server.ts');
    const port = await freePort();
    const { code, out } = await start({ DATABASE_URL: `postgres://postgres:s3cret-pw@127.0.0.1:${port}/postgres`, DATABASE_STARTUP_WAIT_SECONDS: '1' }, /(?!)/, 20_000);
    expect(code).toBe(69);
    expect(out).toContain(`PostgreSQL at 127.0.0.1:${port} did not answer within 1 seconds`);
    expect(out).toContain('DATABASE_STARTUP_WAIT_SECONDS');
    expect(out).not.toContain('s3cret-pw');
    expect(out).not.toMatch(/\n\s+at /);
  }, 30_000);

  it('a database that answers but refuses (no such database) is a configuration error: one line naming DATABASE_URL, exit 78', async () => {
    const url = pg.url.replace(/\/postgres$/, '/no_such_database');
    const { code, out } = await start({ DATABASE_URL: url, DATABASE_STARTUP_WAIT_SECONDS: '0' }, /(?!)/, 20_000);
    expect(code).toBe(78);
    expect(out).toContain('refused the connection: database "no_such_database" does not exist. Check DATABASE_URL.');
    expect(out).not.toMatch(/\n\s+at /);
  }, 30_000);

  it('waits for a database that comes up during the wait, then starts', async () => {
    pg.stop();
    let started = false;
    // Bring the server back once the IdP says it is waiting for it.
    const { out } = await start({ DATABASE_URL: pg.url, DATABASE_SCHEMA: `t_wait_${process.pid}`, DATABASE_STARTUP_WAIT_SECONDS: '30' }, /Issuer \(IdP\)/, 40_000, (text) => {
      if (!started && /waiting for PostgreSQL/.test(text)) {
        started = true;
        setTimeout(() => pg.start(), 200);
      }
    });
    expect(out).toMatch(/waiting for PostgreSQL at 127\.0\.0\.1:\d+ \(attempt 1/);
    expect(out).toContain('Issuer (IdP)');
  }, 60_000);
});
