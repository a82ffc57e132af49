/**
 * A second, independent relying party (issue 10 item 9): Apache httpd with mod_auth_openidc from
 * Debian's packages, configured as the README says, signs a producer in through the real IdP pages
 * (query and form_post response modes), shows the claims, refreshes, logs out, and ends its session
 * on a back-channel logout.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerClient } from '../../src/oidc/clients.ts';
import { endAccountSessions } from '../../src/oidc/revocation.ts';
import { createAccount, followToClient, signIn } from '../helpers/accounts.ts';
import { startApache, type ApacheRp } from '../helpers/apache.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';

let idp: TestIdp;
let accountId: string;
const apaches: ApacheRp[] = [];

beforeAll(async () => {
  idp = await startIdp();
  accountId = await createAccount(idp, { producerNumber: '000104201', username: 'AveryApache1' });
});
afterAll(async () => {
  for (const a of apaches) await a.stop();
  await idp?.stop();
});

/** What one HTTP exchange with Apache returned. */
interface Reply {
  status: number;
  location: string | null;
  body: string;
}

/**
 * A browser's cookies and headers for Apache (the IdP's cookies live in the supertest agent). It
 * uses node:http, not fetch: fetch sends `Sec-Fetch-Mode: cors`, which mod_auth_openidc rightly
 * answers with 401 instead of a redirect to sign in (it is not a page navigation).
 */
class ApacheBrowser {
  cookies = new Map<string, string>();
  readonly base: string;
  constructor(base: string) {
    this.base = base;
  }
  request(pathAndQuery: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Reply> {
    const headers: Record<string, string> = {
      accept: 'text/html,application/xhtml+xml,*/*;q=0.8', 'user-agent': 'Mozilla/5.0 (test)', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document',
      cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
    };
    const body = init.form ? new URLSearchParams(init.form).toString() : undefined;
    if (body !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve, reject) => {
      const req = httpRequest(new URL(pathAndQuery, this.base), { method: init.method ?? 'GET', headers, agent: false, insecureHTTPParser: true }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => {
          for (const c of res.headers['set-cookie'] ?? []) {
            const [pair] = c.split(';');
            const i = pair!.indexOf('=');
            const value = pair!.slice(i + 1);
            if (value === '' || /max-age=0|expires=thu, 01[- ]jan[- ]1970/i.test(c)) this.cookies.delete(pair!.slice(0, i));
            else this.cookies.set(pair!.slice(0, i), value);
          }
          resolve({ status: res.statusCode ?? 0, location: (res.headers.location as string | undefined) ?? null, body: text });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }
}

/** GET over a plain socket (Apache closes the connection): the raw answer, headers and body. */
function rawGet(base: string, pathAndQuery: string, cookies: Map<string, string>): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.write(`GET ${pathAndQuery} HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/html\r\nSec-Fetch-Mode: navigate\r\nConnection: close\r\n` +
        `Cookie: ${[...cookies].map(([k, v]) => `${k}=${v}`).join('; ')}\r\n\r\n`);
    });
    let data = '';
    socket.setEncoding('utf8').on('data', (d: string) => (data += d)).on('end', () => resolve(data)).on('error', reject);
  });
}

/** Registers a client for `apache` and starts it. */
async function apacheFor(responseMode: 'query' | 'form_post'): Promise<ApacheRp> {
  // The client is registered after Apache's port is known: start it with a placeholder, then restart.
  const probe = await startApache({ issuer: idp.url, clientId: 'pending', clientSecret: 'pending', responseMode });
  await probe.stop();
  const port = new URL(probe.url).port;
  const base = `http://127.0.0.1:${port}`;
  const client = await registerClient(idp.services.db, idp.provider, {
    name: `Apache (${responseMode})`, firstParty: true,
    redirectUris: [`${base}/protected/redirect_uri`], postLogoutRedirectUris: [`${base}/loggedout.html`],
    backchannelLogoutUri: `${base}/protected/redirect_uri?logout=backchannel`,
  });
  const apache = await startApache({ issuer: idp.url, clientId: client.client_id as string, clientSecret: client.client_secret as string, responseMode, port: Number(port) });
  apaches.push(apache);
  return apache;
}

/** Signs AveryApache1 in at Apache through the IdP's pages; returns the Apache browser. */
async function signInAtApache(apache: ApacheRp): Promise<ApacheBrowser & { idpAgent: ReturnType<typeof request.agent> }> {
  idp.clock.advance(3600); // a fresh hour for the verification-code send limit
  const browser = new ApacheBrowser(apache.url);
  const start = await browser.request('/protected/');
  expect(start.status, apache.errorLog()).toBe(302);
  const auth = new URL(start.location!);
  expect(`${auth.origin}${auth.pathname}`).toBe(`${idp.url}/auth`);
  const agent = request.agent(idp.server);
  const toInteraction = await agent.get(auth.pathname + auth.search);
  const uid = new URL(toInteraction.headers.location, idp.url).pathname.split('/')[2]!;
  const login = await signIn(idp, agent, uid, 'AveryApache1');
  const { redirect, page } = await followToClient(idp, agent, login.headers.location);
  let back: Reply;
  if (redirect) {
    back = await browser.request(redirect.pathname + redirect.search);
  } else {
    // form_post (OAuth 2.0 Form Post Response Mode): the page posts the response to Apache.
    const action = /<form[^>]+action="([^"]+)"/.exec(page!.text)![1]!;
    const form = Object.fromEntries([...page!.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    expect(Object.keys(form)).toEqual(expect.arrayContaining(['code', 'state', 'iss']));
    back = await browser.request(new URL(action).pathname, { method: 'POST', form });
  }
  expect(back.status, apache.errorLog()).toBe(302);
  const home = await browser.request(new URL(back.location!, apache.url).pathname);
  expect(home.status, apache.errorLog()).toBe(200);
  expect(home.body).toContain('Signed in at Apache');
  return Object.assign(browser, { idpAgent: agent });
}

async function info(browser: ApacheBrowser, extra = ''): Promise<Record<string, any>> {
  const res = await browser.request(`/protected/redirect_uri?info=json${extra}`);
  expect(res.status).toBe(200);
  return JSON.parse(res.body) as Record<string, any>;
}

describe.each(['query', 'form_post'] as const)('Apache httpd with mod_auth_openidc, response mode %s', (responseMode) => {
  let apache: ApacheRp;
  beforeAll(async () => {
    apache = await apacheFor(responseMode);
  });

  it('signs in through the real pages, shows the claims, refreshes and logs out', async () => {
    const browser = await signInAtApache(apache);
    const first = await info(browser);
    expect(first.userinfo).toMatchObject({ sub: accountId, producer_number: '000104201', name: 'Avery Quinlan', email: 'avery.quinlan@example.com' });
    expect(first.id_token).toMatchObject({ sub: accountId, iss: idp.url });
    expect(first.refresh_token).toBeTruthy();

    // mod_auth_openidc's refresh hook: redeem the refresh token (RFC 6749 §6), then back to return_to.
    const refresh = await browser.request(`/protected/redirect_uri?refresh=${encodeURIComponent(`${apache.url}/protected/`)}&access_token=${encodeURIComponent(first.access_token)}`);
    expect(refresh.status, apache.errorLog().slice(-3000)).toBe(302);
    const refreshed = await info(browser);
    expect(refreshed.access_token).toBeTruthy();
    expect(refreshed.access_token).not.toBe(first.access_token);

    const logout = await browser.request(`/protected/redirect_uri?logout=${encodeURIComponent(apache.postLogoutUri)}`);
    expect(logout.status).toBe(302);
    const endSession = new URL(logout.location!);
    expect(`${endSession.origin}${endSession.pathname}`).toBe(`${idp.url}/session/end`);
    expect(endSession.searchParams.get('id_token_hint')).toBeTruthy();
    // Apache already forgot the session; the IdP asks the person to confirm its own logout.
    expect((await browser.request('/protected/')).status).toBe(302);
    const confirm = await browser.idpAgent.get(endSession.pathname + endSession.search);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.text)![1];
    const done = await browser.idpAgent.post('/session/end/confirm').type('form').send({ xsrf, logout: 'yes' });
    expect(done.status).toBe(303);
    expect(done.headers.location.startsWith(apache.postLogoutUri)).toBe(true);
  });

  it('an error response (prompt=none without an IdP session): what mod_auth_openidc shows (README note)', async () => {
    const browser = new ApacheBrowser(apache.url);
    const start = await browser.request('/protected/');
    const auth = new URL(start.location!);
    const answer = await request(idp.server).get(`${auth.pathname}${auth.search}&prompt=none`);
    if (responseMode === 'query') {
      expect(answer.status).toBe(303);
      const back = new URL(answer.headers.location);
      expect(back.searchParams.get('error')).toBe('login_required');
      expect(back.searchParams.get('iss')).toBe(idp.url); // RFC 9207
      // mod_auth_openidc takes the response for a third-party-initiated login and shows a misleading
      // page (its answer is not even well-formed HTTP for Node's parser: read it off the socket).
      const raw = await rawGet(apache.url, back.pathname + back.search, browser.cookies);
      expect(raw).toContain('target_link_uri');
      expect(raw).not.toContain('login_required');
    } else {
      const form = Object.fromEntries([...answer.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
      expect(form).toMatchObject({ error: 'login_required', iss: idp.url });
      const shown = await browser.request('/protected/redirect_uri', { method: 'POST', form });
      expect(shown.body).toContain('OpenID Connect Provider error: login_required');
    }
  });

  it('a back-channel logout from the IdP ends the Apache session', async () => {
    const browser = await signInAtApache(apache);
    await endAccountSessions(idp.services.db, accountId, 'signed_out');
    let status = 200;
    for (let i = 0; i < 100 && status === 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await browser.request('/protected/')).status;
    }
    expect(status, apache.errorLog()).toBe(302);
  });
});
