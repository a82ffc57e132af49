/**
 * Portal sessions shared by two portal replicas (issue 13): two portal applications, each with its
 * own session store object (and its own logout-token replay cache), sharing only the database
 * (`portal_sessions`). A "load balancer" in front sends each request to one of them. A session
 * created on one is seen on the other; a back-channel logout received by one ends it on both.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endAccountSessions } from '../../src/oidc/revocation.ts';
import { createPortalApp } from '../../src/portal/app.ts';
import { PgSessionStore, type PortalSessionDatabase } from '../../src/portal/session.ts';
import { createAccount, followToClient, signIn } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';

let idp: TestIdp;
let front: Server;
let portalUrl: string;
let accountId: string;
/** Which replica answered each back-channel logout. */
const logoutsReceivedBy: string[] = [];

beforeAll(async () => {
  front = createServer();
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', () => resolve()));
  portalUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
  idp = await startIdp({ PORTAL_URL: portalUrl, PORTAL_BACKCHANNEL_LOGOUT: true });
  accountId = await createAccount(idp, { producerNumber: '000104201', username: 'AveryReplicas' });
  const sessionDb = idp.services.db as unknown as Kysely<PortalSessionDatabase>;
  const replica = () => createPortalApp({
    portalUrl, issuer: idp.url, clientId: idp.config.PORTAL_CLIENT_ID, clientSecret: idp.config.PORTAL_CLIENT_SECRET,
    cookieKeys: ['portal-replicas-test-key-0123456789'], secureCookies: false, productName: 'Producer Experience Portal', organizationName: 'Example Mutual',
    allowInsecureRequests: true, logger: { warn: () => {}, error: () => {} },
    sessions: new PgSessionStore(sessionDb, idp.config.PORTAL_CLIENT_ID),
  }).callback();
  const replicas: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = { a: replica(), b: replica() };
  // Browser requests go where the test says (X-Replica); the IdP's logout tokens go to replica b.
  front.on('request', (req, res) => {
    const name = req.url?.startsWith('/backchannel-logout') ? 'b' : String(req.headers['x-replica'] ?? 'a');
    if (req.url?.startsWith('/backchannel-logout')) logoutsReceivedBy.push(name);
    replicas[name]!(req, res);
  });
});
afterAll(async () => {
  await idp?.stop();
  front?.closeAllConnections();
  await new Promise((resolve) => front?.close(resolve));
});

/** A browser's cookies for the portal (the IdP's live in the supertest agent); `replica` picks the portal replica. */
class PortalBrowser {
  cookies = new Map<string, string>();
  async get(pathAndQuery: string, replica: 'a' | 'b'): Promise<Response> {
    const res = await fetch(`${portalUrl}${pathAndQuery}`, { redirect: 'manual', headers: { 'x-replica': replica, cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
    return res;
  }
}

/** Signs AveryReplicas in: the authorization request from replica `start`, the callback at replica `callback`. */
async function signInThrough(browser: PortalBrowser, start: 'a' | 'b', callback: 'a' | 'b'): Promise<void> {
  const first = await browser.get('/', start);
  expect(first.status).toBe(302);
  const auth = new URL(first.headers.get('location')!);
  const agent = request.agent(idp.server);
  const toInteraction = await agent.get(auth.pathname + auth.search);
  const uid = new URL(toInteraction.headers.location, idp.url).pathname.split('/')[2]!;
  const login = await signIn(idp, agent, uid, 'AveryReplicas');
  const { redirect } = await followToClient(idp, agent, login.headers.location);
  expect(redirect!.origin).toBe(portalUrl);
  expect((await browser.get(redirect!.pathname + redirect!.search, callback)).status).toBe(303);
}

describe('portal sessions shared by two replicas', () => {
  it('a sign-in started on one replica completes on the other; the session is seen on both; a back-channel logout received by one ends it on both', async () => {
    const browser = new PortalBrowser();
    await signInThrough(browser, 'a', 'b');
    for (const replica of ['a', 'b'] as const) {
      const home = await browser.get('/', replica);
      expect(home.status).toBe(200);
      expect(await home.text()).toContain('Avery Quinlan');
    }

    // The database holds neither the session id nor the producer's data in clear.
    const sessionId = decodeURIComponent(browser.cookies.get('portal_sid')!);
    const rows = await idp.services.db.selectFrom('portal_sessions').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(sessionId);
    expect(rows[0]!.data).not.toContain('Quinlan');
    expect(rows[0]!.data).not.toContain('000104201');

    // The Service Desk signs the account out everywhere: the IdP's logout token reaches replica b.
    await endAccountSessions(idp.services.db, accountId, 'signed_out');
    await expect.poll(async () => (await browser.get('/', 'a')).status, { timeout: 15_000, interval: 100 }).toBe(302);
    expect((await browser.get('/', 'b')).status).toBe(302); // back to the IdP to sign in, on both replicas
    expect(logoutsReceivedBy).toContain('b');
    expect(await idp.services.db.selectFrom('portal_sessions').select('id_hash').where('sub', 'is not', null).execute()).toEqual([]);
  });

  it('a logout token ends the sessions of its sid only, or every session of its sub; other clients\' sessions stay', async () => {
    const sessionDb = idp.services.db as unknown as Kysely<PortalSessionDatabase>;
    const portalA = new PgSessionStore(sessionDb, 'portal-x');
    const portalB = new PgSessionStore(sessionDb, 'portal-x');
    const other = new PgSessionStore(sessionDb, 'other-app');
    const user = (sid: string) => ({ sub: 'sub-1', claims: { sid, given_name: 'Avery' }, idToken: 'x', signedInAt: Date.now() });
    const one = await portalA.rotate(await portalA.create(), user('sid-1'));
    const two = await portalA.rotate(await portalA.create(), user('sid-2'));
    const elsewhere = await other.rotate(await other.create(), user('sid-1'));
    expect((await portalB.get(one.id))?.data.user?.claims.given_name).toBe('Avery');

    expect(await portalB.endForIdpSession(undefined, 'sid-1')).toBe(1);
    expect(await portalA.get(one.id)).toBeUndefined();
    expect(await portalA.get(two.id)).toBeDefined();
    expect(await portalB.endForIdpSession('sub-1', undefined)).toBe(1);
    expect(await portalA.get(two.id)).toBeUndefined();
    expect(await other.get(elsewhere.id)).toBeDefined();
    expect(await portalA.get(elsewhere.id)).toBeUndefined(); // a session id of another client is not this client's
  });

  it('sessions expire when idle (15 minutes before sign-in, 8 hours after) and 12 hours after creation however used; a copy of the table opens nothing', async () => {
    const sessionDb = idp.services.db as unknown as Kysely<PortalSessionDatabase>;
    let now = Date.parse('2026-11-30T08:00:00Z');
    const store = new PgSessionStore(sessionDb, 'portal-expiry', { now: () => now });
    const minutes = (n: number) => { now += n * 60_000; };

    const anonymous = await store.create();
    minutes(14);
    expect(await store.get(anonymous.id)).toBeDefined(); // used: idle expiry slides
    minutes(14);
    expect(await store.get(anonymous.id)).toBeDefined();
    minutes(15);
    expect(await store.get(anonymous.id)).toBeUndefined();

    const signedIn = await store.rotate(await store.create(), { sub: 'sub-9', claims: { sid: 'sid-9' }, idToken: 'x', signedInAt: now });
    minutes(7 * 60 + 50);
    expect(await store.get(signedIn.id)).toBeDefined(); // 7 h 50 min idle: within 8 hours
    minutes(3 * 60 + 50);
    expect(await store.get(signedIn.id)).toBeDefined(); // 11 h 40 min after sign-in, used
    minutes(30);
    expect(await store.get(signedIn.id)).toBeUndefined(); // … but not past 12 hours from sign-in

    const idle = await store.rotate(await store.create(), { sub: 'sub-9', claims: { sid: 'sid-10' }, idToken: 'x', signedInAt: now });
    minutes(8 * 60);
    expect(await store.get(idle.id)).toBeUndefined();

    // The row's data is sealed under the session id: without the cookie's id, nothing opens.
    const copy = await store.create();
    copy.data.pending.s = { state: 's', nonce: 'n', codeVerifier: 'verifier-secret', returnTo: '/', startedAt: now };
    await store.save(copy);
    const row = await idp.services.db.selectFrom('portal_sessions').select('data').where('client_id', '=', 'portal-expiry').where('sub', 'is', null).executeTakeFirstOrThrow();
    expect(row.data).not.toContain('verifier-secret');
    expect(Buffer.from(row.data, 'base64url').toString('utf8')).not.toContain('verifier-secret');
    expect((await store.get(copy.id))?.data.pending.s?.codeVerifier).toBe('verifier-secret');
  });

  it('while the session database cannot be reached, the portal answers 503 "Temporarily unavailable" with Retry-After, never a 500', async () => {
    const down = new Kysely<PortalSessionDatabase>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 2000 }) }) });
    const errors: string[] = [];
    const app = createPortalApp({
      portalUrl, issuer: idp.url, clientId: idp.config.PORTAL_CLIENT_ID, clientSecret: idp.config.PORTAL_CLIENT_SECRET,
      cookieKeys: ['portal-replicas-test-key-0123456789'], secureCookies: false, productName: 'Producer Experience Portal', organizationName: 'Example Mutual',
      allowInsecureRequests: true, logger: { warn: () => {}, error: (_obj, msg) => errors.push(msg) },
      sessions: new PgSessionStore(down, idp.config.PORTAL_CLIENT_ID),
    });
    try {
      const res = await request(app.callback()).get('/my-information');
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('30');
      expect(res.text).toContain('Temporarily unavailable');
      expect(res.text).toContain('href="/my-information"');
      const logout = await request(app.callback()).post('/backchannel-logout').type('form').send({ logout_token: 'x.y.z' });
      expect(logout.status).toBe(400); // an invalid token is refused before the store is asked
      expect(errors).toContain('the session store could not be reached');
    } finally {
      await down.destroy();
    }
  });
});
