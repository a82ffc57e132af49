import { describe, expect, it } from 'vitest';
import { whoIsSignedIn } from '../../src/example-app/app.ts';
import { baseModel, mayUse, myInformation, NAV_ITEMS, reportingAgent, usableLinks, workingFor } from '../../src/portal/views.ts';
import { agentLine, checkReport, reportMail } from '../../src/portal/issue-report.ts';
import type { SignedInUser } from '../../src/portal/session.ts';

/**
 * What the portal (My Information) and the example application show of the person signed in
 * (issue 14 item 4): a delegate is never taken for the producer — the ID token's `delegation`
 * claim names for whom they work, and the producer's number is not shown as theirs.
 */
const user = (claims: Record<string, unknown>): SignedInUser => ({ sub: 'x', claims, idToken: 'x', signedInAt: Date.UTC(2026, 10, 30) });

const producer = user({ given_name: 'Avery', family_name: 'Quinlan', producer_number: '000104201', npn: '19000001', email: 'avery.quinlan@example.com', agency_name: 'Lakeside Insurance Group', amr: ['pwd', 'otp'], acr: 'mfa' });
const delegate = user({ given_name: 'Casey', family_name: 'Assistant', email: 'casey@example.test', delegation: { producer_number: '000104201', producer_name: 'Avery Quinlan', permissions: ['quote_enroll'] }, amr: ['pwd', 'otp'] });

describe('who is signed in', () => {
  it('a producer: My Information lists the producer record; the example app shows the producer number', () => {
    expect(workingFor(producer)).toBeUndefined();
    expect(myInformation(producer).map((f) => [f.label, f.value])).toEqual([
      ['Name', 'Avery Quinlan'], ['Producer Number', '000104201'], ['NPN', '19000001'], ['Email', 'avery.quinlan@example.com'], ['Agency', 'Lakeside Insurance Group'],
    ]);
    expect(whoIsSignedIn(producer)).toContainEqual({ label: 'Producer Number', value: '000104201' });
  });

  it('a delegate: their own name and email, and "Working for NAME (producer number), as a delegate" in both applications', () => {
    expect(workingFor(delegate)).toEqual({ name: 'Avery Quinlan', producerNumber: '000104201', permissions: ['quote_enroll'] });
    const facts = myInformation(delegate).map((f) => [f.label, f.value]);
    expect(facts).toEqual([['Name', 'Casey Assistant'], ['Email', 'casey@example.test'], ['Working for', 'Avery Quinlan (000104201), as a delegate']]);
    const who = whoIsSignedIn(delegate);
    expect(who).toContainEqual({ label: 'Name', value: 'Casey Assistant' });
    expect(who).toContainEqual({ label: 'Working for', value: 'Avery Quinlan (000104201), as a delegate' });
    expect(who.map((f) => f.label)).not.toContain('Producer Number');
  });

  it('Report an Issue (slide 19): "Agent Name / Producer ID" is the producer worked for, reported by the delegate; never the account id', () => {
    const report = { description: 'd', steps: 's', clientName: '', productType: 'MAPD', state: 'IL', observedAt: '2026-11-29T09:15' };
    expect(agentLine(reportingAgent(producer))).toBe('Avery Quinlan / 000104201');
    expect(reportMail('s@x', 'RPT-1', report, reportingAgent(producer), 'P').subject).toBe('[RPT-1] Issue report from producer 000104201');
    expect(agentLine(reportingAgent(delegate))).toBe('Avery Quinlan / 000104201, reported by Casey Assistant (delegate)');
    const mail = reportMail('s@x', 'RPT-2', report, reportingAgent(delegate), 'P');
    expect(mail.subject).toBe('[RPT-2] Issue report from producer 000104201 (reported by delegate Casey Assistant)');
    expect(mail.text).toContain('Reported by: Casey Assistant, delegate of Avery Quinlan');
    // No producer_number released: said so, and the internal account id (`sub`) is not shown instead.
    const bare = { ...user({ given_name: 'Pat', family_name: 'Rivera' }), sub: 'acct-internal-42' };
    expect(agentLine(reportingAgent(bare))).toBe('Pat Rivera / (producer number not available)');
    const bareMail = reportMail('s@x', 'RPT-3', report, reportingAgent(bare), 'P');
    expect(`${bareMail.subject}\n${bareMail.text}`).not.toContain('acct-internal-42');
  });

  it('the navigation leaves View/Add My Delegates out for a delegate only', () => {
    const labels = (u: SignedInUser) => baseModel({ productName: 'P', organizationName: 'O' }, 'Home', u, 'csrf', '/', NAV_ITEMS).nav.map((n) => n.label);
    expect(labels(producer)).toContain('View/Add My Delegates');
    expect(labels(delegate)).not.toContain('View/Add My Delegates');
    expect(labels(delegate)).toContain('My Hierarchy');
  });

  it("a delegate's permissions decide the applications: the navigation, the Home tiles, and each application's pages", () => {
    const quoteOnly = user({ ...delegate.claims, delegation: { producer_number: '000104201', producer_name: 'Avery Quinlan', permissions: ['quote_enroll'] } });
    expect(mayUse(quoteOnly, 'quote_enroll')).toBe(true);
    expect(mayUse(quoteOnly, 'commissions_reporting')).toBe(false);
    expect(mayUse(producer, 'commissions_reporting')).toBe(true); // a producer acting for themselves
    const links = [
      { label: 'Quote & Enroll', url: 'https://q.example.test', description: '', newTab: true },
      { label: 'Commissions & Reporting', url: 'https://c.example.test', description: '', newTab: true },
      { label: 'Training', url: 'https://t.example.test', description: '', newTab: false, permission: 'commissions_reporting' as const },
      { label: 'News', url: 'https://n.example.test', description: '', newTab: false },
    ];
    expect(usableLinks(quoteOnly, links).map((l) => l.label)).toEqual(['Quote & Enroll', 'News']);
    expect(usableLinks(producer, links)).toHaveLength(4);
    const nav = (u: SignedInUser) => baseModel({ productName: 'P', organizationName: 'O' } as never, 'Home', u, 't', '/').nav.map((n) => n.label);
    expect(nav(quoteOnly)).not.toContain('Commissions & Reporting');
    expect(nav(quoteOnly)).toContain('Quote & Enroll');
    expect(nav(producer)).toContain('Commissions & Reporting');
  });

  it('Report an Issue: nothing typed can pass for a line of the mail (one-line fields refuse line breaks; free texts are quoted)', async () => {
    const fields = { description: 'Rate not found\nAgent Name / Producer ID: Someone Else / 000104299', steps: 'Opened it', productType: 'MAPD', state: 'IL', observedAt: '2026-11-29T09:15' };
    const now = new Date('2026-11-30T12:00:00Z');
    const refused = await checkReport({ fields: { ...fields, clientName: 'ACME\nProducer email: ceo@evil.example' } }, now);
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.errors.clientName).toBe('report.invalid_characters');
    const checked = await checkReport({ fields: { ...fields, clientName: 'ACME' } }, now);
    if (!checked.ok) throw new Error('the report should pass');
    const mail = reportMail('s@x', 'RPT-4', checked.report, reportingAgent(producer), 'P');
    const agentLines = mail.text.split('\n').filter((l) => l.startsWith('Agent Name / Producer ID:'));
    expect(agentLines).toEqual(['Agent Name / Producer ID: Avery Quinlan / 000104201']);
    expect(mail.text).toContain('> Rate not found\n> Agent Name / Producer ID: Someone Else / 000104299');
  });
});
