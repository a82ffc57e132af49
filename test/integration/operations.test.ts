import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/bootstrap.ts';
import { startMetricsServer } from '../../src/observability/metrics-server.ts';
import { beginSignIn, createAccount, followToClient, GOOD_PASSWORD, portalRedirect, signIn, submitLogin } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';

/** Every JSON line the IdP logs, kept for the assertions. */
const lines: string[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    done();
  },
});
const logged = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

let idp: TestIdp;
let metricsServer: Server;
let metricsUrl: string;
beforeAll(async () => {
  idp = await startIdp({}, { logger: createLogger({ LOG_LEVEL: 'info' }, sink) });
  await createAccount(idp, { producerNumber: '000104201', username: 'OpsAvery1' });
  metricsServer = await startMetricsServer(idp.services.metrics, 0, '127.0.0.1');
  metricsUrl = `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}/metrics`;
});
afterAll(async () => {
  await new Promise((resolve) => metricsServer?.close(resolve));
  await idp?.stop();
});

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

describe('health', () => {
  it('GET /healthz answers 200 without asking the database', async () => {
    const res = await request(idp.server).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers 200 when database, migrations and signing keys are ready', async () => {
    const res = await request(idp.server).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready', checks: { database: { ok: true }, migrations: { ok: true }, signing_keys: { ok: true }, transport: { ok: true } } });
  });

  it('GET /readyz answers 503 naming a pending migration, and names missing signing keys', async () => {
    const last = await sql<{ name: string }>`select name from kysely_migration order by name desc limit 1`.execute(idp.services.db);
    const name = last.rows[0].name;
    await sql`delete from kysely_migration where name = ${name}`.execute(idp.services.db);
    await idp.services.db.updateTable('signing_keys').set({ retired_at: new Date() }).where('retired_at', 'is', null).execute();
    try {
      const res = await request(idp.server).get('/readyz');
      expect(res.status).toBe(503);
      expect(res.body.status).toBe('not_ready');
      expect(res.body.checks.database).toEqual({ ok: true });
      expect(res.body.checks.migrations).toEqual({ ok: false, reason: `pending: ${name}` });
      expect(res.body.checks.signing_keys).toEqual({ ok: false, reason: 'no signing key' });
    } finally {
      await sql`insert into kysely_migration (name, timestamp) values (${name}, ${new Date().toISOString()})`.execute(idp.services.db);
      await idp.services.db.updateTable('signing_keys').set({ retired_at: null }).execute();
    }
    expect((await request(idp.server).get('/readyz')).status).toBe(200);
  });
});

describe('request ids and request logs', () => {
  it('each response carries a generated X-Request-Id; a client-sent one is not trusted without TRUST_PROXY', async () => {
    const a = await request(idp.server).get('/healthz');
    const b = await request(idp.server).get('/healthz').set('x-request-id', 'spoofed-by-client');
    expect(a.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(b.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });

  it('writes one JSON line per request with method, route template, status, duration (ms) and request id; the id is on the audit row', async () => {
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent);
    const res = await submitLogin(agent, uid, 'OpsAvery1', 'Wrong-password-1!');
    expect(res.status).toBe(401);
    const id = res.headers['x-request-id'];
    const line = logged().find((l) => l.requestId === id && l.msg === 'request');
    expect(line).toMatchObject({ method: 'POST', route: '/interaction/:uid/:step', status: 401, requestId: id });
    expect(typeof line!.durationMs).toBe('number');
    expect(logged().filter((l) => l.requestId === id && l.msg === 'request')).toHaveLength(1);
    const row = await idp.services.db.selectFrom('audit_events').select(['type', 'request_id']).where('request_id', '=', id).executeTakeFirst();
    expect(row?.type).toBe('login.failure');
    // oidc-provider's own routes are labelled with their route pattern too.
    const disco = await request(idp.server).get('/.well-known/openid-configuration');
    expect(logged().find((l) => l.requestId === disco.headers['x-request-id'])).toMatchObject({ route: '/.well-known/openid-configuration', status: 200 });
    const unknown = await request(idp.server).get('/no/such/page?token=secret-in-url');
    const miss = logged().find((l) => l.requestId === unknown.headers['x-request-id']);
    expect(miss).toMatchObject({ route: 'unmatched', status: 404 });
    expect(JSON.stringify(miss)).not.toContain('secret-in-url');
  });

  it('a refused client authentication at /token is a log line and a client.auth_failed audit event with the reason; the client gets invalid_client', async () => {
    const res = await request(idp.server)
      .post('/token')
      .set('authorization', basic(idp.config.PORTAL_CLIENT_ID, 'not-the-secret-0123456789abcdefghijklmnop'))
      .type('form')
      .send({ grant_type: 'refresh_token', refresh_token: 'x' });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
    const id = res.headers['x-request-id'];
    const line = logged().find((l) => l.requestId === id && l.msg === 'oidc error');
    expect(line).toMatchObject({ event: 'grant.error', error: 'invalid_client', detail: 'invalid secret provided' });
    await idp.services.settle();
    const row = await idp.services.db.selectFrom('audit_events').selectAll().where('type', '=', 'client.auth_failed').where('request_id', '=', id).executeTakeFirst();
    expect(row?.client_id).toBe(idp.config.PORTAL_CLIENT_ID);
    expect(row?.details).toEqual({ endpoint: 'grant', reason: 'invalid secret provided' });
  });
});

describe('metrics', () => {
  it('are not served on the public port', async () => {
    expect((await request(idp.server).get('/metrics')).status).toBe(404);
  });

  it('count sign-in outcomes by result and amr, requests by route template, pool connections, and process metrics', async () => {
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent);
    const res = await signIn(idp, agent, uid, 'OpsAvery1');
    expect(res.status).toBe(303);
    const text = await (await fetch(metricsUrl)).text();
    expect(text).toMatch(/^producer_idp_sign_ins_total\{result="success",amr="pwd\+otp\+mfa"\} [1-9]/m);
    expect(text).toMatch(/^producer_idp_sign_ins_total\{result="wrong_password",amr="none"\} [1-9]/m);
    expect(text).toMatch(/^producer_idp_second_factor_sends_total\{channel="email",outcome="sent"\} [1-9]/m);
    expect(text).toMatch(/^producer_idp_second_factor_verifications_total\{factor="email",result="passed"\} [1-9]/m);
    expect(text).toMatch(/^producer_idp_http_request_duration_seconds_count\{method="POST",route="\/interaction\/:uid\/:step",status_class="4xx"\} [1-9]/m);
    expect(text).toMatch(/^producer_idp_db_pool_connections\{state="total"\} [0-9]/m);
    expect(text).toMatch(/^producer_idp_nodejs_eventloop_lag_seconds /m);
    expect(text).toMatch(/^producer_idp_process_resident_memory_bytes /m);
    expect(text).toMatch(/^# TYPE producer_idp_account_locks_total counter/m);
    // A send limit (Forgot Username twice within 30 s) answers 429 and is counted.
    const forgot = request.agent(idp.server);
    const send = async () => {
      const page = await forgot.get('/forgot-username');
      return forgot.post('/forgot-username').type('form').send({ _csrf: /name="_csrf" value="([^"]+)"/.exec(page.text)![1], email: 'avery.quinlan@example.com' });
    };
    await send();
    const again = await send();
    expect(again.status).toBe(429);
    const after = await (await fetch(metricsUrl)).text();
    expect(after).toMatch(/^producer_idp_rate_limit_refusals_total\{limit="[^"]+"\} [1-9]/m);
    expect(text).toMatch(/^# TYPE producer_idp_rate_limit_refusals_total counter/m);
    expect(text).toMatch(/^# TYPE producer_idp_db_query_errors_total counter/m);
  });
});

describe('no secret in the logs', () => {
  it('a whole journey (password, code, tokens, refresh, client secret, cookies) leaves none of them in the log', async () => {
    const agent = request.agent(idp.server);
    const { uid, verifier } = await beginSignIn(idp, agent);
    const res = await signIn(idp, agent, uid, 'OpsAvery1');
    const { redirect } = await followToClient(idp, agent, res.headers.location);
    const code = redirect!.searchParams.get('code')!;
    const token = await request(idp.server)
      .post('/token')
      .set('authorization', basic(idp.config.PORTAL_CLIENT_ID, idp.config.PORTAL_CLIENT_SECRET))
      .type('form')
      .send({ grant_type: 'authorization_code', code, redirect_uri: portalRedirect(idp), code_verifier: verifier });
    expect(token.status).toBe(200);
    const refreshed = await request(idp.server)
      .post('/token')
      .set('authorization', basic(idp.config.PORTAL_CLIENT_ID, idp.config.PORTAL_CLIENT_SECRET))
      .type('form')
      .send({ grant_type: 'refresh_token', refresh_token: token.body.refresh_token });
    expect(refreshed.status).toBe(200);
    const me = await request(idp.server).get('/me').set('authorization', `Bearer ${refreshed.body.access_token}`);
    expect(me.status).toBe(200);
    const mail = idp.smtp.to('avery.quinlan@example.com').at(-1)?.text ?? '';
    const otp = /\b([A-HJ-NP-Z2-9]{8})\b/.exec(mail)?.[1];
    const cookies = (agent as unknown as { jar: { getCookies(a: unknown): { value: string }[] } }).jar.getCookies({ domain: '127.0.0.1', path: '/', secure: false, script: false }).map((c) => c.value);
    const secrets = [
      GOOD_PASSWORD, 'Wrong-password-1!', idp.config.PORTAL_CLIENT_SECRET, code, verifier,
      token.body.access_token, token.body.refresh_token, token.body.id_token,
      refreshed.body.access_token, refreshed.body.refresh_token, ...(otp ? [otp] : []), ...cookies,
    ].filter((s): s is string => typeof s === 'string' && s.length >= 8);
    expect(secrets.length).toBeGreaterThan(8);
    const all = lines.join('\n');
    expect(lines.length).toBeGreaterThan(10);
    for (const s of secrets) expect(all.includes(s), `a secret (${s.slice(0, 4)}…) is in the log`).toBe(false);
  });
});
