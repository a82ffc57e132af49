/**
 * My Account at the IdP (issue 14 item 6) in headless Chromium: sign in at the portal, follow My
 * Information's "Manage sign-in and security", and use each page — Remembered devices, Signed-in
 * sessions, Typing pattern, Change Password (after signing in again once the sign-in is older than
 * ACCOUNT_REAUTH_SECONDS, crossed with the test clock), Recent activity — against real PostgreSQL
 * and a real SMTP receiver, with the portal as relying party.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, codeIn } from '../helpers/accounts.ts';
import { launchChromium, newPage } from '../helpers/chromium.ts';
import type { TestIdp } from '../helpers/idp.ts';
import { PORTAL_TEST_SECRET, startIdpWithPortal } from '../helpers/portal.ts';

const CLIENT_SECRET = PORTAL_TEST_SECRET;
const EMAIL = 'avery.quinlan@example.com';
const USERNAME = 'AcctAvery1';
const PASSWORD = 'Qz7!kR9{mW';
const NEW_PASSWORD = 'Nw8$tLp2qZ';
let idp: TestIdp;
let stopIdpAndPortal: (() => Promise<void>) | undefined;
let portalUrl: string;
let browser: Browser;
let accountId: string;

beforeAll(async () => {
  ({ idp, portalUrl, stop: stopIdpAndPortal } = await startIdpWithPortal({}));
  accountId = await createAccount(idp, { producerNumber: '000104201', username: USERNAME });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stopIdpAndPortal?.();
});

/** On the IdP's Log In page: the password (username typed unless pre-filled), then the email code. */
async function logIn(page: Page, password: string, opts: { remember?: boolean } = {}): Promise<void> {
  await page.getByRole('heading', { name: 'Log In', exact: true }).waitFor();
  const username = page.getByLabel('Username', { exact: true });
  if ((await username.inputValue()) === '') await username.fill(USERNAME);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log In', exact: true }).click();
  await page.getByRole('heading', { name: 'Verify your Account', exact: true }).waitFor();
  idp.clock.advance(31); // codes are at least 30 seconds apart
  await page.getByRole('radio', { name: /Verify Account by Email/ }).check();
  const before = idp.smtp.to(EMAIL).length;
  await page.getByRole('button', { name: 'Send Code', exact: true }).click();
  await page.getByLabel('Verification code').waitFor();
  await expect.poll(() => idp.smtp.to(EMAIL).length).toBeGreaterThan(before);
  await page.getByLabel('Verification code').fill(codeIn(idp.smtp.to(EMAIL).at(-1)!.text));
  if (opts.remember) await page.getByRole('checkbox', { name: /Remember this device/ }).check();
  await page.getByRole('button', { name: 'Submit', exact: true }).click();
}

/** The page's notice (role=status). */
async function notice(page: Page): Promise<string> {
  return (await page.getByRole('status').textContent())?.trim() ?? '';
}

describe('My Account (issue 14 item 6) in Chromium', () => {
  it('from the portal to each page: devices, sessions, typing pattern, Change Password after signing in again, recent activity', async () => {
    const { context, page } = await newPage(browser);
    const second = await newPage(browser);
    try {
      // Sign in at the portal, remembering this device; My Information → "Manage sign-in and security".
      await page.goto(`${portalUrl}/`);
      await logIn(page, PASSWORD, { remember: true });
      await page.getByRole('heading', { name: 'Welcome, Avery Quinlan', exact: true }).waitFor();
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My Information', exact: true }).click();
      await page.getByRole('link', { name: 'Manage sign-in and security', exact: true }).click();
      await page.getByRole('heading', { name: 'My Account', exact: true }).waitFor();
      expect(page.url()).toBe(`${idp.url}/account`);
      expect(await page.textContent('body')).toContain(USERNAME);

      // Remembered devices: this browser, with its browser name, dates; Remove.
      await page.getByRole('link', { name: 'Remembered devices', exact: true }).first().click();
      await page.getByRole('heading', { name: 'Remembered devices', exact: true }).waitFor();
      const row = page.locator('#devices tbody tr');
      expect(await row.count()).toBe(1);
      expect(await row.first().textContent()).toMatch(/Chrome \d+ on Linux\s*\(this browser\)/);
      await row.first().getByRole('button', { name: 'Remove', exact: true }).click();
      await page.locator('#no-devices').waitFor();
      expect(await notice(page)).toContain('The device was removed.');

      // Signed-in sessions: a second browser signs in (straight to /account), then "Sign out of the others".
      await second.page.goto(`${idp.url}/account/sessions`);
      await logIn(second.page, PASSWORD);
      await second.page.getByRole('heading', { name: 'Signed-in sessions', exact: true }).waitFor();
      await page.getByRole('link', { name: 'Signed-in sessions', exact: true }).click();
      await page.getByRole('heading', { name: 'Signed-in sessions', exact: true }).waitFor();
      expect(await page.locator('#sessions tbody tr').count()).toBe(2);
      expect(await page.locator('#sessions tbody tr.current').textContent()).toContain('(this browser)');
      await page.getByRole('button', { name: 'Sign out of the others', exact: true }).click();
      await page.locator('#no-other-sessions').waitFor();
      expect(await notice(page)).toContain('signed out of every other session');
      await second.page.goto(`${idp.url}/account/sessions`);
      await second.page.getByRole('heading', { name: 'Log In', exact: true }).waitFor();

      // Typing pattern: Reset, with a mail to the owner.
      await idp.services.db.insertInto('keystroke_profiles').values({ account_id: accountId, sentence: idp.config.KEYSTROKE_SENTENCE, template: JSON.stringify({}), created_at: idp.clock.now(), updated_at: idp.clock.now() } as never).execute();
      await page.getByRole('link', { name: 'Typing pattern', exact: true }).click();
      await page.getByRole('button', { name: 'Reset typing pattern', exact: true }).click();
      await page.locator('#notice').waitFor();
      expect(await notice(page)).toContain('Your typing pattern was reset.');
      expect((await idp.smtp.waitFor(EMAIL, /typing pattern/)).text).toContain('was reset');

      // Change Password once the sign-in is older than ACCOUNT_REAUTH_SECONDS: Log In again first.
      idp.clock.advance(idp.config.ACCOUNT_REAUTH_SECONDS + 1);
      await page.getByRole('link', { name: 'Change Password', exact: true }).click();
      await page.getByRole('heading', { name: 'Log In', exact: true }).waitFor();
      expect(await page.getByLabel('Username', { exact: true }).inputValue()).toBe(USERNAME);
      await logIn(page, PASSWORD);
      await page.getByRole('heading', { name: 'Change Password', exact: true }).waitFor();
      expect(await page.textContent('body')).toContain('Password Must Have');
      await page.getByLabel('Current Password*', { exact: true }).fill(PASSWORD);
      await page.getByLabel('New Password*', { exact: true }).fill(NEW_PASSWORD);
      await page.getByRole('button', { name: 'Update Password', exact: true }).click();
      await page.locator('#notice').waitFor();
      expect(await notice(page)).toContain('Your password was changed.');
      expect((await idp.smtp.waitFor(EMAIL, /password was changed/)).text).toContain('every other session was signed out');

      // Recent activity: what happened, in plain words, with the browser.
      await page.getByRole('link', { name: 'Recent activity', exact: true }).click();
      const activity = (await page.locator('#activity').textContent()) ?? '';
      for (const words of ['Signed in', 'Password changed on My Account', 'Typing pattern reset', 'Signed out of the other sessions', 'Remembered device removed']) expect(activity).toContain(words);
      expect(activity).toMatch(/Chrome \d+ on Linux/);
    } finally {
      await context.close();
      await second.context.close();
    }
  });
});
