/**
 * End-to-end journeys over real HTTP on 127.0.0.1: the IdP (startIdp: fresh PostgreSQL schema, real
 * SMTP receiver) and the producer portal (createPortalApp, a relying party through openid-client),
 * each on its own port.
 *
 * 1. In headless Chromium: portal → IdP login → "New User? Register Here" → Terms → Steps 1-3 →
 *    the confirmation mail's link → "Return to Log In" → Log In → portal Home → Logout.
 * 2. Without a browser: openid-client 6 as a relying party against the IdP's discovery
 *    (authorization code + PKCE + state + nonce, ID token, UserInfo, refresh, code replay), and a
 *    public client that omits PKCE.
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { registerClient } from '../../src/oidc/clients.ts';
import { Agent, csrfOf, formAction } from '../helpers/browser.ts';
import { launchChromium, newPage } from '../helpers/chromium.ts';
import type { TestIdp } from '../helpers/idp.ts';
import { PORTAL_TEST_SECRET, startIdpWithPortal } from '../helpers/portal.ts';
import { linkIn } from '../helpers/smtp.ts';
import { codeIn } from '../helpers/accounts.ts';

const CLIENT_ID = 'producer-portal';
const CLIENT_SECRET = PORTAL_TEST_SECRET;

let idp: TestIdp;
let stopIdpAndPortal: (() => Promise<void>) | undefined;
let portalUrl: string;

beforeAll(async () => {
  ({ idp, portalUrl, stop: stopIdpAndPortal } = await startIdpWithPortal({ PORTAL_CLIENT_ID: CLIENT_ID }));
});

afterAll(async () => {
  await stopIdpAndPortal?.();
});

/** The text of the `<dd>` next to the `<dt>` labelled `label` in the portal's My Information panel. */
async function fact(page: Page, label: string): Promise<string> {
  const row = page.locator('.fact', { has: page.locator('dt', { hasText: new RegExp(`^${label}$`) }) });
  return ((await row.locator('dd').textContent()) ?? '').trim();
}

describe('producer journey in a browser', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('registers from the login page, confirms the email, logs in to the portal Home page and logs out', async () => {
    const { context, page } = await newPage(browser);
    const idpOrigin = new URL(idp.url).origin;
    // Content-Security-Policy violations (a blocked script, style or form target) and script errors
    // show up here. (Chromium's own /favicon.ico requests answer 404 and are not counted.)
    const consoleErrors: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(`${page.url()}: ${msg.text()}`);
    });
    page.on('pageerror', (err) => consoleErrors.push(`${page.url()}: ${err.message}`));
    try {
      // The portal sends a signed-out visitor to the IdP's login page.
      await page.goto(`${portalUrl}/`);
      await page.getByRole('heading', { name: 'Log In', exact: true }).waitFor();
      expect(new URL(page.url()).origin).toBe(idpOrigin);
      expect(new URL(page.url()).pathname).toMatch(/^\/interaction\/[A-Za-z0-9_-]+$/);
      const interactionPath = new URL(page.url()).pathname;

      // Terms of Use.
      await page.getByRole('link', { name: 'New User? Register Here', exact: true }).click();
      await page.getByRole('heading', { name: 'Terms of Use', exact: true }).waitFor();
      await page.getByRole('button', { name: 'Accept', exact: true }).click();

      // Step 1 of 3: short producer number (left-padded by the IdP) and ZIP+4.
      await page.getByRole('heading', { name: 'Enter Producer Information', exact: true }).waitFor();
      await page.getByLabel('Producer Number*', { exact: true }).fill('104201');
      await page.getByLabel('National Producer Number*', { exact: true }).fill('19000001');
      await page.getByLabel('Zip Code*', { exact: true }).fill('60601-1234');
      await page.getByRole('button', { name: 'Continue', exact: true }).click();

      // Step 2 of 3.
      await page.getByRole('heading', { name: 'Create Your Secure Login', exact: true }).waitFor();
      await page.getByLabel('Username*', { exact: true }).fill('averyq2024');
      const unmet = page.locator('[data-password-rules] li[data-state="unmet"]');
      expect(await unmet.count()).toBeGreaterThan(0);
      await page.getByLabel('Password*', { exact: true }).fill('Qz7!kR9{mW');
      // The live checklist (public/js/password-checklist.js, allowed by the CSP) marks every rule met.
      await page.locator('[data-password-rules] li[data-rule="password.special"][data-state="met"]').waitFor();
      expect(await unmet.count()).toBe(0);
      await page.getByRole('button', { name: 'Create Login', exact: true }).click();

      // Step 3 of 3: the mail goes to the address on the producer record.
      await page.getByRole('heading', { name: 'Verify Your Email', exact: true }).waitFor();
      expect(new URL(page.url()).pathname).toBe('/register/verify-email');
      const mail = await idp.smtp.waitFor('avery.quinlan@example.com', /Confirm/);
      expect(mail.text).toContain('Confirm Your Email Address');
      expect(mail.text).toContain('averyq2024');
      const link = linkIn(mail.text, '/verify-email');
      expect(new URL(link).origin).toBe(idpOrigin);

      // The link shows a page with one button; only its POST confirms (issue 9, item 6).
      await page.goto(link);
      await page.getByRole('button', { name: 'Confirm Your Email Address', exact: true }).click();
      await page.getByText('Your email address is confirmed. You can now log in.').waitFor();

      // "Return to Log In" resumes the sign-in the portal started.
      await page.getByRole('link', { name: 'Return to Log In', exact: true }).click();
      await page.getByRole('heading', { name: 'Log In', exact: true }).waitFor();
      expect(new URL(page.url()).pathname).toBe(interactionPath);

      await page.getByLabel('Username', { exact: true }).fill('averyq2024');
      await page.getByLabel('Password', { exact: true }).fill('Qz7!kR9{mW');
      await page.getByRole('button', { name: 'Log In', exact: true }).click();

      // Verify your Account (guide slides 8-9): by email, remembering this device.
      await page.getByRole('heading', { name: 'Verify your Account', exact: true }).waitFor();
      await page.getByRole('radio', { name: /Verify Account by Email/ }).check();
      expect(await page.getByText('Send verification code in an email to xxxxxxxxxnlan@example.com').count()).toBe(1);
      const mailsBefore = idp.smtp.to('avery.quinlan@example.com').length;
      await page.getByRole('button', { name: 'Send Code', exact: true }).click();
      await page.getByLabel('Verification code').waitFor();
      await expect.poll(() => idp.smtp.to('avery.quinlan@example.com').length).toBeGreaterThan(mailsBefore);
      await page.getByLabel('Verification code').fill(codeIn(idp.smtp.to('avery.quinlan@example.com').at(-1)!.text));
      await page.getByRole('checkbox', { name: /Remember this device for 30 days/ }).check();
      await page.getByRole('button', { name: 'Submit', exact: true }).click();

      // Portal Home with what the IdP released.
      await page.getByRole('heading', { name: 'Welcome, Avery Quinlan', exact: true }).waitFor();
      expect(page.url()).toBe(`${portalUrl}/`);
      expect(await fact(page, 'Name')).toBe('Avery Quinlan');
      expect(await fact(page, 'Producer Number')).toBe('000104201');
      expect(await fact(page, 'NPN')).toBe('19000001');
      expect(await fact(page, 'Email')).toBe('avery.quinlan@example.com');
      expect(await fact(page, 'Agency')).toBe('Lakeside Insurance Group');

      // Logout: portal → IdP confirmation → portal's logged-out page.
      await page.getByRole('button', { name: 'Logout', exact: true }).click();
      await page.getByRole('heading', { name: 'Log out', exact: true }).waitFor();
      expect(new URL(page.url()).origin).toBe(idpOrigin);
      await page.getByRole('button', { name: 'Log out', exact: true }).click();
      await page.waitForURL(`${portalUrl}/logged-out`);
      await page.getByText('You have been logged out.').waitFor();

      // Both sessions ended: the portal asks the IdP again, and the IdP asks for the password;
      // the remembered device skips "Verify your Account".
      await page.goto(`${portalUrl}/`);
      await page.getByRole('heading', { name: 'Log In', exact: true }).waitFor();
      expect(new URL(page.url()).origin).toBe(idpOrigin);
      await page.getByLabel('Username', { exact: true }).fill('averyq2024');
      await page.getByLabel('Password', { exact: true }).fill('Qz7!kR9{mW');
      await page.getByRole('button', { name: 'Log In', exact: true }).click();
      await page.getByRole('heading', { name: 'Welcome, Avery Quinlan', exact: true }).waitFor();

      expect(consoleErrors.filter((e) => /Content.Security.Policy|Refused to|Uncaught/i.test(e))).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

// ---- openid-client as a relying party, no browser -----------------------------------------------

/** The value of the hidden `version` field of the Terms of Use form. */
function termsVersionOf(html: string): string {
  const m = html.match(/name="version" value="([^"]+)"/);
  if (!m) throw new Error('no terms version in page');
  return m[1];
}

/** Registers and confirms an account through the IdP's pages (no interaction), as a browser would. */
async function registerAccount(agent: Agent, base: string, p: { producerNumber: string; npn: string; zip: string; email: string; username: string; password: string }): Promise<void> {
  const terms = await agent.request(`${base}/register`);
  expect(terms.status).toBe(200);
  const accepted = await agent.request(`${base}/register/terms`, { form: { _csrf: csrfOf(terms.text), version: termsVersionOf(terms.text), decision: 'accept' } });
  expect(accepted.status).toBe(303);
  const step1 = await agent.request(accepted.location!);
  expect(step1.status).toBe(200);
  const matched = await agent.request(`${base}/register/producer`, { form: { _csrf: csrfOf(step1.text), producerNumber: p.producerNumber, npn: p.npn, zip: p.zip } });
  expect(matched.status, matched.text).toBe(303);
  const step2 = await agent.request(matched.location!);
  expect(step2.status).toBe(200);
  const created = await agent.request(`${base}/register/login`, { form: { _csrf: csrfOf(step2.text), username: p.username, password: p.password } });
  expect(created.status, created.text).toBe(303);
  expect(new URL(created.location!).pathname).toBe('/register/verify-email');
  const mail = await idp.smtp.waitFor(p.email, /Confirm/);
  const link = linkIn(mail.text, '/verify-email');
  const shown = await agent.request(link);
  expect(shown.status).toBe(200);
  const confirmed = await agent.request(`${base}/verify-email`, { form: { _csrf: csrfOf(shown.text), token: new URL(link).searchParams.get('token')! } });
  expect(confirmed.status).toBe(200);
  expect(confirmed.text).toContain('Your email address is confirmed.');
}

/**
 * Follows an authorization request in `agent` until the IdP redirects to `redirectUri`, signing in
 * on the login page when it is shown. Returns that redirect (not requested).
 */
async function authorize(agent: Agent, url: URL, redirectUri: string, login?: { username: string; password: string; email?: string }): Promise<URL> {
  const email = login?.email;
  let res = await agent.request(url.href);
  for (let i = 0; i < 20; i++) {
    if (res.location?.startsWith(`${redirectUri}?`)) return new URL(res.location);
    if (res.location && res.status >= 300 && res.status < 400) {
      res = await agent.request(res.location);
      continue;
    }
    if (res.status === 200 && login && /\/interaction\/[^/]+$/.test(new URL(res.url).pathname)) {
      const action = new URL(formAction(res.text, /\/login$/), res.url).href;
      res = await agent.request(action, { form: { _csrf: csrfOf(res.text), username: login.username, password: login.password } });
      login = undefined;
      continue;
    }
    // Verify your Account by email code (guide slide 9).
    if (res.status === 200 && email && res.text.includes('Verify your Account') && res.text.includes('name="action" value="choose"')) {
      const action = new URL(formAction(res.text, /\/login$/), res.url).href;
      const before = idp.smtp.to(email).length;
      res = await agent.follow(action, { form: { _csrf: csrfOf(res.text), action: 'choose', factor: 'email' } }); // 303 to the code page
      for (let i = 0; i < 50 && idp.smtp.to(email).length <= before; i++) await new Promise((r) => setTimeout(r, 100));
      res = await agent.request(action, { form: { _csrf: csrfOf(res.text), action: 'verify', code: codeIn(idp.smtp.to(email).at(-1)!.text) } });
      continue;
    }
    throw new Error(`unexpected ${res.status} at ${res.url}: ${res.text.slice(0, 500)}`);
  }
  throw new Error('too many redirects');
}

/**
 * The portal client's openid-client configuration from the IdP's discovery document, with
 * non-repudiation checks on: openid-client then also verifies ID token signatures against the
 * IdP's jwks_uri (by default it relies on TLS for tokens from the token endpoint).
 */
async function portalClientConfig(): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(idp.url), CLIENT_ID, undefined, oidc.ClientSecretBasic(CLIENT_SECRET), {
    execute: [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks],
  });
}

/**
 * One authorization code flow (PKCE S256, state, nonce) for the portal client, driven by `agent`,
 * redeemed with openid-client, which validates the ID token (JWS signature against the IdP's JWKS,
 * see portalClientConfig; iss, aud, exp, iat, nonce) and the authorization response's state and iss.
 */
async function codeFlow(config: oidc.Configuration, agent: Agent, login?: { username: string; password: string; email?: string }) {
  const redirectUri = `${portalUrl}/callback`;
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email producer',
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const callback = await authorize(agent, url, redirectUri, login);
  const checks = { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true };
  const tokens = await oidc.authorizationCodeGrant(config, callback, checks);
  return { callback, checks, tokens, nonce };
}

describe('openid-client relying party (no browser)', () => {
  it('code flow with PKCE, state and nonce: validated ID token, UserInfo, refresh, stable sub; a replayed code fails and revokes its tokens', async () => {
    const jordan = { producerNumber: '104202', npn: '19000002', zip: '60601', email: 'jordan.ellery@example.com', username: 'jordanE77', password: 'Tb4%wX8(nL' };
    const agent = new Agent();
    await registerAccount(agent, idp.url, jordan);

    const config = await portalClientConfig();
    expect(config.serverMetadata().issuer).toBe(idp.url);

    const first = await codeFlow(config, agent, { username: jordan.username, password: jordan.password, email: jordan.email });
    const claims = first.tokens.claims()!;
    expect(claims.iss).toBe(idp.url);
    expect(claims.aud).toBe(CLIENT_ID);
    expect(claims.nonce).toBe(first.nonce);
    expect(typeof claims.sub).toBe('string');
    expect(first.tokens.token_type.toLowerCase()).toBe('bearer');

    // The signature, checked once more independently of openid-client with jose and the JWKS.
    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const verified = await jwtVerify(first.tokens.id_token!, jwks, { issuer: idp.url, audience: CLIENT_ID });
    expect(verified.payload.sub).toBe(claims.sub);
    const [header, payload, signature] = first.tokens.id_token!.split('.');
    const tampered = `${header}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    await expect(jwtVerify(tampered, jwks, { issuer: idp.url, audience: CLIENT_ID })).rejects.toThrow();

    const userinfo = await oidc.fetchUserInfo(config, first.tokens.access_token, claims.sub);
    expect(userinfo).toMatchObject({
      sub: claims.sub,
      producer_number: '000104202',
      npn: '19000002',
      agency_name: 'Lakeside Insurance Group',
      email: 'jordan.ellery@example.com',
      email_verified: true,
      given_name: 'Jordan',
      family_name: 'Ellery',
    });
    expect(userinfo).not.toHaveProperty('phone_number'); // scope phone was not asked for

    // Refresh grant.
    expect(first.tokens.refresh_token).toBeTruthy();
    const refreshed = await oidc.refreshTokenGrant(config, first.tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    expect(refreshed.access_token).not.toBe(first.tokens.access_token);
    if (refreshed.id_token) expect(refreshed.claims()!.sub).toBe(claims.sub);
    const again = await oidc.fetchUserInfo(config, refreshed.access_token, claims.sub);
    expect(again.producer_number).toBe('000104202');

    // Redeeming the same code twice fails.
    const replay = await oidc.authorizationCodeGrant(config, first.callback, first.checks).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(replay).toBeInstanceOf(oidc.ResponseBodyError);
    expect((replay as oidc.ResponseBodyError).error).toBe('invalid_grant');
    // … and revokes what the code had yielded (RFC 6749 §4.1.2): access and refresh tokens.
    await expect(oidc.fetchUserInfo(config, refreshed.access_token, claims.sub)).rejects.toThrow();
    await expect(oidc.refreshTokenGrant(config, refreshed.refresh_token ?? first.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

    // A second sign-in (the IdP session is still there: no password asked) yields the same sub.
    const second = await codeFlow(config, agent);
    expect(second.tokens.claims()!.sub).toBe(claims.sub);
  });

  // RFC 8176: the ID token says which methods authenticated the producer.
  describe('amr', () => {
    let idTokenClaims: oidc.IDToken;

    beforeAll(async () => {
      // Morgan Talbot, matched by the BAP zip code.
      const morgan = { producerNumber: '104203', npn: '19000003', zip: '60615', email: 'morgan.talbot@example.com', username: 'morganT2026', password: 'Hv6&pN3}cR' };
      const agent = new Agent();
      await registerAccount(agent, idp.url, morgan);
      const { tokens } = await codeFlow(await portalClientConfig(), agent, { username: morgan.username, password: morgan.password, email: morgan.email });
      idTokenClaims = tokens.claims()!;
      expect(idTokenClaims.sub).toBeTruthy();
    });

    it('the ID token says how the producer authenticated: amr pwd + otp + mfa, acr of a fresh second factor', () => {
      expect(idTokenClaims.amr).toEqual(['pwd', 'otp', 'mfa']);
      expect(idTokenClaims.acr).toBe(idp.config.ACR_MFA);
    });
  });

  it('refuses an authorization request without PKCE from a public client (invalid_request)', async () => {
    const redirectUri = `${portalUrl}/spa-callback`;
    const registered = await registerClient(idp.services.db, idp.provider, {
      name: 'Public test app',
      redirectUris: [redirectUri],
      public: true,
      firstParty: true,
    });
    const clientId = String(registered.client_id);
    expect(registered).not.toHaveProperty('client_secret');

    const auth = (extra: Record<string, string>) => {
      const url = new URL('/auth', idp.url);
      url.search = new URLSearchParams({ client_id: clientId, response_type: 'code', scope: 'openid', redirect_uri: redirectUri, state: 'st-123', nonce: 'n-123', ...extra }).toString();
      return url.href;
    };

    const agent = new Agent();
    const refused = await agent.request(auth({}));
    expect(refused.status).toBeGreaterThanOrEqual(300);
    expect(refused.status).toBeLessThan(400);
    const back = new URL(refused.location!);
    expect(`${back.origin}${back.pathname}`).toBe(redirectUri);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('error_description') ?? '').toMatch(/PKCE/i);
    expect(back.searchParams.get('state')).toBe('st-123');

    // Control: the same request with PKCE is accepted and goes on to the login page.
    const verifier = oidc.randomPKCECodeVerifier();
    const accepted = await agent.request(auth({ code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }));
    expect(accepted.status).toBeGreaterThanOrEqual(300);
    expect(accepted.status).toBeLessThan(400);
    expect(new URL(accepted.location!).pathname).toMatch(/^\/interaction\//);
  });
});
