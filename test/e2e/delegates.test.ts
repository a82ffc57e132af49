/**
 * The delegate journey (issue 14 "Done when") in headless Chromium, against the real IdP
 * (PostgreSQL, SMTP receiver) and the portal as its relying party with back-channel logout:
 * a producer invites from View/Add My Delegates → the invitation mail → the person registers as a
 * delegate → signs in (Verify your Account by their own email) → accepts a second producer's
 * invitation → chooses who they are working for → portal Home "Working for …" → the producer
 * removes them → their portal and IdP sessions end.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findAccountById } from '../../src/db/repositories/accounts.ts';
import { inviteDelegate } from '../../src/delegates/service.ts';
import { createAccount, codeIn } from '../helpers/accounts.ts';
import { launchChromium, newPage } from '../helpers/chromium.ts';
import type { TestIdp } from '../helpers/idp.ts';
import { PORTAL_TEST_SECRET, startIdpWithPortal } from '../helpers/portal.ts';

const CLIENT_SECRET = PORTAL_TEST_SECRET;
const PASSWORD = 'Qz7!kR9{mW';
const AVERY = { username: 'DlgAvery01', email: 'avery.quinlan@example.com' };
const CASEY = { username: 'CaseyDelegate1', email: 'casey.office@example.test' };
let idp: TestIdp;
let stopIdpAndPortal: (() => Promise<void>) | undefined;
let portalUrl: string;
let browser: Browser;
let jordanId: string;

beforeAll(async () => {
  ({ idp, portalUrl, stop: stopIdpAndPortal } = await startIdpWithPortal({ PORTAL_BACKCHANNEL_LOGOUT: true }, (idp) => ({
    hierarchyApi: { resource: idp.config.PRODUCER_API_RESOURCE, url: `${idp.url}/api/producers/me/hierarchy` },
  })));
  await createAccount(idp, { producerNumber: '000104201', username: AVERY.username });
  jordanId = await createAccount(idp, { producerNumber: '000104202', username: 'DlgJordan01' });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stopIdpAndPortal?.();
});

/** On the IdP's Log In page: username, password, then Verify your Account by an email code to `email`. */
async function logIn(page: Page, username: string, email: string): Promise<void> {
  await page.getByRole('heading', { name: 'Log In', exact: true }).waitFor();
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Log In', exact: true }).click();
  await page.getByRole('heading', { name: 'Verify your Account', exact: true }).waitFor();
  idp.clock.advance(31); // codes are at least 30 seconds apart
  await page.getByRole('radio', { name: /Verify Account by Email/ }).check();
  const before = idp.smtp.to(email).length;
  await page.getByRole('button', { name: 'Send Code', exact: true }).click();
  await page.getByLabel('Verification code').waitFor();
  await expect.poll(() => idp.smtp.to(email).length).toBeGreaterThan(before);
  await page.getByLabel('Verification code').fill(codeIn(idp.smtp.to(email).at(-1)!.text));
  await page.getByRole('button', { name: 'Submit', exact: true }).click();
}

/** The link of the latest invitation mail from `producerName` to `email`. */
async function invitationLink(email: string, producerName: string): Promise<string> {
  const mails = () => idp.smtp.to(email).filter((m) => m.subject.startsWith(`${producerName} invited you`));
  await expect.poll(() => mails().length).toBeGreaterThan(0);
  return /(http:\/\/\S+\/delegates\/accept\?token=[A-Za-z0-9_-]+)/.exec(mails().at(-1)!.text)![1]!;
}

describe('delegates in Chromium', () => {
  it('invite → mail → register as delegate → sign in → choose the producer → Home "Working for …" → removal ends access', async () => {
    const producer = await newPage(browser);
    const delegate = await newPage(browser);
    try {
      // The producer: portal → View/Add My Delegates (the IdP's page) → Add Delegate.
      const p = producer.page;
      await p.goto(`${portalUrl}/`);
      await logIn(p, AVERY.username, AVERY.email);
      await p.getByRole('heading', { name: 'Welcome, Avery Quinlan', exact: true }).waitFor();
      expect(await p.locator('.working-for').count()).toBe(0);
      await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'View/Add My Delegates', exact: true }).click();
      await p.getByRole('heading', { name: 'View/Add My Delegates', level: 1 }).waitFor();
      expect(new URL(p.url()).origin).toBe(idp.url);
      await p.getByRole('link', { name: 'Add Delegate', exact: true }).click();
      await p.getByLabel('First Name*', { exact: true }).fill('Casey');
      await p.getByLabel('Last Name*', { exact: true }).fill('Office');
      await p.getByLabel('Email*', { exact: true }).fill(CASEY.email);
      await p.getByRole('checkbox', { name: 'Quote & Enroll' }).check();
      await p.getByRole('checkbox', { name: 'View My Hierarchy' }).check();
      await p.getByRole('button', { name: 'Send Invitation', exact: true }).click();
      await p.getByRole('heading', { name: 'View/Add My Delegates', level: 1 }).waitFor();
      const row = p.locator('tr', { hasText: 'Casey Office' });
      expect((await row.locator('td').nth(1).textContent())?.trim()).toBe('Invited');
      expect((await row.locator('td').nth(2).textContent())?.trim()).toBe('Quote & Enroll, View My Hierarchy');

      // A second producer invites the same person (through the same service as the page).
      const jordan = (await findAccountById(idp.services.db, jordanId))!;
      const second = await inviteDelegate(idp.services, jordan, { firstName: 'Casey', lastName: 'Office', email: CASEY.email, permissions: ['commissions_reporting'] }, {});
      expect(second.ok).toBe(true);

      // The delegate: the mail link → Accept Invitation → Terms of Use → Create Your Secure Login.
      const d = delegate.page;
      const avery = await invitationLink(CASEY.email, 'Avery Quinlan');
      await d.goto(avery);
      await d.getByText('Avery Quinlan invited you').waitFor();
      await d.getByRole('button', { name: 'Accept Invitation', exact: true }).click();
      await d.getByRole('heading', { name: 'Terms of Use', exact: true }).waitFor();
      await d.getByRole('button', { name: 'Accept', exact: true }).click();
      await d.getByRole('heading', { name: 'Create Your Secure Login', exact: true }).waitFor();
      await d.getByLabel('Username*', { exact: true }).fill(CASEY.username);
      await d.getByLabel('Password*', { exact: true }).fill(PASSWORD);
      await d.getByRole('button', { name: 'Create Login', exact: true }).click();
      await d.getByText('you are now a delegate of Avery Quinlan').waitFor();
      await expect.poll(() => idp.smtp.to(AVERY.email).filter((m) => /is now your delegate/.test(m.subject)).length).toBe(1);

      // Jordan's invitation, accepted with the login just made (sign in, then back to the link).
      const jordanLink = await invitationLink(CASEY.email, 'Jordan Ellery');
      await d.goto(jordanLink);
      await d.getByText('Jordan Ellery invited you').waitFor();
      await d.getByRole('link', { name: 'Log in to accept with it' }).click();
      await logIn(d, CASEY.username, CASEY.email);
      await d.getByText('You are logged in as').waitFor();
      await d.getByRole('button', { name: 'Accept Invitation', exact: true }).click();
      await d.getByText('You are now a delegate of Jordan Ellery').waitFor();

      // The portal: Choose who you are working for → Home.
      await d.goto(`${portalUrl}/`);
      await d.getByRole('heading', { name: 'Choose who you are working for', exact: true }).waitFor();
      expect(await d.getByRole('radio').count()).toBe(2);
      await d.getByRole('radio', { name: /Avery Quinlan/ }).check();
      await d.getByRole('button', { name: 'Continue', exact: true }).click();
      await d.getByRole('heading', { name: 'Welcome, Casey Office', exact: true }).waitFor();
      expect((await d.locator('.working-for').textContent())?.trim()).toBe('Working for Avery Quinlan (000104201)');
      // My Hierarchy answers for Avery (the delegate has View My Hierarchy).
      await d.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My Hierarchy', exact: true }).click();
      await d.getByRole('heading', { name: 'My Hierarchy', level: 1 }).waitFor();
      await d.locator('table.hierarchy-downline tbody tr', { hasText: 'Jordan Ellery' }).waitFor();

      // The producer sees the delegate Active, and removes them.
      await p.reload();
      const active = p.locator('tr', { hasText: 'Casey Office' });
      expect((await active.locator('td').nth(1).textContent())?.trim()).toBe('Active');
      await active.getByRole('button', { name: 'Remove Casey Office' }).click();
      await p.getByText('The delegate was removed').waitFor();
      expect((await p.locator('tr', { hasText: 'Casey Office' }).locator('td').nth(1).textContent())?.trim()).toBe('Removed');

      // The delegate's portal session ended by back-channel logout, and their IdP session with it.
      await expect.poll(async () => {
        await d.goto(`${portalUrl}/`);
        return d.getByRole('heading', { name: 'Log In', exact: true }).count();
      }, { timeout: 15000 }).toBe(1);
    } finally {
      await producer.context.close();
      await delegate.context.close();
    }
  });
});
