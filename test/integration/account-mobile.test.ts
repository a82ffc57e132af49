import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertDelegateAccount } from '../../src/db/repositories/accounts.ts';
import { activeTerms } from '../../src/db/repositories/terms.ts';
import { beginSignIn, codeIn, createAccount, csrf, followInteraction, GOOD_PASSWORD, signInAtIdpPage } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';
import { SmsReceiver } from '../helpers/sms-receiver.ts';

/**
 * A delegate's own mobile number (issue 14 item 3: "SMS only where the delegate gave a mobile
 * number and confirmed it with a code"): My Account → Mobile number texts a code to the number
 * given (a real SMS webhook receiver here), and only the right code makes Verify your Account offer
 * "by SMS Text" to it. A producer's number is the producer record's and cannot be changed there.
 */
let idp: TestIdp;
let sms: SmsReceiver;
const DELEGATE_EMAIL = 'morgan.office@example.test';

beforeAll(async () => {
  sms = await new SmsReceiver().start();
  idp = await startIdp({ SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: `${sms.url}/sms`, SMS_WEBHOOK_SECRET: 'w'.repeat(40), SMS_TIMEOUT_MS: 2000 });
  await insertDelegateAccount(idp.services.db, {
    id: randomBytes(16).toString('base64url'), username: 'MorganOffice1', passwordHash: await idp.services.hasher.hash(GOOD_PASSWORD),
    termsVersion: (await activeTerms(idp.services.db))!.version, now: idp.clock.now(), firstName: 'Morgan', lastName: 'Office', email: DELEGATE_EMAIL,
  });
  await createAccount(idp, { producerNumber: '000104201', username: 'MobileAvery1' });
});
afterAll(async () => {
  await idp?.stop();
  await sms?.stop();
});

const texts = () => sms.requests.map((r) => JSON.parse(r.rawBody) as { to: string; body: string });

describe('My Account: Mobile number', () => {
  it('a delegate confirms a number with the texted code; only then does Verify your Account offer SMS to it; Remove takes it away', async () => {
    const agent = request.agent(idp.server);
    const page = await signInAtIdpPage(idp, agent, '/account/mobile', 'MorganOffice1', DELEGATE_EMAIL);
    expect(page.text).toContain('<h1>Mobile number</h1>');
    expect(page.text).toContain('You have no mobile number');

    // Not a phone number: the field's message, nothing sent.
    const bad = await agent.post('/account/mobile').type('form').send({ _csrf: csrf(page.text), mobile: '555' });
    expect(bad.status).toBe(422);
    expect(bad.text).toContain('Please enter a valid mobile phone number');
    expect(bad.text).toMatch(/id="mobile"[^>]*aria-invalid="true"/);
    expect(texts()).toHaveLength(0);

    const sent = await agent.post('/account/mobile').type('form').send({ _csrf: csrf(page.text), mobile: '(312) 555-0199' });
    expect(sent.status).toBe(303);
    expect(sent.headers.location).toBe('/account/mobile?confirm=%2B13125550199');
    expect(texts().at(-1)!.to).toBe('+13125550199');
    const codePage = await agent.get(sent.headers.location as string);
    expect(codePage.text).toContain('We sent a code by text message to <strong>xxxxxx0199</strong>');

    // A wrong code: tries left; a code texted to one number never confirms another.
    const wrong = await agent.post('/account/mobile/confirm').type('form').send({ _csrf: csrf(codePage.text), mobile: '+13125550199', code: 'AAAAAAAA' });
    expect(wrong.status).toBe(422);
    expect(wrong.text).toContain('Tries left: 4');
    const code = codeIn(texts().at(-1)!.body);
    const other = await agent.post('/account/mobile/confirm').type('form').send({ _csrf: csrf(codePage.text), mobile: '+13125550123', code });
    expect(other.status).toBe(422);
    expect(other.text).toContain('no longer valid');

    // A code sent to another number afterwards voids this one: only the number asked for last can be confirmed.
    idp.clock.advance(31);
    expect((await agent.post('/account/mobile').type('form').send({ _csrf: csrf(page.text), mobile: '312-555-0188' })).status).toBe(303);
    const voided = await agent.post('/account/mobile/confirm').type('form').send({ _csrf: csrf(codePage.text), mobile: '+13125550199', code });
    expect(voided.status).toBe(422);
    expect(voided.text).toContain('no longer valid');
    idp.clock.advance(31);
    expect((await agent.post('/account/mobile').type('form').send({ _csrf: csrf(page.text), mobile: '(312) 555-0199' })).status).toBe(303);
    const fresh = codeIn(texts().at(-1)!.body);
    const confirmed = await agent.post('/account/mobile/confirm').type('form').send({ _csrf: csrf(codePage.text), mobile: '+13125550199', code: fresh });
    expect(confirmed.status).toBe(303);
    expect(confirmed.headers.location).toBe('/account/mobile?done=confirmed');
    const after = await agent.get('/account/mobile?done=confirmed');
    expect(after.text).toContain('Your mobile number was confirmed');
    expect(after.text).toContain('Codes sent by text go to <strong>xxxxxx0199</strong>');
    await idp.smtp.waitFor(DELEGATE_EMAIL, /A mobile number was added/);
    const audits = await idp.services.db.selectFrom('audit_events').select('type').where('type', 'like', 'account.mobile%').orderBy('id').execute();
    expect(audits.map((a) => a.type)).toEqual(['account.mobile_code_sent', 'account.mobile_code_sent', 'account.mobile_code_sent', 'account.mobile_confirmed']);

    // The next sign-in offers Verify Account by SMS Text to that number, and it works.
    const next = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, next);
    const login = await next.get(`/interaction/${uid}`);
    const verify = await followInteraction(next, uid, await next.post(`/interaction/${uid}/login`).type('form').send({ _csrf: csrf(login.text), username: 'MorganOffice1', password: GOOD_PASSWORD }));
    expect(verify.text).toContain('value="sms"');
    expect(verify.text).toContain('xxxxxx0199');

    const removed = await agent.post('/account/mobile/remove').type('form').send({ _csrf: csrf(after.text) });
    expect(removed.headers.location).toBe('/account/mobile?done=removed');
    const { uid: uid2 } = await beginSignIn(idp, next, { prompt: 'login' });
    const login2 = await next.get(`/interaction/${uid2}`);
    const verify2 = await followInteraction(next, uid2, await next.post(`/interaction/${uid2}/login`).type('form').send({ _csrf: csrf(login2.text), username: 'MorganOffice1', password: GOOD_PASSWORD }));
    expect(verify2.text).toContain('Verify your Account');
    expect(verify2.text).not.toContain('value="sms"');
    expect(verify2.text).toContain('only available once you add and confirm a mobile number under My Account');
  });

  it("a producer's number is the producer record's: shown, not changeable here", async () => {
    const agent = request.agent(idp.server);
    const page = await signInAtIdpPage(idp, agent, '/account/mobile', 'MobileAvery1', 'avery.quinlan@example.com');
    expect(page.text).toContain('the mobile number of your producer record');
    expect(page.text).not.toContain('Send Code');
    // A forged form (the page has none): a CSRF token of this browser from another IdP form.
    const token = csrf((await agent.get('/forgot-username')).text);
    const refused = await agent.post('/account/mobile').type('form').send({ _csrf: token, mobile: '(312) 555-0177' });
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('comes from your producer record');
    expect(texts().some((t) => t.to === '+13125550177')).toBe(false);
  });
});
