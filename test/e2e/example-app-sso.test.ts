/**
 * Single sign-on from the portal's Home to the example downstream application (issue 13; guide
 * slide 18, "Quote & Enroll"), and single logout by back-channel logout, in headless Chromium:
 * the real IdP (PostgreSQL, SMTP receiver), the portal and the example application as two relying
 * parties with their own clients, both keeping their sessions in PostgreSQL (portal_sessions).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Kysely } from 'kysely';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExampleApp } from '../../src/example-app/app.ts';
import { createPortalApp } from '../../src/portal/app.ts';
import { PgSessionStore, type PortalSessionDatabase } from '../../src/portal/session.ts';
import { createAccount, codeIn } from '../helpers/accounts.ts';
import { launchChromium, newPage } from '../helpers/chromium.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';

const PORTAL_SECRET = 'portal-secret-0123456789abcdefghijklmnopqrstuvwxyz';
const APP_SECRET = 'example-app-secret-0123456789abcdefghijklmnopqrstuvwxyz';
let idp: TestIdp;
const servers: http.Server[] = [];
let portalUrl: string;
let appUrl: string;
let browser: Browser;

async function listen(): Promise<[http.Server, string]> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  servers.push(server);
  return [server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`];
}

beforeAll(async () => {
  const [portalServer, pUrl] = await listen();
  const [appServer, aUrl] = await listen();
  portalUrl = pUrl;
  appUrl = aUrl;
  idp = await startIdp({
    PORTAL_URL: portalUrl, PORTAL_CLIENT_SECRET: PORTAL_SECRET, PORTAL_BACKCHANNEL_LOGOUT: true,
    EXAMPLE_APP_ENABLED: true, EXAMPLE_APP_URL: appUrl, EXAMPLE_APP_CLIENT_SECRET: APP_SECRET,
  });
  await createAccount(idp, { producerNumber: '000104201', username: 'SsoAvery1' });
  const sessionDb = idp.services.db as unknown as Kysely<PortalSessionDatabase>;
  const quiet = { warn: () => undefined, error: (obj: object, msg: string) => console.error(`[rp] ${msg}`, obj) };
  const portal = createPortalApp({
    portalUrl, issuer: idp.url, clientId: idp.config.PORTAL_CLIENT_ID, clientSecret: PORTAL_SECRET,
    cookieKeys: ['portal-test-cookie-key-0123456789abcdef'], secureCookies: false,
    productName: idp.config.PRODUCT_NAME, organizationName: idp.config.ORGANIZATION_NAME, allowInsecureRequests: true, logger: quiet,
    sessions: new PgSessionStore(sessionDb, idp.config.PORTAL_CLIENT_ID),
    homeLinks: [{ label: 'Quote & Enroll', url: `${appUrl}/quote-enroll`, description: 'Quote plans and enroll clients.', newTab: true }],
  });
  portalServer.on('request', portal.callback());
  const app = createExampleApp({
    appUrl, portalHomeUrl: portalUrl, issuer: idp.url, clientId: idp.config.EXAMPLE_APP_CLIENT_ID, clientSecret: APP_SECRET,
    cookieKeys: ['example-app-test-cookie-key-0123456789'], secureCookies: false,
    productName: 'Example downstream application', organizationName: idp.config.ORGANIZATION_NAME, allowInsecureRequests: true, logger: quiet,
    sessions: new PgSessionStore(sessionDb, idp.config.EXAMPLE_APP_CLIENT_ID),
  });
  appServer.on('request', app.callback());
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  await idp?.stop();
});

/** The value beside a label on the example application's page. */
async function fact(page: Page, label: string): Promise<string> {
  return (await page.locator('.fact', { has: page.locator('dt', { hasText: label }) }).locator('dd').textContent())!.trim();
}

describe('Quote & Enroll by single sign-on (guide slide 18)', () => {
  it('following Quote & Enroll signs the producer in at the example application without a password or code; Logout at the portal ends that session by back-channel logout', async () => {
    const { context, page } = await newPage(browser);
    try {
      // Sign in at the portal: password, then the email code (Verify your Account).
      await page.goto(`${portalUrl}/`);
      await page.getByRole('heading', { name: 'Log In', exact: true }).waitFor();
      await page.getByLabel('Username', { exact: true }).fill('SsoAvery1');
      await page.getByLabel('Password', { exact: true }).fill('Qz7!kR9{mW');
      await page.getByRole('button', { name: 'Log In', exact: true }).click();
      await page.getByRole('heading', { name: 'Verify your Account', exact: true }).waitFor();
      await page.getByRole('radio', { name: /Verify Account by Email/ }).check();
      const before = idp.smtp.to('avery.quinlan@example.com').length;
      await page.getByRole('button', { name: 'Send Code', exact: true }).click();
      await page.getByLabel('Verification code').waitFor();
      await expect.poll(() => idp.smtp.to('avery.quinlan@example.com').length).toBeGreaterThan(before);
      await page.getByLabel('Verification code').fill(codeIn(idp.smtp.to('avery.quinlan@example.com').at(-1)!.text));
      await page.getByRole('button', { name: 'Submit', exact: true }).click();
      await page.getByRole('heading', { name: 'Welcome, Avery Quinlan', exact: true }).waitFor();
      const mailsAfterSignIn = idp.smtp.to('avery.quinlan@example.com').length;

      // Home → "Open Quote & Enroll" opens the example application in a new tab.
      const idpPages: string[] = [];
      context.on('request', (req) => { if (req.isNavigationRequest() && req.url().startsWith(`${idp.url}/interaction/`)) idpPages.push(req.url()); });
      const [app] = await Promise.all([
        context.waitForEvent('page'),
        page.getByRole('link', { name: 'Open Quote & Enroll', exact: true }).click(),
      ]);
      await app.getByRole('heading', { name: 'Quote & Enroll', level: 1 }).waitFor();
      expect(new URL(app.url()).origin).toBe(appUrl);
      // No page of the IdP was shown on the way (no Log In, no Verify your Account), and no code was mailed.
      expect(idpPages).toEqual([]);
      expect(idp.smtp.to('avery.quinlan@example.com').length).toBe(mailsAfterSignIn);
      await app.getByRole('heading', { name: 'Signed in', level: 2 }).waitFor();
      expect(await fact(app, 'Name')).toBe('Avery Quinlan');
      expect(await fact(app, 'Producer Number')).toBe('000104201');
      // The ID token says how the producer authenticated at the IdP: password and the mailed code.
      expect((await fact(app, 'Authentication methods (amr)')).split(', ')).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa'])); // RFC 8176 §2
      expect(await fact(app, 'Authentication context (acr)')).toBe(idp.config.ACR_MFA);

      // Logout at the portal: portal → the IdP's confirmation → the portal's logged-out page.
      await page.bringToFront();
      await page.getByRole('button', { name: 'Logout', exact: true }).click();
      await page.getByRole('heading', { name: 'Log out', exact: true }).waitFor();
      await page.getByRole('button', { name: 'Log out', exact: true }).click();
      await page.getByText('You have been logged out.').waitFor();

      // The IdP's logout token reaches the example application, which ends its session: its page says so.
      await app.bringToFront();
      await expect.poll(async () => {
        await app.reload();
        return app.getByRole('heading', { name: 'Signed out', level: 2 }).count();
      }, { timeout: 15_000, interval: 200 }).toBe(1);
      await app.getByText('You are signed out.').waitFor();
      expect(await app.getByRole('button', { name: 'Logout' }).count()).toBe(0);
    } finally {
      await context.close();
    }
  });
});
