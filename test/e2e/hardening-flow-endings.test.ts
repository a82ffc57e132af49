/**
 * Issue 9 "Hardening", item 10: every self-service flow ends on a page the person sees. In headless
 * Chromium (which applies the page's CSP `form-action 'self'` to the redirects after a form post),
 * Forgot Password is walked in from each way in — the login page of a sign-in, no sign-in at all,
 * registration's "already registered" links, and a sign-in that expired meanwhile — and Forgot
 * Username and the unlock link are walked to their ends.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertProducers } from '../../src/db/repositories/producers.ts';
import { codeIn, createAccount, pkce, portalRedirect } from '../helpers/accounts.ts';
import { launchChromium, newPage } from '../helpers/chromium.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';
import { linkIn } from '../helpers/smtp.ts';

let idp: TestIdp;
let browser: Browser;

beforeAll(async () => {
  idp = await startIdp({ RATE_LIMIT_RECOVERY_POINTS: 100_000, RATE_LIMIT_LOGIN_POINTS: 100_000 });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await idp?.stop();
});

async function producerWithAccount() {
  const tag = randomBytes(4).toString('hex');
  const producerNumber = String(randomInt(200_000_000, 999_999_999));
  const npn = String(randomInt(10_000_000, 99_999_999));
  const email = `end.${tag}@agency-${tag}.example.com`;
  await upsertProducers(idp.services.db, [{
    producerNumber, npn, firstName: 'Sam', lastName: `End${tag}`, agencyName: null,
    email, mobilePhone: null, businessZip: '60601', bapZip: null, parentProducerNumber: null, status: 'active',
  }]);
  const username = `End${tag}`;
  const id = await createAccount(idp, { producerNumber, username });
  return { id, producerNumber, npn, email, username };
}

/** Opens an authorization request of the portal client; returns the interaction path of the login page. */
async function startSignIn(page: Page): Promise<string> {
  const params = new URLSearchParams({
    client_id: idp.config.PORTAL_CLIENT_ID, redirect_uri: portalRedirect(idp), response_type: 'code', scope: 'openid',
    code_challenge: pkce().challenge, code_challenge_method: 'S256', state: 's', nonce: 'n', prompt: 'login',
  });
  await page.goto(`${idp.url}/auth?${params}`);
  await page.getByRole('heading', { name: 'Log In', exact: true }).waitFor();
  return new URL(page.url()).pathname;
}

async function codeMail(email: string, count: number): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const mails = idp.smtp.to(email).filter((m) => /password reset code/.test(m.subject));
    if (mails.length >= count) return codeIn(mails[count - 1].text);
    if (Date.now() > deadline) throw new Error(`no reset code mail to ${email}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Steps 1-4 of Forgot Password from its first page; `beforeLast` runs before "Update Password". */
async function walkForgotPassword(page: Page, who: { username: string; email: string }, beforeLast?: () => Promise<void>) {
  await page.getByRole('heading', { name: 'Forgot Password' }).first().waitFor();
  await page.getByLabel('Username', { exact: true }).fill(who.username);
  await page.getByRole('button', { name: 'Find Account', exact: true }).click();
  await page.getByRole('button', { name: 'Send Code', exact: true }).click();
  await page.getByLabel('Verification Code', { exact: true }).waitFor();
  await page.getByLabel('Verification Code', { exact: true }).fill(await codeMail(who.email, 1));
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await page.getByLabel('New Password*', { exact: true }).fill('Wx4{bT8!cZ');
  if (beforeLast) await beforeLast();
  await page.getByRole('button', { name: 'Update Password', exact: true }).click();
}

async function passwordChanged(id: string): Promise<boolean> {
  const row = await idp.services.db.selectFrom('accounts').select('password_hash').where('id', '=', id).executeTakeFirstOrThrow();
  return idp.services.hasher.verify(row.password_hash, 'Wx4{bT8!cZ');
}

describe('kind: Forgot Password finished outside a sign-in gets stuck (issue 9, item 10)', () => {
  it('from the login page of a sign-in: back on that login page, with the message', async () => {
    const who = await producerWithAccount();
    const { context, page } = await newPage(browser);
    try {
      const loginPath = await startSignIn(page);
      await page.getByRole('link', { name: 'Forgot Password', exact: true }).click();
      await walkForgotPassword(page, who);
      await page.getByText('Your password was changed. Log in with your new password.').waitFor();
      expect(new URL(page.url()).pathname).toBe(loginPath);
      expect(await passwordChanged(who.id)).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('with no sign-in in progress: ends on a page that says the password was changed', async () => {
    const who = await producerWithAccount();
    const { context, page } = await newPage(browser);
    try {
      await page.goto(`${idp.url}/forgot-password`);
      await walkForgotPassword(page, who);
      await page.getByText('Your password was changed. Log in with your new password.').waitFor();
      expect(new URL(page.url()).pathname).toBe('/forgot-password/done');
      await page.getByRole('link', { name: 'Return to Log In', exact: true }).waitFor();
      expect(await passwordChanged(who.id)).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('from registration\'s "already registered" links: ends on a page that says the password was changed', async () => {
    const who = await producerWithAccount();
    const { context, page } = await newPage(browser);
    try {
      await page.goto(`${idp.url}/register`);
      await page.getByRole('button', { name: 'Accept', exact: true }).click();
      await page.getByLabel('Producer Number*', { exact: true }).fill(who.producerNumber);
      await page.getByLabel('National Producer Number*', { exact: true }).fill(who.npn);
      await page.getByLabel('Zip Code*', { exact: true }).fill('60601');
      await page.getByRole('button', { name: 'Continue', exact: true }).click();
      await page.getByRole('link', { name: 'Forgot Password', exact: true }).click();
      await walkForgotPassword(page, who);
      await page.getByText('Your password was changed. Log in with your new password.').waitFor();
      expect(await passwordChanged(who.id)).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('after the sign-in expired: ends on a page that says the password was changed', async () => {
    const who = await producerWithAccount();
    const { context, page } = await newPage(browser);
    try {
      const loginPath = await startSignIn(page);
      await page.getByRole('link', { name: 'Forgot Password', exact: true }).click();
      await walkForgotPassword(page, who, async () => {
        const uid = loginPath.split('/')[2]!;
        await (await idp.provider.Interaction.find(uid))?.destroy(); // the sign-in expires meanwhile
      });
      await page.getByText('Your password was changed. Log in with your new password.').waitFor();
      expect(new URL(page.url()).pathname).toBe('/forgot-password/done');
      expect(await passwordChanged(who.id)).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('Forgot Username and the unlock link end on pages that say what happened', async () => {
    const who = await producerWithAccount();
    await idp.services.db.updateTable('accounts').set({ failed_login_count: 5, locked_until: new Date(idp.clock.now().getTime() + 1800_000) }).where('id', '=', who.id).execute();
    const { context, page } = await newPage(browser);
    try {
      await page.goto(`${idp.url}/forgot-username`);
      await page.getByLabel('Email address', { exact: true }).fill(who.email);
      await page.getByRole('button', { name: 'Send Email', exact: true }).click();
      await page.getByText('If an account exists for this address').first().waitFor();
      const mail = await idp.smtp.waitFor(who.email, /username/);
      await page.goto(linkIn(mail.text, '/unlock'));
      await page.getByRole('button', { name: 'Unlock Account', exact: true }).click();
      await page.getByText('Your account is unlocked. You can log in now.').waitFor();
      const row = await idp.services.db.selectFrom('accounts').select('locked_until').where('id', '=', who.id).executeTakeFirstOrThrow();
      expect(row.locked_until).toBeNull();
    } finally {
      await context.close();
    }
  });
});
