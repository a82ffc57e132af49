import { describe, expect, it } from 'vitest';
import { whoIsSignedIn } from '../../src/example-app/app.ts';
import { myInformation, workingFor } from '../../src/portal/views.ts';
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
    expect(workingFor(delegate)).toEqual({ name: 'Avery Quinlan', producerNumber: '000104201' });
    const facts = myInformation(delegate).map((f) => [f.label, f.value]);
    expect(facts).toEqual([['Name', 'Casey Assistant'], ['Email', 'casey@example.test'], ['Working for', 'Avery Quinlan (000104201), as a delegate']]);
    const who = whoIsSignedIn(delegate);
    expect(who).toContainEqual({ label: 'Name', value: 'Casey Assistant' });
    expect(who).toContainEqual({ label: 'Working for', value: 'Avery Quinlan (000104201), as a delegate' });
    expect(who.map((f) => f.label)).not.toContain('Producer Number');
  });
});
