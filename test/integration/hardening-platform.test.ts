/**
 * Issue 9 (hardening), items 3, 5, 11, 12, 13, 14, 16: each `describe` is named after the kind of
 * fault and asserts what a client, a person or an operator can observe. Real PostgreSQL, real SMTP
 * receiver, openid-client as the relying party, the real CLI for `producers import`.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Writable } from 'node:stream';
import * as oidc from 'openid-client';
import pg from 'pg';
import pino from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdp } from '../../src/app.ts';
import { buildServices } from '../../src/bootstrap.ts';
import { loadConfig } from '../../src/config/index.ts';
import { changeAccountStatus as setAccountStatus } from '../../src/oidc/revocation.ts';
import { upsertProducers } from '../../src/db/repositories/producers.ts';
import { InvalidClientError, registerClient, type ClientRegistration } from '../../src/oidc/clients.ts';
import { dropSchema } from '../../src/db/database.ts';
import { beginSignIn, createAccount, csrf, GOOD_PASSWORD, portalRedirect, signIn, submitLogin } from '../helpers/accounts.ts';
import { cliHarness } from '../helpers/cli.ts';
import { startIdp, TEST_DATABASE_URL, type TestIdp } from '../helpers/idp.ts';

let idp: TestIdp;
beforeAll(async () => {
  idp = await startIdp({ LOCKOUT_THRESHOLD: 4, LOCKOUT_SECONDS: 600 });
});
afterAll(async () => {
  await idp?.stop();
});

/** Adds an active producer record (fictitious) so that a test can create its own account. */
async function addProducer(target: TestIdp, producerNumber: string, email: string): Promise<void> {
  await upsertProducers(target.services.db, [{
    producerNumber, npn: String(Number(producerNumber) + 19000000), firstName: 'Test', lastName: 'Producer', agencyName: null,
    email, mobilePhone: null, businessZip: '60601', bapZip: null, parentProducerNumber: null, status: 'active',
  }]);
}

/** Signs `username` in through the portal client with openid-client; returns the RP config and tokens. */
async function tokensFor(username: string) {
  const config = await oidc.discovery(new URL(idp.url), idp.config.PORTAL_CLIENT_ID, undefined, oidc.ClientSecretBasic(idp.config.PORTAL_CLIENT_SECRET), { execute: [oidc.allowInsecureRequests] });
  const agent = request.agent(idp.server);
  const nonce = oidc.randomNonce();
  const { uid, verifier, state } = await beginSignIn(idp, agent, { nonce });
  const done = await signIn(idp, agent, uid, username);
  expect(done.status).toBe(303);
  let location = done.headers.location as string;
  for (let i = 0; i < 10 && new URL(location, idp.url).origin === idp.url; i++) {
    const u = new URL(location, idp.url);
    location = (await agent.get(u.pathname + u.search)).headers.location;
  }
  const tokens = await oidc.authorizationCodeGrant(config, new URL(location), { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  expect(tokens.refresh_token).toBeTruthy();
  return { config, tokens, sub: tokens.claims()!.sub };
}

/** What the IdP answers a relying party for these tokens: the refresh grant and /me, old and new token. */
async function rpView(config: oidc.Configuration, tokens: oidc.TokenEndpointResponse, sub: string) {
  const refresh = await oidc.refreshTokenGrant(config, tokens.refresh_token!).then(
    (t) => ({ ok: true as const, accessToken: t.access_token }),
    (e: { error?: string; code?: string }) => ({ ok: false as const, error: e.error ?? e.code }),
  );
  const me = await request(idp.server).get('/me').set('authorization', `Bearer ${tokens.access_token}`);
  // openid-client reports a 401 as a WWW-Authenticate challenge (RFC 6750 §3).
  const viaRp = await oidc.fetchUserInfo(config, tokens.access_token, sub).then(
    () => 'ok',
    (e: { error?: string; code?: string; cause?: { parameters?: { error?: string } }[] }) => e.cause?.[0]?.parameters?.error ?? e.error ?? e.code,
  );
  return { refresh, me: { status: me.status, wwwAuthenticate: String(me.headers['www-authenticate'] ?? '') }, viaRp };
}

describe('kind: account status is checked on every token use, and deactivation ends sessions (item 3)', () => {
  const cliRun = cliHarness('t_hp');

  it('a producer re-imported as inactive (producers import): refresh → invalid_grant, /me → 401 invalid_token, sessions gone', async () => {
    const accountId = await createAccount(idp, { producerNumber: '000104203', username: 'MorganStatus1' });
    const { config, tokens, sub } = await tokensFor('MorganStatus1');
    const before = await rpView(config, tokens, sub);
    expect(before.refresh.ok).toBe(true);
    expect(before.me.status).toBe(200);
    const newToken = before.refresh.ok ? before.refresh.accessToken : '';
    expect((await idp.services.db.selectFrom('oidc_payloads').select('id').where('model', '=', 'Session').where((eb) => eb(eb.fn('jsonb_extract_path_text', ['payload', eb.val('accountId')]), '=', accountId)).execute()).length).toBe(1);

    const file = path.join(cliRun.tmp, 'inactive.csv');
    writeFileSync(file, 'producer_number,npn,first_name,last_name,agency_name,email,mobile_phone,business_zip,bap_zip,parent_producer_number,status\n' +
      '000104203,19000003,Morgan,Talbot,"Prairie & Pine Insurance, LLC",morgan.talbot@example.com,+1 312 555 0103,60614,60615,,inactive\n');
    const imported = await cliRun.cli(['producers', 'import', file], { DATABASE_SCHEMA: idp.config.DATABASE_SCHEMA });
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);

    const after = await rpView(config, tokens, sub);
    expect(after.refresh).toEqual({ ok: false, error: 'invalid_grant' });
    expect(after.me.status).toBe(401);
    expect(after.me.wwwAuthenticate).toContain('invalid_token');
    expect(after.viaRp).toBe('invalid_token');
    const meNew = await request(idp.server).get('/me').set('authorization', `Bearer ${newToken}`);
    expect(meNew.status).toBe(401);
    // Every session, grant and token of the account is gone from the store.
    const left = await idp.services.db.selectFrom('oidc_payloads').select('model').where('model', '!=', 'Client')
      .where((eb) => eb(eb.fn('jsonb_extract_path_text', ['payload', eb.val('accountId')]), '=', accountId)).execute();
    expect(left).toEqual([]);
  });

  it('a disabled account: refresh → invalid_grant, /me → 401 invalid_token; sessions, grants and tokens are deleted', async () => {
    const accountId = await createAccount(idp, { producerNumber: '000104202', username: 'JordanStatus1' });
    const { config, tokens, sub } = await tokensFor('JordanStatus1');
    expect((await rpView(config, tokens, sub)).me.status).toBe(200);
    // Status alone (without revocation) already refuses: findAccount checks it.
    await idp.services.db.updateTable('accounts').set({ status: 'disabled' }).where('id', '=', accountId).execute();
    const refused = await rpView(config, tokens, sub);
    expect(refused.refresh).toEqual({ ok: false, error: 'invalid_grant' });
    expect(refused.me.status).toBe(401);
    expect(refused.me.wwwAuthenticate).toContain('invalid_token');
    // Disabling through the repository also ends the sessions, grants and tokens.
    expect((await idp.services.db.selectFrom('oidc_payloads').select('model').where('model', '=', 'RefreshToken')
      .where((eb) => eb(eb.fn('jsonb_extract_path_text', ['payload', eb.val('accountId')]), '=', accountId)).execute()).length).toBeGreaterThan(0);
    await setAccountStatus(idp.services.db, accountId, 'disabled');
    const left = await idp.services.db.selectFrom('oidc_payloads').select('model').where('model', '!=', 'Client')
      .where((eb) => eb(eb.fn('jsonb_extract_path_text', ['payload', eb.val('accountId')]), '=', accountId)).execute();
    expect(left).toEqual([]);
  });

  it('an account whose email is no longer confirmed: refresh → invalid_grant', async () => {
    const accountId = await createAccount(idp, { producerNumber: '000104205', username: 'CaseyStatus1' });
    const { config, tokens, sub } = await tokensFor('CaseyStatus1');
    await idp.services.db.updateTable('accounts').set({ email_verified_at: null }).where('id', '=', accountId).execute();
    const refused = await rpView(config, tokens, sub);
    expect(refused.refresh).toEqual({ ok: false, error: 'invalid_grant' });
    expect(refused.me.status).toBe(401);
  });
});

describe('kind: messages show the configured thresholds and durations (item 5)', () => {
  it('the login page and the lock message say LOCKOUT_THRESHOLD attempts / LOCKOUT_SECONDS as configured', async () => {
    const agent = request.agent(idp.server);
    const { uid, page } = await beginSignIn(idp, agent);
    expect(page.text).toContain('4 failed attempts lock an account for 10 minutes.');
    expect(page.text).not.toContain('5 failed attempts');
    await createAccount(idp, { producerNumber: '000104201', username: 'AveryLock01' });
    let last = page;
    for (let i = 0; i < 4; i++) last = await submitLogin(agent, uid, 'AveryLock01', 'Wrong-Pass1x');
    expect(last.status).toBe(401);
    expect(last.text).toContain('This account is locked. 4 failed attempts lock an account for 10 minutes.');
  });
});

describe('kind: URLs derive from ISSUER, never from the request (item 13)', () => {
  const forged = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };

  /** Every string in discovery that is a URL. */
  function urlsIn(doc: Record<string, unknown>): string[] {
    return Object.values(doc).filter((v): v is string => typeof v === 'string' && /^[a-z]+:\/\//i.test(v));
  }

  for (const trustProxy of [false, true]) {
    it(`discovery under a forged Host / X-Forwarded-Host / -Proto publishes only issuer URLs (TRUST_PROXY=${trustProxy})`, async () => {
      const target = trustProxy ? await startIdp({ TRUST_PROXY: true }) : idp;
      try {
        const d = await request(target.server).get('/.well-known/openid-configuration').set(forged);
        expect(d.status).toBe(200);
        const urls = urlsIn(d.body);
        expect(urls.length).toBeGreaterThanOrEqual(7);
        for (const u of urls) expect(u.startsWith(`${target.url}/`) || u === target.url, u).toBe(true);
        for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'end_session_endpoint', 'userinfo_endpoint', 'revocation_endpoint']) {
          expect(d.body[key], key).toMatch(new RegExp(`^${target.url.replace(/[.]/g, '\\.')}/`));
        }
        expect(JSON.stringify(d.body)).not.toContain('evil.example');
      } finally {
        if (target !== idp) await target.stop();
      }
    });
  }

  it('every Location header and form action of a sign-in and a logout under a forged Host points at the issuer or the client', async () => {
    await addProducer(idp, '000104291', 'host.check@example.com');
    await createAccount(idp, { producerNumber: '000104291', username: 'AveryHost01' });
    const agent = request.agent(idp.server);
    agent.set(forged);
    const seen: string[] = [];
    const { uid, page } = await beginSignIn(idp, agent);
    expect(page.text).not.toContain('evil.example');
    const done = await signIn(idp, agent, uid, 'AveryHost01');
    expect(done.status).toBe(303);
    let location = done.headers.location as string;
    let code: string | null = null;
    for (let i = 0; i < 10; i++) {
      seen.push(location);
      const u = new URL(location, idp.url);
      if (u.origin !== idp.url) {
        code = u.searchParams.get('code');
        break;
      }
      const res = await agent.get(u.pathname + u.search);
      location = res.headers.location;
    }
    expect(code).toBeTruthy();
    for (const l of seen) {
      expect(l.startsWith('/') && !l.startsWith('//') || l.startsWith(`${idp.url}/`) || l.startsWith(portalRedirect(idp)), l).toBe(true);
    }
    expect(seen.join(' ')).not.toContain('evil.example');
    // RP-initiated logout: the confirmation form posts to the issuer.
    const logout = await agent.get('/session/end').query({ client_id: idp.config.PORTAL_CLIENT_ID });
    expect(logout.status).toBe(200);
    expect(logout.text).not.toContain('evil.example');
    expect(logout.text).toContain(`${idp.url}/session/end/confirm`);
    // An absolute-form request target (`GET http://evil.example/… HTTP/1.1`) does not leak either.
    const port = new URL(idp.url).port;
    const abs = await new Promise<string>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: 'http://evil.example/.well-known/openid-configuration', headers: { host: 'evil.example' } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve(body));
      }).on('error', reject);
    });
    expect(JSON.parse(abs).token_endpoint).toBe(`${idp.url}/token`);
    expect(abs).not.toContain('evil.example');
  });
});

describe('kind: client address from a bounded number of trusted proxy hops (item 12)', () => {
  let proxied: TestIdp;
  beforeAll(async () => {
    proxied = await startIdp({ TRUST_PROXY: true, RATE_LIMIT_LOGIN_POINTS: 3 });
    await createAccount(proxied, { producerNumber: '000104201', username: 'AveryHops01' });
  });
  afterAll(async () => {
    await proxied?.stop();
  });

  it('a rotating left-most X-Forwarded-For does not escape the per-address limit, and the audit shows the proxy-seen address', async () => {
    const agent = request.agent(proxied.server);
    const { uid, page } = await beginSignIn(proxied, agent);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await agent.post(`/interaction/${uid}/login`).set('x-forwarded-for', `10.9.${i}.${i + 1}, 203.0.113.7`).type('form')
        .send({ _csrf: csrf(page.text), username: 'AveryHops01', password: 'Wrong-Pass1x' });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    const rows = await proxied.services.db.selectFrom('audit_events').select(['type', 'ip']).where('type', 'in', ['login.failure', 'rate_limited']).execute();
    expect(rows.length).toBeGreaterThanOrEqual(5);
    expect(new Set(rows.map((r) => r.ip))).toEqual(new Set(['203.0.113.7']));
  });

  it('TRUST_PROXY_HOPS=2 takes the second entry from the right (two proxies)', async () => {
    const two = await startIdp({ TRUST_PROXY: true, TRUST_PROXY_HOPS: 2 });
    try {
      const agent = request.agent(two.server);
      const { uid, page } = await beginSignIn(two, agent);
      await agent.post(`/interaction/${uid}/login`).set('x-forwarded-for', '10.0.0.1, 198.51.100.23, 172.16.0.9').type('form')
        .send({ _csrf: csrf(page.text), username: 'NobodyHere1', password: 'Wrong-Pass1x' });
      const rows = await two.services.db.selectFrom('audit_events').select('ip').where('type', '=', 'login.failure').execute();
      expect(rows.map((r) => r.ip)).toEqual(['198.51.100.23']);
    } finally {
      await two.stop();
    }
  });
});

describe('kind: what a person types is never stored in clear in the rate-limit table (item 16)', () => {
  it('after failed sign-ins with a typed username (a password typed into Username), no rate_limits row contains it', async () => {
    const typed = `Pw${randomBytes(6).toString('hex')}Secret`;
    const agent = request.agent(idp.server);
    const { uid, page } = await beginSignIn(idp, agent);
    for (let i = 0; i < 3; i++) {
      const res = await agent.post(`/interaction/${uid}/login`).type('form').send({ _csrf: csrf(page.text), username: typed, password: GOOD_PASSWORD });
      expect(res.status).toBe(401);
    }
    const rows = await idp.services.db.selectFrom('rate_limits' as never).selectAll().execute() as Record<string, unknown>[];
    expect(rows.length).toBeGreaterThan(0);
    const dump = JSON.stringify(rows).toLowerCase();
    expect(dump).not.toContain(typed.toLowerCase());
    expect(dump).not.toContain('127.0.0.1');
  });
});

describe('kind: production behind a TLS-terminating proxy without TRUST_PROXY answers clearly (item 11)', () => {
  const production = {
    NODE_ENV: 'production',
    ISSUER: 'https://idp.example.test',
    PORTAL_URL: 'https://portal.example.test',
    SMS_WEBHOOK_URL: 'https://sms.example.test/hook',
    SMS_WEBHOOK_SECRET: 'sms-webhook-secret-0123456789abcdefghij',
    SIGNING_KEYS_ENCRYPTION_KEY: 'signing-keys-secret-0123456789abcdefghij',
  };

  it('without TRUST_PROXY: every page is an HTML 503 naming TRUST_PROXY, a log line says it, /health turns 503', async () => {
    const prod = await startIdp(production);
    const lines: string[] = [];
    prod.services.logger = pino({ level: 'info' }, new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } }));
    try {
      const healthBefore = await request(prod.server).get('/health');
      expect(healthBefore.status).toBe(200);
      const page = await request(prod.server).get('/forgot-username').set('accept', 'text/html').set('x-forwarded-proto', 'https');
      expect(page.status).toBe(503);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      expect(page.text).toContain('TRUST_PROXY');
      const token = await request(prod.server).post('/token').set('accept', 'application/json').set('x-forwarded-proto', 'https').type('form').send({ grant_type: 'refresh_token', refresh_token: 'x' });
      expect(token.status).toBe(503);
      expect(token.body.error).toBe('server_error');
      expect(token.body.error_description).toContain('TRUST_PROXY');
      const health = await request(prod.server).get('/health');
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({ status: 'misconfigured', setting: 'TRUST_PROXY' });
      expect(health.body.problem).toContain('TRUST_PROXY');
      expect(lines.some((l) => l.includes('TRUST_PROXY') && l.includes('"level":50'))).toBe(true);
    } finally {
      await prod.stop();
    }
  });

  it('with TRUST_PROXY=true and X-Forwarded-Proto: https: pages work, cookies are Secure, /health stays 200', async () => {
    const prod = await startIdp({ ...production, TRUST_PROXY: true });
    try {
      const page = await request(prod.server).get('/forgot-username').set('x-forwarded-proto', 'https').set('x-forwarded-for', '198.51.100.4');
      expect(page.status).toBe(200);
      expect(String(page.headers['set-cookie'] ?? '')).toMatch(/secure/i);
      expect((await request(prod.server).get('/health')).status).toBe(200);
      // A request that reached the IdP over plain http (the proxy did not set X-Forwarded-Proto) is named too.
      const plain = await request(prod.server).get('/forgot-username').set('accept', 'text/html');
      expect(plain.status).toBe(503);
      expect(plain.text).toContain('X-Forwarded-Proto');
      expect((await request(prod.server).get('/health')).status).toBe(503);
    } finally {
      await prod.stop();
    }
  });
});

describe('kind: creating signing keys is safe under concurrency (item 14)', () => {
  it('two IdPs starting together on one fresh schema publish the same /jwks, one key per algorithm', async () => {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const config = () => loadConfig({}, {
      NODE_ENV: 'test', DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, ISSUER: 'http://127.0.0.1:9',
      SMTP_URL: 'smtp://127.0.0.1:9', COOKIE_KEYS: 'test-cookie-key-0123456789abcdefghijklmnop',
      PORTAL_CLIENT_SECRET: 'portal-secret-0123456789abcdefghijklmnopqrstuvwxyz', SEED_DEMO: false, LOG_LEVEL: 'silent',
    });
    const start = async () => {
      const built = await buildServices(config());
      return { built, provider: await createIdp(built.services) };
    };
    // The database exists and is empty (as `public` is on a fresh PostgreSQL): create the schema only.
    const pgClient = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await pgClient.connect();
    await pgClient.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`).finally(() => pgClient.end());
    const replicas = await Promise.all([start(), start()]);
    try {
      const [a, b] = await Promise.all(replicas.map((r) => request(r.provider.callback()).get('/jwks')));
      expect(a.status).toBe(200);
      expect(a.body).toEqual(b.body);
      expect(a.body.keys.map((k: { alg: string }) => k.alg).sort()).toEqual(['ES256', 'RS256']);
      const stored = await replicas[0].built.services.db.selectFrom('signing_keys').select('alg').execute();
      expect(stored.map((r) => r.alg).sort()).toEqual(['ES256', 'RS256']);
    } finally {
      await dropSchema(replicas[0].built.database.db as never, schema);
      for (const r of replicas) await r.built.database.close();
    }
  });
});

describe('kind: client registration refuses URIs a careful authorization server refuses (item 15)', () => {
  it('registerClient (used by `clients add`) refuses userinfo, script schemes and non-canonical URIs, and stores nothing', async () => {
    const cases: [Partial<ClientRegistration>, RegExp][] = [
      [{ redirectUris: ['https://user:pass@app.example.com/cb'] }, /user information/],
      [{ redirectUris: ['https://app.example.com/cb'], postLogoutRedirectUris: ['javascript:alert(1)'] }, /javascript: scheme/],
      [{ redirectUris: ['https://APP.example.com/cb'] }, /canonical form/],
      [{ redirectUris: ['http://app.example.com/cb'] }, /http is allowed only/],
    ];
    for (const [reg, reason] of cases) {
      const attempt = registerClient(idp.services.db, idp.provider, { name: 'Refused App', clientId: 'refused-app', redirectUris: [], ...reg });
      await expect(attempt).rejects.toBeInstanceOf(InvalidClientError);
      await expect(attempt).rejects.toThrow(reason);
    }
    expect(await idp.services.db.selectFrom('oidc_payloads').select('id').where('model', '=', 'Client').where('id', '=', 'refused-app').execute()).toEqual([]);
  });
});
