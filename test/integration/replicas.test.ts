import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, pkce } from '../helpers/accounts.ts';
import { TEST_DATABASE_URL } from '../helpers/idp.ts';
import { freePort } from '../helpers/postgres-server.ts';
import { SmtpReceiver } from '../helpers/smtp.ts';

/**
 * Two IdP processes (`node src/main.ts`) on one PostgreSQL database, as behind a load balancer
 * (issue 11 item 6): a producer's sign-in starts on one replica and finishes on the other, every
 * request alternating — pages, the email code, the remembered device, tokens, refresh and logout.
 */
const schema = `t_replicas_${randomBytes(4).toString('hex')}`;
const smtp = new SmtpReceiver();
const procs: ChildProcess[] = [];
let replicas: string[] = [];
let issuer = '';
const PORTAL_URL = 'http://127.0.0.1:1';
const CLIENT_SECRET = 'replica-portal-secret-0123456789abcdefghijkl';

async function startReplica(port: number, portalPort: number): Promise<void> {
  const child = spawn(process.execPath, ['src/main.ts'], {
    env: {
      ...process.env, NODE_ENV: 'development', PORT: String(port), ISSUER: issuer, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema,
      COOKIE_KEYS: 'replica-cookie-key-0123456789abcdefghijklmnop', PORTAL_CLIENT_SECRET: CLIENT_SECRET, PORTAL_URL, PORTAL_PORT: String(portalPort),
      SMTP_URL: smtp.url, EXAMPLE_APP_ENABLED: 'false', MFA_FACTORS: 'email,sms', LOG_LEVEL: 'warn', DATA_DIR: mkdtempSync(`${tmpdir()}/pidp-replica-`),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`replica on ${port} did not start:\n${out}`)), 60_000);
    const poll = setInterval(() => {
      if (out.includes('Issuer (IdP)')) { clearInterval(poll); clearTimeout(timer); resolve(); }
    }, 100);
    child.on('exit', (code) => { clearInterval(poll); clearTimeout(timer); reject(new Error(`replica exited ${code}:\n${out}`)); });
  });
}

beforeAll(async () => {
  await smtp.start();
  const ports = [await freePort(), await freePort()];
  issuer = `http://127.0.0.1:${ports[0]}`;
  replicas = ports.map((p) => `http://127.0.0.1:${p}`);
  // One after the other (the first migrates and seeds; the second finds it done).
  await startReplica(ports[0], await freePort());
  await startReplica(ports[1], await freePort());
}, 120_000);

afterAll(async () => {
  for (const p of procs) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => new Promise((resolve) => (p.exitCode !== null ? resolve(null) : p.once('exit', resolve)))));
  await smtp.stop();
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
});

/** A browser's cookies (name → value, path), sent by path prefix whatever the replica's port (cookies ignore ports). */
class Browser {
  readonly cookies = new Map<string, { value: string; path: string }>();
  #turn = 0;
  /** Replica for the next request: they alternate. */
  next(): string {
    return replicas[this.#turn++ % replicas.length];
  }
  async fetch(pathAndQuery: string, init: RequestInit = {}): Promise<Response> {
    const base = this.next();
    const url = new URL(pathAndQuery, base);
    const cookie = [...this.cookies].filter(([, c]) => url.pathname.startsWith(c.path)).map(([n, c]) => `${n}=${c.value}`).join('; ');
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), ...(cookie ? { cookie } : {}), 'user-agent': 'replica-test' } });
    for (const set of res.headers.getSetCookie()) {
      const [pair, ...attrs] = set.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const pathAttr = attrs.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='));
      const expired = attrs.some((a) => /expires=thu, 01 jan 1970/i.test(a.trim())) || value === '';
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, { value, path: pathAttr ? pathAttr.slice(5) : '/' });
    }
    return res;
  }
  async post(path: string, form: Record<string, string>): Promise<Response> {
    return this.fetch(path, { method: 'POST', body: new URLSearchParams(form), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }
}

const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

/** Authorization request → login page, on alternating replicas. */
async function begin(b: Browser) {
  const { verifier, challenge } = pkce();
  const params = new URLSearchParams({
    client_id: 'producer-portal', redirect_uri: `${PORTAL_URL}/callback`, response_type: 'code', scope: 'openid profile email offline_access',
    state: 'st-replica', nonce: 'n-replica', code_challenge: challenge, code_challenge_method: 'S256',
  });
  const auth = await b.fetch(`/auth?${params}`);
  expect(auth.status).toBe(303);
  const uid = new URL(auth.headers.get('location')!, issuer).pathname.split('/')[2];
  const page = await b.fetch(`/interaction/${uid}`);
  expect(page.status).toBe(200);
  return { uid, verifier, html: await page.text() };
}

/** Follows redirects on the IdP (alternating replicas) to the client's redirect_uri; returns its code. */
async function followToCode(b: Browser, location: string): Promise<string> {
  let loc = location;
  for (let i = 0; i < 10; i++) {
    const u = new URL(loc, issuer);
    if (u.origin === PORTAL_URL) return u.searchParams.get('code')!;
    const res = await b.fetch(u.pathname + u.search);
    expect([302, 303]).toContain(res.status);
    loc = res.headers.get('location')!;
  }
  throw new Error('redirect loop');
}

async function token(form: Record<string, string>): Promise<Response> {
  return fetch(new URL('/token', replicas[Math.floor(Math.random() * 2)]), {
    method: 'POST',
    body: new URLSearchParams(form),
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`producer-portal:${CLIENT_SECRET}`).toString('base64')}` },
  });
}

describe('two replicas on one database', () => {
  it('a registration and a sign-in that alternate between replicas complete; code, remembered device, tokens, refresh and logout work across them', async () => {
    // Registration (guide slides 3-5), alternating replicas.
    const reg = new Browser();
    const terms = await reg.fetch('/register');
    const termsHtml = await terms.text();
    const version = /name="version" value="([^"]+)"/.exec(termsHtml)![1];
    expect((await reg.post('/register/terms', { _csrf: csrfOf(termsHtml), decision: 'accept', version })).status).toBe(303);
    const step1 = await (await reg.fetch('/register/producer')).text();
    expect((await reg.post('/register/producer', { _csrf: csrfOf(step1), producerNumber: '104203', npn: '19000003', zip: '60614' })).status).toBe(303);
    const step2 = await (await reg.fetch('/register/login')).text();
    expect((await reg.post('/register/login', { _csrf: csrfOf(step2), username: 'ReplicaMorgan', password: GOOD_PASSWORD })).status).toBe(303);
    const confirm = await smtp.waitFor('morgan.talbot@example.com', /Confirm/);
    const link = new URL(/https?:\/\/[^\s"<>]+verify-email\?token=[A-Za-z0-9_-]+/.exec(confirm.text)![0]);
    const confirmPage = await reg.fetch(link.pathname + link.search);
    expect(confirmPage.status).toBe(200);
    const confirmHtml = await confirmPage.text();
    // (a link that shows a button first is confirmed by its POST)
    if (/<form[^>]+method="post"/i.test(confirmHtml) && !/confirmed/i.test(confirmHtml)) {
      const action = /<form[^>]+action="([^"]+)"/i.exec(confirmHtml)?.[1] ?? link.pathname;
      const token = /name="token" value="([^"]+)"/.exec(confirmHtml)?.[1] ?? link.searchParams.get('token')!;
      expect((await reg.post(action, { _csrf: csrfOf(confirmHtml), token })).status).toBeLessThan(400);
    }

    // Sign-in with the email code and "Remember this device".
    const b = new Browser();
    const first = await begin(b);
    const afterPassword = await b.post(`/interaction/${first.uid}/login`, { _csrf: csrfOf(first.html), username: 'ReplicaMorgan', password: GOOD_PASSWORD });
    expect(afterPassword.status).toBe(303); // GET-after-POST: the next sub-step is the interaction's page, read on the other replica
    expect(afterPassword.headers.get('location')).toBe(`/interaction/${first.uid}`);
    const verifyHtml = await (await b.fetch(`/interaction/${first.uid}`)).text();
    expect(verifyHtml).toContain('Verify your Account');
    const before = smtp.to('morgan.talbot@example.com').length;
    const chosen = await b.post(`/interaction/${first.uid}/login`, { _csrf: csrfOf(verifyHtml), action: 'choose', factor: 'email' });
    expect(chosen.status).toBe(303);
    const chosenHtml = await (await b.fetch(`/interaction/${first.uid}`)).text();
    expect(chosenHtml).toContain('We sent a verification code');
    for (let i = 0; i < 100 && smtp.to('morgan.talbot@example.com').length <= before; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    const code = /\b([A-HJ-NP-Z2-9]{8})\b/.exec(smtp.to('morgan.talbot@example.com').at(-1)!.text)![1];
    const verified = await b.post(`/interaction/${first.uid}/login`, { _csrf: csrfOf(chosenHtml), action: 'verify', code, remember: 'yes' });
    expect(verified.status).toBe(303);
    const authCode = await followToCode(b, verified.headers.get('location')!);
    const tokens = await token({ grant_type: 'authorization_code', code: authCode, redirect_uri: `${PORTAL_URL}/callback`, code_verifier: first.verifier });
    expect(tokens.status).toBe(200);
    const set = (await tokens.json()) as { refresh_token: string; id_token: string; access_token: string };
    for (const r of replicas) {
      const me = await fetch(new URL('/me', r), { headers: { authorization: `Bearer ${set.access_token}` } });
      expect(me.status).toBe(200);
    }
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: set.refresh_token });
    expect(refreshed.status).toBe(200);

    // SSO: a second authorization request on the same browser needs no password.
    const { challenge } = pkce();
    const ssoParams = new URLSearchParams({ client_id: 'producer-portal', redirect_uri: `${PORTAL_URL}/callback`, response_type: 'code', scope: 'openid', state: 's2', nonce: 'n2', code_challenge: challenge, code_challenge_method: 'S256' });
    const sso = await b.fetch(`/auth?${ssoParams}`);
    expect(sso.status).toBe(303);
    expect(await followToCode(b, sso.headers.get('location')!)).toBeTruthy(); // back at the client, no login page
    // Logout (RP-initiated), then the remembered device skips Verify your Account on the other replica.
    const logoutPage = await b.fetch(`/session/end?id_token_hint=${set.id_token}&post_logout_redirect_uri=${encodeURIComponent(`${PORTAL_URL}/logged-out`)}`);
    expect(logoutPage.status).toBe(200);
    const logoutHtml = await logoutPage.text();
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(logoutHtml)![1];
    const loggedOut = await b.post('/session/end/confirm', { xsrf, logout: 'yes' });
    expect(loggedOut.status).toBe(303);
    expect(loggedOut.headers.get('location')).toContain(`${PORTAL_URL}/logged-out`);
    const again = await begin(b);
    const direct = await b.post(`/interaction/${again.uid}/login`, { _csrf: csrfOf(again.html), username: 'ReplicaMorgan', password: GOOD_PASSWORD });
    expect(direct.status).toBe(303); // remembered device: no Verify your Account
    expect(direct.headers.get('location')).not.toContain('/interaction/');
    expect(await followToCode(b, direct.headers.get('location')!)).toBeTruthy();
  }, 120_000);
});
