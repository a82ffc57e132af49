/**
 * Producer portal journeys against a real OpenID Connect provider over HTTP.
 *
 * A stand-in IdP (oidc-provider 9, in-memory adapter) runs on a random 127.0.0.1 port. Its
 * interaction route signs the test producer in and grants the requested scopes without any UI,
 * so every step of the protocol (authorization request, code, token, ID token, UserInfo,
 * RP-initiated logout) runs for real between the portal and the IdP. The "browser" is fetch with
 * manual redirects and a small cookie jar written here.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';

import { createPortalApp } from '../../src/portal/app.ts';

// ---- a tiny browser: cookie jar + manual redirects ---------------------------------------------

interface StoredCookie {
  name: string;
  value: string;
  host: string;
  path: string;
  expiresAt?: number;
  raw: string;
}

/** Browser-like cookie jar: cookies are scoped by host (not port, as in browsers) and path. */
class CookieJar {
  readonly cookies: StoredCookie[] = [];

  store(url: URL, setCookies: string[]): void {
    for (const raw of setCookies) {
      const [pair, ...attributes] = raw.split(';').map((part) => part.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = url.pathname.replace(/\/[^/]*$/, '') || '/';
      let expiresAt: number | undefined;
      for (const attribute of attributes) {
        const [key, ...rest] = attribute.split('=');
        const attrValue = rest.join('=');
        switch (key.toLowerCase()) {
          case 'path':
            path = attrValue || '/';
            break;
          case 'expires':
            expiresAt ??= Date.parse(attrValue);
            break;
          case 'max-age':
            expiresAt = Date.now() + Number(attrValue) * 1000;
            break;
        }
      }
      const index = this.cookies.findIndex((c) => c.name === name && c.host === url.hostname && c.path === path);
      if (index >= 0) this.cookies.splice(index, 1);
      if (expiresAt !== undefined && expiresAt <= Date.now()) continue;
      this.cookies.push({ name, value, host: url.hostname, path, expiresAt, raw });
    }
  }

  header(url: URL): string {
    return this.cookies
      .filter((c) => c.host === url.hostname)
      .filter((c) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .filter((c) => c.expiresAt === undefined || c.expiresAt > Date.now())
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  get(name: string): StoredCookie | undefined {
    return this.cookies.find((c) => c.name === name);
  }
}

interface Hop {
  url: URL;
  status: number;
}

class Browser {
  readonly jar = new CookieJar();

  async request(url: string | URL, init: { method?: string; form?: Record<string, string> } = {}): Promise<Response> {
    const target = new URL(url);
    const headers = new Headers({ accept: 'text/html' });
    const cookie = this.jar.header(target);
    if (cookie) headers.set('cookie', cookie);
    let body: string | undefined;
    if (init.form) {
      headers.set('content-type', 'application/x-www-form-urlencoded');
      body = new URLSearchParams(init.form).toString();
    }
    const response = await fetch(target, { method: init.method ?? 'GET', headers, body, redirect: 'manual' });
    this.jar.store(target, response.headers.getSetCookie());
    return response;
  }

  /** Requests `url` and follows redirects (as GET), returning the last response and every hop. */
  async follow(url: string | URL, init: { method?: string; form?: Record<string, string> } = {}): Promise<{ response: Response; hops: Hop[]; body: string }> {
    const hops: Hop[] = [];
    let current = new URL(url);
    let response = await this.request(current, init);
    hops.push({ url: current, status: response.status });
    for (let i = 0; i < 20 && response.status >= 300 && response.status < 400; i += 1) {
      await response.body?.cancel();
      current = new URL(response.headers.get('location')!, current);
      response = await this.request(current);
      hops.push({ url: current, status: response.status });
    }
    return { response, hops, body: await response.text() };
  }
}

// ---- servers -------------------------------------------------------------------------------------

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

async function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

const CLIENT_ID = 'producer-portal';
const CLIENT_SECRET = 'portal-test-secret-0123456789abcdef';

const producer = {
  sub: 'producer-1',
  given_name: 'Pat',
  family_name: 'Rivera',
  email: 'pat.rivera@example.com',
  email_verified: true,
  phone_number: '+13125550100',
  phone_number_verified: true,
  producer_number: '001234567',
  npn: '7654321',
  agency_name: 'Smith & <Sons> Agency',
};

let idpServer: http.Server;
let portalServer: http.Server;
let issuer: string;
let portalUrl: string;
let idpReady = false;
let rejectNextLogin = false;
const promptsSeen: string[] = [];
let clockOffsetMs = 0;
const warnings: string[] = [];

beforeAll(async () => {
  let idpHandler: http.RequestListener | undefined;
  idpServer = http.createServer((req, res) => {
    if (!idpReady || !idpHandler) {
      res.statusCode = 503;
      res.end('starting');
      return;
    }
    idpHandler(req, res);
  });
  issuer = await listen(idpServer);

  let portalHandler: http.RequestListener | undefined;
  portalServer = http.createServer((req, res) => portalHandler!(req, res));
  portalUrl = await listen(portalServer);

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${portalUrl}/callback`],
        post_logout_redirect_uris: [`${portalUrl}/logged-out`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    claims: {
      openid: ['sub'],
      profile: ['given_name', 'family_name', 'name'],
      email: ['email', 'email_verified'],
      phone: ['phone_number', 'phone_number_verified'],
      producer: ['producer_number', 'npn', 'agency_name'],
    },
    async findAccount(_ctx, id) {
      if (id !== producer.sub) return undefined;
      return { accountId: id, claims: async () => ({ ...producer }) };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: { devInteractions: { enabled: false } },
    cookies: { keys: ['idp-test-cookie-key'] },
    ttl: { AccessToken: 3600, AuthorizationCode: 60, Grant: 3600, IdToken: 3600, Interaction: 600, Session: 3600 },
  });

  // The stand-in IdP's only UI: sign the test producer in and grant what was asked.
  provider.use(async (ctx, next) => {
    if (ctx.method !== 'GET' || !/^\/interaction\/[^/]+$/.test(ctx.path)) return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    promptsSeen.push(details.prompt.name);
    let result: InteractionResults;
    if (details.prompt.name === 'login') {
      if (rejectNextLogin) {
        rejectNextLogin = false;
        result = { error: 'access_denied', error_description: 'End-User rejected the Terms of Use' };
      } else {
        result = { login: { accountId: producer.sub } };
      }
    } else {
      const promptDetails = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
      const grant = details.grantId
        ? (await provider.Grant.find(details.grantId))!
        : new provider.Grant({ accountId: details.session!.accountId, clientId: details.params.client_id as string });
      if (promptDetails.missingOIDCScope) grant.addOIDCScope(promptDetails.missingOIDCScope.join(' '));
      if (promptDetails.missingOIDCClaims) grant.addOIDCClaims(promptDetails.missingOIDCClaims);
      result = { consent: { grantId: await grant.save() } };
    }
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
    ctx.status = 303;
    ctx.redirect(returnTo);
  });
  idpHandler = provider.callback();

  const app = createPortalApp({
    portalUrl,
    issuer,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    cookieKeys: ['portal-test-cookie-key'],
    secureCookies: false,
    productName: 'Producer Experience Portal',
    organizationName: 'Example Mutual',
    allowInsecureRequests: true,
    now: () => Date.now() + clockOffsetMs,
    logger: { warn: (_obj, msg) => warnings.push(msg), error: (_obj, msg) => warnings.push(msg) },
  });
  portalHandler = app.callback();
});

afterAll(async () => {
  await Promise.all([portalServer && close(portalServer), idpServer && close(idpServer)]);
});

/** Signs a fresh browser in by requesting `path` and following every redirect. */
async function signIn(path = '/'): Promise<{ browser: Browser; response: Response; hops: Hop[]; body: string }> {
  const browser = new Browser();
  const result = await browser.follow(`${portalUrl}${path}`);
  return { browser, ...result };
}

function csrfTokenOf(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  expect(match, 'the page carries a CSRF token').not.toBeNull();
  return match![1];
}

// ---- journeys ------------------------------------------------------------------------------------

describe('producer portal (relying party)', () => {
  it('shows a 503 page while the IdP cannot be discovered, and retries on the next request', async () => {
    const browser = new Browser();
    const down = await browser.request(`${portalUrl}/`);
    expect(down.status).toBe(503);
    expect(await down.text()).toContain('Sign-in is unavailable');

    idpReady = true;
    const up = await browser.request(`${portalUrl}/`);
    expect(up.status).toBe(302);
    expect(up.headers.get('location')).toMatch(new RegExp(`^${issuer}/auth\\?`));
  });

  it('sends an unauthenticated visitor to the authorization endpoint with PKCE S256, state and nonce', async () => {
    const browser = new Browser();
    const response = await browser.request(`${portalUrl}/`);
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { authorization_endpoint: string };
    expect(`${location.origin}${location.pathname}`).toBe(discovery.authorization_endpoint);
    const params = location.searchParams;
    expect(params.get('response_type')).toBe('code');
    expect(params.get('client_id')).toBe(CLIENT_ID);
    expect(params.get('redirect_uri')).toBe(`${portalUrl}/callback`);
    expect(params.get('scope')).toBe('openid profile email phone producer');
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params.get('state')).toBeTruthy();
    expect(params.get('nonce')).toBeTruthy();

    const cookie = browser.jar.get('portal_sid');
    expect(cookie).toBeDefined();
    expect(cookie!.raw).toMatch(/httponly/i);
    expect(cookie!.raw).toMatch(/samesite=lax/i);
    expect(cookie!.raw).not.toMatch(/;\s*secure/i);
    expect(Buffer.from(cookie!.value, 'base64url')).toHaveLength(32);
    expect(browser.jar.get('portal_sid.sig')).toBeDefined();
  });

  it('signs in through the IdP and shows the producer on the Home page', async () => {
    const browser = new Browser();
    await browser.request(`${portalUrl}/`);
    const sessionBefore = browser.jar.get('portal_sid')!.value;

    const { response, hops, body } = await browser.follow(`${portalUrl}/`);
    expect(response.status).toBe(200);
    expect(hops.at(-1)!.url.href).toBe(`${portalUrl}/`);
    expect(hops.some((hop) => hop.url.pathname === '/callback' && hop.status === 303)).toBe(true);
    expect(browser.jar.get('portal_sid')!.value).not.toBe(sessionBefore); // rotated on sign-in

    expect(body).toContain('Producer Experience Portal');
    expect(body).toContain('Example Mutual');
    expect(body).toMatch(/<button[^>]*>Logout<\/button>/);
    for (const label of ['Home', 'My Information', 'My Hierarchy', 'View/Add My Delegates', 'Quote &amp; Enroll', 'Commissions &amp; Reporting', 'Resources', 'Report an Issue']) {
      expect(body).toContain(`>${label}</a>`);
    }
    expect(body).toContain('Pat Rivera');
    expect(body).toContain('001234567');
    expect(body).toContain('7654321');
    expect(body).toContain('pat.rivera@example.com');
    expect(body).toContain('+13125550100');
    expect(body).toContain('Smith &amp; &lt;Sons&gt; Agency');
    expect(body).not.toContain('<Sons>');
    expect(body).toMatch(/<a href="\/" aria-current="page">Home<\/a>/);

    expect(response.headers.get('content-security-policy')).toBe(
      `default-src 'self'; base-uri 'none'; object-src 'none'; form-action 'self' ${issuer}; frame-ancestors 'none'`,
    );
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('returns to the originally requested local path, and ignores off-site return paths', async () => {
    const first = await signIn('/my-information?tab=contact');
    expect(first.hops.at(-1)!.url.href).toBe(`${portalUrl}/my-information?tab=contact`);
    expect(first.response.status).toBe(200);
    expect(first.body).toContain('<h1>My Information</h1>');
    expect(first.body).toContain('001234567');
    expect(first.body).toMatch(/<a href="\/my-information" aria-current="page">/);

    const offSite = await signIn('//evil.example/steal');
    expect(offSite.hops.at(-1)!.url.href).toBe(`${portalUrl}/`);
    expect(offSite.response.status).toBe(200);
  });

  it('shows the sections that are not built yet as placeholder pages, and says when a downstream application or resources are not configured', async () => {
    const { browser } = await signIn();
    const pages: Array<[string, string, string]> = [
      ['/my-hierarchy', 'My Hierarchy', 'Your hierarchy is not available right now'],
      ['/my-delegates', 'View/Add My Delegates', 'not built yet'],
      ['/quote-enroll', 'Quote &amp; Enroll', 'is not configured for this portal'],
      ['/commissions-reporting', 'Commissions &amp; Reporting', 'is not configured for this portal'],
      ['/resources', 'Resources', 'No resources are configured yet.'],
    ];
    for (const [path, title, text] of pages) {
      const response = await browser.request(`${portalUrl}${path}`);
      expect(response.status, path).toBe(200);
      const body = await response.text();
      expect(body).toContain(`<h1>${title}</h1>`);
      expect(body).toContain(text);
    }
    const missing = await browser.request(`${portalUrl}/no-such-page`);
    expect(missing.status).toBe(404);
  });

  it('answers a callback with a wrong state with a 400 page, not a 500', async () => {
    const browser = new Browser();
    const start = await browser.request(`${portalUrl}/`);
    const authorization = new URL(start.headers.get('location')!);
    expect(authorization.searchParams.get('state')).toBeTruthy();

    const wrong = await browser.request(`${portalUrl}/callback?code=abc&state=not-the-state&iss=${encodeURIComponent(issuer)}`);
    expect(wrong.status).toBe(400);
    const body = await wrong.text();
    expect(body).toContain('Sign-in did not complete');
    expect(body).toContain('Try again');

    const noSession = await new Browser().request(`${portalUrl}/callback?code=abc&state=x`);
    expect(noSession.status).toBe(400);

    // The right state with a forged code: the IdP refuses the code (invalid_grant) → 400.
    const forged = await browser.request(
      `${portalUrl}/callback?code=forged&state=${authorization.searchParams.get('state')}&iss=${encodeURIComponent(issuer)}`,
    );
    expect(forged.status).toBe(400);
    expect(warnings).toContain('sign-in callback rejected');
  });

  it('answers a replayed callback with a 400 page', async () => {
    const { browser, hops } = await signIn();
    const callback = hops.find((hop) => hop.url.pathname === '/callback')!;
    const replay = await browser.request(callback.url);
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('Sign-in did not complete');
  });

  it('shows the IdP error code when sign-in is refused (e.g. terms rejected)', async () => {
    rejectNextLogin = true;
    const { response, hops, body } = await signIn('/my-delegates');
    const last = hops.at(-1)!.url;
    expect(last.pathname).toBe('/callback');
    expect(last.searchParams.get('error')).toBe('access_denied');
    expect(response.status).toBe(400);
    expect(body).toContain('Sign-in did not complete');
    expect(body).toContain('<code>access_denied</code>');
    expect(body).toContain('href="/my-delegates"');
    expect(body).toContain('Try again');
    expect(body).not.toContain('rejected the Terms'); // error_description is not echoed
  });

  it('answers temporarily_unavailable from the IdP (RFC 6749 §4.1.2.1) with a 503 "try again" page', async () => {
    const browser = new Browser();
    const start = await browser.request(`${portalUrl}/`);
    const state = new URL(start.headers.get('location')!).searchParams.get('state');
    const res = await browser.request(`${portalUrl}/callback?error=temporarily_unavailable&state=${state}&iss=${encodeURIComponent(issuer)}`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    const body = await res.text();
    expect(body).toContain('Sign-in is unavailable');
    expect(body).toContain('Try again');
  });

  it('logs out with a CSRF-checked form, through the IdP end_session_endpoint', async () => {
    const { browser, body: home } = await signIn();
    const csrf = csrfTokenOf(home);

    const forged = await browser.request(`${portalUrl}/logout`, { method: 'POST', form: { _csrf: 'x'.repeat(csrf.length) } });
    expect(forged.status).toBe(403);
    expect((await browser.request(`${portalUrl}/`)).status).toBe(200); // still signed in

    const logout = await browser.request(`${portalUrl}/logout`, { method: 'POST', form: { _csrf: csrf } });
    expect(logout.status).toBe(303);
    const endSession = new URL(logout.headers.get('location')!);
    const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { end_session_endpoint: string };
    expect(`${endSession.origin}${endSession.pathname}`).toBe(discovery.end_session_endpoint);
    expect(endSession.searchParams.get('id_token_hint')).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${portalUrl}/logged-out`);
    expect(endSession.searchParams.get('client_id')).toBe(CLIENT_ID);

    // The portal session is gone at once.
    const after = await browser.request(`${portalUrl}/`);
    expect(after.status).toBe(302);
    expect(after.headers.get('location')).toMatch(new RegExp(`^${issuer}/auth\\?`));

    // Confirm at the IdP (its default logout page) and land on /logged-out.
    const confirmPage = await browser.follow(endSession);
    expect(confirmPage.response.status).toBe(200);
    const action = /<form id="op.logoutForm" method="post" action="([^"]+)">/.exec(confirmPage.body)![1];
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirmPage.body)![1];
    const done = await browser.follow(new URL(action, issuer), { method: 'POST', form: { xsrf, logout: 'yes' } });
    expect(done.hops.at(-1)!.url.href).toBe(`${portalUrl}/logged-out`);
    expect(done.response.status).toBe(200);
    expect(done.body).toContain('You have been logged out');
    expect(done.body).toMatch(/<a class="button" href="\/">Log in again<\/a>/);

    // Signing in again needs a new login at the IdP (its session ended too).
    promptsSeen.length = 0;
    const again = await browser.follow(`${portalUrl}/`);
    expect(again.response.status).toBe(200);
    expect(promptsSeen).toContain('login');
  });

  it('ends an idle session after 8 hours', async () => {
    const { browser } = await signIn();
    clockOffsetMs = 3 * 60 * 60 * 1000; // active 3 hours later: still signed in
    expect((await browser.request(`${portalUrl}/`)).status).toBe(200);
    clockOffsetMs += 8 * 60 * 60 * 1000 + 1; // then idle for 8 hours (11 hours in all, under the 12-hour cap)
    try {
      expect((await browser.request(`${portalUrl}/`)).status).toBe(302);
    } finally {
      clockOffsetMs = 0;
    }
  });

  it('serves /health and the stylesheet without sign-in', async () => {
    const health = await fetch(`${portalUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    expect(health.headers.get('x-content-type-options')).toBe('nosniff');

    const css = await fetch(`${portalUrl}/css/portal.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    expect(await css.text()).toContain('.site-header');

    expect((await fetch(`${portalUrl}/css/other.css`, { redirect: 'manual' })).status).toBe(404);
    const loggedOut = await fetch(`${portalUrl}/logged-out`, { redirect: 'manual' });
    expect(loggedOut.status).toBe(200);
  });
});
