/**
 * The portal's Home page (guide slide 18) and "How to report an Issue" (slide 19) in headless
 * Chromium, against the real IdP (PostgreSQL, SMTP receiver) and the portal as its relying party.
 */
import { deflateSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createAccount, codeIn, GOOD_PASSWORD } from '../helpers/accounts.ts';
import { insertDelegateAccount } from '../../src/db/repositories/accounts.ts';
import { acceptDelegation, insertDelegation, type Permission } from '../../src/db/repositories/delegations.ts';
import { activeTerms } from '../../src/db/repositories/terms.ts';
import { launchChromium, newPage } from '../helpers/chromium.ts';
import type { TestIdp } from '../helpers/idp.ts';
import { PORTAL_TEST_SECRET, startIdpWithPortal } from '../helpers/portal.ts';

const CLIENT_SECRET = PORTAL_TEST_SECRET;
const SUPPORT = 'portal-support@example.test';
let idp: TestIdp;
let stopIdpAndPortal: (() => Promise<void>) | undefined;
let portalUrl: string;
let browser: Browser;
let averyId: string;

/** A real PNG (1×1, red) built by hand: signature, IHDR, IDAT, IEND. */
function png(): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.from([0, 255, 0, 0]))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

beforeAll(async () => {
  ({ idp, portalUrl, stop: stopIdpAndPortal } = await startIdpWithPortal({}, (idp) => ({
    hierarchyApi: { resource: idp.config.PRODUCER_API_RESOURCE, url: `${idp.url}/api/producers/me/hierarchy` },
    homeLinks: [
      { label: 'Quote & Enroll', url: 'https://quote.example.test/start', description: 'Quote plans and enroll clients.', newTab: true },
      { label: 'Commissions & Reporting', url: 'https://commissions.example.test/', description: 'Statements and reports.', newTab: false },
    ],
    resources: [
      { title: 'Plan brochures', url: 'https://example.test/plans', description: 'Materials by state.', group: 'Selling' },
      { title: 'User guide', url: 'https://example.test/guide.pdf', description: 'Step by step.', group: 'Getting started' },
    ],
    issueReports: { to: SUPPORT, send: (mail) => idp.services.mailer.send(mail), perHour: 3 },
  })));
  averyId = await createAccount(idp, { producerNumber: '000104201', username: 'HomeAvery1' });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stopIdpAndPortal?.();
});

/**
 * Signs a person in through the IdP's pages (password, then the email code); HomeAvery1 by
 * default. A delegate who is offered "Choose who you are working for" picks `workFor`.
 */
async function signIn(page: Page, who: { username: string; email: string; name: string; workFor?: string } = { username: 'HomeAvery1', email: 'avery.quinlan@example.com', name: 'Avery Quinlan' }): Promise<void> {
  await page.goto(`${portalUrl}/`);
  await page.getByRole('heading', { name: 'Log In', exact: true }).waitFor();
  await page.getByLabel('Username', { exact: true }).fill(who.username);
  await page.getByLabel('Password', { exact: true }).fill(GOOD_PASSWORD);
  await page.getByRole('button', { name: 'Log In', exact: true }).click();
  await page.getByRole('heading', { name: 'Verify your Account', exact: true }).waitFor();
  await page.getByRole('radio', { name: /Verify Account by Email/ }).check();
  const before = idp.smtp.to(who.email).length;
  await page.getByRole('button', { name: 'Send Code', exact: true }).click();
  await page.getByLabel('Verification code').waitFor();
  await expect.poll(() => idp.smtp.to(who.email).length).toBeGreaterThan(before);
  await page.getByLabel('Verification code').fill(codeIn(idp.smtp.to(who.email).at(-1)!.text));
  await page.getByRole('button', { name: 'Submit', exact: true }).click();
  const welcome = page.getByRole('heading', { name: `Welcome, ${who.name}`, exact: true });
  const choose = page.getByRole('heading', { name: 'Choose who you are working for', exact: true });
  await welcome.or(choose).waitFor();
  if (who.workFor && await choose.isVisible()) {
    await page.getByRole('radio', { name: new RegExp(who.workFor) }).check();
    await page.getByRole('button', { name: 'Continue', exact: true }).click();
  }
  await welcome.waitFor();
}

/** A delegate of Avery Quinlan (000104201) with `permissions`, made directly in the database (an accepted invitation). */
async function delegateOfAvery(username: string, firstName: string, email: string, permissions: Permission[]): Promise<void> {
  const { db, hasher } = idp.services;
  const now = idp.clock.now();
  const accountId = randomBytes(16).toString('base64url');
  const delegationId = randomBytes(16).toString('base64url');
  await insertDelegation(db, { id: delegationId, producerNumber: '000104201', producerAccountId: averyId, firstName, lastName: 'Helper', email, permissions, now });
  await insertDelegateAccount(db, { id: accountId, username, passwordHash: await hasher.hash(GOOD_PASSWORD), termsVersion: (await activeTerms(db))!.version, now, firstName, lastName: 'Helper', email });
  expect(await acceptDelegation(db, delegationId, accountId, now)).toBe(true);
}

describe('portal Home (guide slide 18)', () => {
  it('every page has the guide navigation with the current page marked; Home links the downstream applications; Resources lists the configured resources', async () => {
    const { context, page } = await newPage(browser);
    try {
      await signIn(page);
      const nav = page.getByRole('navigation', { name: 'Main' });
      const labels = (await nav.getByRole('link').allTextContents()).map((t) => t.trim());
      expect(labels).toEqual(['Home', 'My Information', 'My Hierarchy', 'View/Add My Delegates', 'Quote & Enroll', 'Commissions & Reporting', 'Resources', 'Report an Issue']);
      expect(await page.getByRole('button', { name: 'Logout', exact: true }).count()).toBe(1);
      expect(await nav.getByRole('link', { name: 'Home', exact: true }).getAttribute('aria-current')).toBe('page');

      const quote = page.getByRole('link', { name: 'Open Quote & Enroll', exact: true });
      expect(await quote.getAttribute('href')).toBe('https://quote.example.test/start');
      expect(await quote.getAttribute('target')).toBe('_blank');
      expect(await page.getByRole('link', { name: 'Open Commissions & Reporting', exact: true }).getAttribute('target')).toBeNull();

      await nav.getByRole('link', { name: 'Resources', exact: true }).click();
      await page.getByRole('heading', { name: 'Resources', level: 1 }).waitFor();
      expect(await nav.getByRole('link', { name: 'Resources', exact: true }).getAttribute('aria-current')).toBe('page');
      expect(await nav.getByRole('link', { name: 'Home', exact: true }).getAttribute('aria-current')).toBeNull();
      expect(await page.getByRole('heading', { level: 2 }).allTextContents()).toEqual(['Selling', 'Getting started']);
      expect(await page.getByRole('link', { name: 'Plan brochures' }).getAttribute('href')).toBe('https://example.test/plans');

      // My Hierarchy: from the IdP's API with the JWT access token the portal got at sign-in.
      await nav.getByRole('link', { name: 'My Hierarchy', exact: true }).click();
      await page.getByRole('heading', { name: 'My Hierarchy', level: 1 }).waitFor();
      await page.getByText('You have no upline: you are at the top of your hierarchy.').waitFor();
      const jordan = page.locator('table.hierarchy-downline tbody tr', { hasText: 'Jordan Ellery' });
      expect((await jordan.locator('td').allTextContents()).slice(0, 2)).toEqual(['Jordan Ellery', '000104202']);
      expect(await jordan.locator('td').nth(6).textContent()).toBe('000104201');

      await nav.getByRole('link', { name: 'Quote & Enroll', exact: true }).click();
      await page.getByRole('heading', { name: 'Quote & Enroll', level: 1 }).waitFor();
      expect(await page.getByRole('link', { name: 'Open Quote & Enroll' }).getAttribute('href')).toBe('https://quote.example.test/start');
    } finally {
      await context.close();
    }
  });
});

describe('Report an Issue (guide slide 19)', () => {
  it('shows the guide text, requires its fields, and mails the report with the screenshot attached; a confirmation gives a reference number', async () => {
    const { context, page } = await newPage(browser);
    try {
      await signIn(page);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Report an Issue', exact: true }).click();
      await page.getByRole('heading', { name: 'Report an Issue', level: 1 }).waitFor();
      for (const text of ['Detailed Description of Issue/Error Message', 'Full Screen Screenshot preferred', 'Steps taken prior to receiving the error', 'Client/Contact Name – (Where applicable)', 'Agent Name/Producer ID', 'Date/Time issue was observed']) {
        expect(await page.getByText(text, { exact: true }).count()).toBeGreaterThan(0);
      }
      const agent = page.getByLabel('Agent Name / Producer ID');
      expect(await agent.inputValue()).toBe('Avery Quinlan / 000104201');
      expect(await agent.getAttribute('readonly')).not.toBeNull();
      expect(await page.getByLabel('Date/Time the issue was observed').inputValue()).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/);

      // Nothing filled: the required fields get messages beside them; nothing is mailed.
      const mailsBefore = idp.smtp.to(SUPPORT).length;
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await page.getByText('Please correct the fields marked below.').waitFor();
      for (const id of ['description', 'steps', 'productType', 'state']) {
        expect(await page.locator(`#${id}`).getAttribute('aria-invalid')).toBe('true');
        expect(await page.locator(`#${id}-error`).textContent()).toBe('This field is required.');
      }
      expect(idp.smtp.to(SUPPORT).length).toBe(mailsBefore);

      // A text file named .png is refused by its content; what was typed stays.
      await page.getByLabel('Detailed Description of Issue/Error Message').fill('The quote page shows "Rate not found" for ZIP 60601.');
      await page.getByLabel('Steps taken prior to receiving the error').fill('Opened Quote & Enroll, chose MAPD, entered ZIP 60601.');
      await page.getByLabel('Product Type').selectOption('MAPD');
      await page.getByLabel('State').selectOption('IL');
      await page.getByLabel(/^Screenshot/).setInputFiles({ name: 'screen.png', mimeType: 'image/png', buffer: Buffer.from('not really a picture') });
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await page.locator('#screenshot-error').waitFor();
      expect(await page.locator('#screenshot-error').textContent()).toBe('The screenshot must be a PNG or JPEG image.');
      expect(await page.getByLabel('Steps taken prior to receiving the error').inputValue()).toContain('entered ZIP 60601');

      await page.getByLabel(/^Screenshot/).setInputFiles({ name: 'screen.png', mimeType: 'image/png', buffer: png() });
      await page.getByLabel('Client/Contact Name (where applicable)').fill('Pat Client');
      await page.getByLabel('Date/Time the issue was observed').fill('2026-11-29T09:15');
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await page.getByRole('heading', { name: 'Report sent', level: 1 }).waitFor();
      const reference = (await page.locator('.reference').textContent())!.trim();
      expect(reference).toMatch(/^RPT-[A-Z2-9]{8}$/);

      const mail = await idp.smtp.waitFor(SUPPORT, new RegExp(reference));
      expect(mail.subject).toBe(`[${reference}] Issue report from producer 000104201`);
      for (const text of ['Agent Name / Producer ID: Avery Quinlan / 000104201', 'Product Type and State: MAPD, Illinois (IL)', 'Date/Time the issue was observed: 2026-11-29 09:15', 'Client/Contact Name: Pat Client', 'Rate not found', 'entered ZIP 60601']) {
        expect(mail.text).toContain(text);
      }
      expect(mail.attachments).toHaveLength(1);
      expect(mail.attachments[0]).toMatchObject({ filename: 'screenshot.png', contentType: 'image/png' });
      expect(mail.attachments[0]!.size).toBe(png().length);
    } finally {
      await context.close();
    }
  });
});

describe('Report an Issue: without JavaScript, bad input and limits', () => {
  it('works without JavaScript; refuses an oversized screenshot and a missing CSRF token; limits reports per hour (429 with Retry-After)', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    try {
      await signIn(page); // the IdP's pages need no script either
      await page.goto(`${portalUrl}/report-issue`);
      const csrf = await page.locator('#main input[name="_csrf"]').getAttribute('value');
      const form = (extra: Record<string, unknown>) => ({
        _csrf: csrf!, description: 'Enrollment stops at the payment step.', steps: 'Filled the application, clicked Submit.',
        productType: 'ACA Dental', state: 'WI', observedAt: '2026-11-29T10:00', ...extra,
      });
      const big = Buffer.concat([png(), Buffer.alloc(5 * 1024 * 1024)]);
      const tooBig = await context.request.post(`${portalUrl}/report-issue`, { multipart: form({ screenshot: { name: 'big.png', mimeType: 'image/png', buffer: big } }), maxRedirects: 0 });
      expect(tooBig.status()).toBe(422);
      expect(await tooBig.text()).toContain('The screenshot is larger than 5 MB.');
      const noCsrf = await context.request.post(`${portalUrl}/report-issue`, { multipart: form({ _csrf: 'wrong' }), maxRedirects: 0 });
      expect(noCsrf.status()).toBe(403);

      // The plain HTML form, submitted by the browser with scripts off.
      await page.getByLabel('Detailed Description of Issue/Error Message').fill('Commission statement for October is empty.');
      await page.getByLabel('Steps taken prior to receiving the error').fill('Opened Commissions & Reporting, chose October.');
      await page.getByLabel('Product Type').selectOption('Med Supp');
      await page.getByLabel('State').selectOption('IL');
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await page.getByRole('heading', { name: 'Report sent', level: 1 }).waitFor();

      // More reports within the hour than the limit (3 in this test): the next one is refused, nothing mailed.
      let limited;
      for (let i = 0; i < 4; i++) {
        limited = await context.request.post(`${portalUrl}/report-issue`, { multipart: form({}), maxRedirects: 0 });
        if (limited.status() !== 200) break;
      }
      expect(limited!.status()).toBe(429);
      expect(Number(limited!.headers()['retry-after'])).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(idp.smtp.to(SUPPORT).length).toBe(3);
    } finally {
      await context.close();
    }
  });
});

describe('a delegate in the portal (issue 14): worded for the producer they work for', () => {
  it('no View/Add My Delegates; My Hierarchy names Avery Quinlan, or says the permissions do not include it; Report an Issue is about Avery, reported by the delegate', async () => {
    await delegateOfAvery('HomeRiley01', 'Riley', 'riley.helper@example.test', ['view_hierarchy', 'quote_enroll']);
    await delegateOfAvery('HomeSam0001', 'Sam', 'sam.helper@example.test', ['quote_enroll']);

    const riley = await newPage(browser);
    try {
      const page = riley.page;
      await signIn(page, { username: 'HomeRiley01', email: 'riley.helper@example.test', name: 'Riley Helper', workFor: 'Avery Quinlan' });
      const nav = page.getByRole('navigation', { name: 'Main' });
      // Riley may use Quote & Enroll, not Commissions & Reporting: neither its entry nor its Home tile.
      expect((await nav.getByRole('link').allTextContents()).map((t) => t.trim())).toEqual(['Home', 'My Information', 'My Hierarchy', 'Quote & Enroll', 'Resources', 'Report an Issue']);
      expect(await page.locator('#main').textContent()).toContain('Quote plans and enroll clients.');
      expect(await page.locator('#main').textContent()).not.toContain('Statements and reports.');

      await nav.getByRole('link', { name: 'My Hierarchy', exact: true }).click();
      await page.getByRole('heading', { name: 'My Hierarchy', level: 1 }).waitFor();
      await page.getByText("Avery Quinlan's upline is empty: Avery Quinlan is at the top of the hierarchy.").waitFor();
      expect(await page.locator('#main').textContent()).toMatch(/\d+ producer\(s\) report to Avery Quinlan/);
      expect(await page.locator('#main').textContent()).not.toMatch(/report to you|You have no upline/);
      await page.locator('table.hierarchy-downline tbody tr', { hasText: 'Jordan Ellery' }).waitFor();

      await nav.getByRole('link', { name: 'Report an Issue', exact: true }).click();
      await page.getByRole('heading', { name: 'Report an Issue', level: 1 }).waitFor();
      expect(await page.getByLabel('Agent Name / Producer ID').inputValue()).toBe('Avery Quinlan / 000104201, reported by Riley Helper (delegate)');
      await page.getByLabel('Detailed Description of Issue/Error Message').fill('Quote page shows an error for Avery.');
      await page.getByLabel('Steps taken prior to receiving the error').fill('Opened Quote & Enroll.');
      await page.getByLabel('Product Type').selectOption('PDP');
      await page.getByLabel('State').selectOption('IL');
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await page.getByRole('heading', { name: 'Report sent', level: 1 }).waitFor();
      const reference = (await page.locator('.reference').textContent())!.trim();
      const mail = await idp.smtp.waitFor(SUPPORT, new RegExp(reference));
      expect(mail.subject).toBe(`[${reference}] Issue report from producer 000104201 (reported by delegate Riley Helper)`);
      expect(mail.text).toContain('Agent Name / Producer ID: Avery Quinlan / 000104201');
      expect(mail.text).toContain('Reported by: Riley Helper, delegate of Avery Quinlan');
      expect(mail.text).toContain('Delegate email: riley.helper@example.test');
    } finally {
      await riley.context.close();
    }

    const sam = await newPage(browser);
    try {
      const page = sam.page;
      await signIn(page, { username: 'HomeSam0001', email: 'sam.helper@example.test', name: 'Sam Helper', workFor: 'Avery Quinlan' });
      await page.goto(`${portalUrl}/my-hierarchy`);
      await page.getByText('Your permissions for Avery Quinlan do not include View My Hierarchy.').waitFor();
      expect(await page.locator('#main').textContent()).not.toContain('log in again');
      // An application outside Sam's permissions, typed by hand: 403, said plainly.
      const commissions = await page.goto(`${portalUrl}/commissions-reporting`);
      expect(commissions!.status()).toBe(403);
      await page.getByText('the producer you work for has not given you this permission').waitFor();
      // The address typed by hand: told it is for producers, not sent to the IdP's 403.
      const delegates = await page.goto(`${portalUrl}/my-delegates`);
      expect(delegates!.status()).toBe(403);
      await page.getByText('Only producers can view and add their delegates, for themselves.').waitFor();
    } finally {
      await sam.context.close();
    }
  });
});
