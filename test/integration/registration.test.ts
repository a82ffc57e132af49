import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkIn } from '../helpers/smtp.ts';
import { beginSignIn, createAccount, csrf, followToClient, GOOD_PASSWORD, signIn, submitLogin } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';

let idp: TestIdp;
beforeAll(async () => {
  idp = await startIdp();
});
afterAll(async () => {
  await idp?.stop();
});

type Agent = ReturnType<typeof request.agent>;

async function accountCount(): Promise<number> {
  const r = await idp.services.db.selectFrom('accounts').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Opens registration and accepts the Terms of Use; returns the Step 1 page. */
async function startRegistration(agent: Agent) {
  const terms = await agent.get('/register');
  expect(terms.status).toBe(200);
  expect(terms.text).toContain('Accept');
  expect(terms.text).toContain('Reject');
  const version = /name="version" value="([^"]+)"/.exec(terms.text)![1];
  const accepted = await agent.post('/register/terms').type('form').send({ _csrf: csrf(terms.text), decision: 'accept', version });
  expect(accepted.status).toBe(303);
  return agent.get('/register/producer');
}

async function submitProducer(agent: Agent, page: string, values: Record<string, unknown>) {
  return agent.post('/register/producer').type('form').send({ _csrf: csrf(page), ...values });
}

describe('registration (guide slides 3-5)', () => {
  it('registers a producer end to end: terms, producer information, secure login, email confirmation, sign-in', async () => {
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent);
    const step1 = await startRegistration(agent);
    expect(step1.text).toContain('Enter Producer Information');
    expect(step1.text).toContain('Step 1 of 3');
    for (const label of ['Producer Number', 'National Producer Number', 'Zip Code', 'Continue']) expect(step1.text).toContain(label);
    // 6 digits → left-padded to 000104203; ZIP+4 compared on its first 5 digits; the BAP zip matches too.
    const r1 = await submitProducer(agent, step1.text, { producerNumber: '104203', npn: '19000003', zip: '60615-0001' });
    expect(r1.status).toBe(303);
    expect(r1.headers.location).toBe('/register/login');
    const step2 = await agent.get('/register/login');
    for (const label of ['Create Your Secure Login', 'Step 2 of 3', 'Username', 'Password Must Have', 'Password Cannot Have', 'Create Login', '8-40 characters', 'Restricted terms']) expect(step2.text).toContain(label);
    const r2 = await agent.post('/register/login').type('form').send({ _csrf: csrf(step2.text), username: 'MorganTalbot', password: GOOD_PASSWORD });
    expect(r2.status).toBe(303);
    const step3 = await agent.get('/register/verify-email');
    expect(step3.text).toContain('Step 3 of 3');
    expect(step3.text).toContain('Resend Email Link');
    expect(step3.text).toContain('Return to Log In');
    expect(step3.text).not.toContain('morgan.talbot@example.com'); // masked
    const mail = await idp.smtp.waitFor('morgan.talbot@example.com', /Confirm/);
    expect(mail.html).toContain('Confirm Your Email Address');
    const link = linkIn(mail.text, '/verify-email');
    expect(link.startsWith(idp.url)).toBe(true); // built from the issuer

    // Before confirmation: a wrong password says only "incorrect"; the right one says "not confirmed".
    const s = await beginSignIn(idp, agent);
    const wrong = await submitLogin(agent, s.uid, 'MorganTalbot', 'Wr0ng!pass');
    expect(wrong.text).not.toContain('not confirmed');
    const right = await submitLogin(agent, s.uid, 'MorganTalbot', GOOD_PASSWORD);
    expect(right.status).toBe(403);
    expect(right.text).toContain('Your email address is not confirmed yet');
    expect(right.text).toContain('Resend Email Link');

    // The link shows a page with one button; its POST confirms (issue 9, item 6).
    const shown = await agent.get(new URL(link).pathname + new URL(link).search);
    expect(shown.status).toBe(200);
    const confirmed = await agent.post('/verify-email').type('form').send({ _csrf: csrf(shown.text), token: new URL(link).searchParams.get('token')! });
    expect(confirmed.status).toBe(200);
    expect(confirmed.text).toContain('Your email address is confirmed');
    expect(confirmed.text).toContain('Return to Log In');
    const again = await agent.get(new URL(link).pathname + new URL(link).search);
    expect(again.status).toBe(400); // used once

    const login = await signIn(idp, agent, uid, 'MorganTalbot');
    expect(login.status).toBe(303);
    const { redirect } = await followToClient(idp, agent, login.headers.location);
    expect(redirect?.searchParams.get('code')).toBeTruthy();
  });

  it('gives one message for an unknown producer, a wrong NPN or a wrong zip; inactive and already-registered producers are told so', async () => {
    const agent = request.agent(idp.server);
    const page = await startRegistration(agent);
    const tries = [
      { producerNumber: '999999999', npn: '19000001', zip: '60601' },
      { producerNumber: '000104201', npn: '19000009', zip: '60601' },
      { producerNumber: '000104201', npn: '19000001', zip: '99999' },
    ];
    const bodies: string[] = [];
    for (const t of tries) {
      const r = await submitProducer(agent, page.text, t);
      expect(r.status).toBe(422);
      expect(r.text).toContain('We could not match this information to a producer record');
      bodies.push(r.text.replace(/name="_csrf" value="[^"]+"/, '').replace(/value="[0-9]*"/g, ''));
    }
    expect(new Set(bodies).size).toBe(1);
    const inactive = await submitProducer(agent, page.text, { producerNumber: '000104204', npn: '19000004', zip: '62701' });
    expect(inactive.text).toContain('not active');
    expect(inactive.text).toContain(`contact the help desk at ${idp.config.HELP_DESK_PHONE}`); // placeholder filled from configuration

    await createAccount(idp, { producerNumber: '000104205', username: 'CaseyExisting' });
    const existing = await submitProducer(agent, page.text, { producerNumber: '104205', npn: '19000005', zip: '53203' });
    expect(existing.status).toBe(409);
    expect(existing.text).toContain('already has an account');
    expect(existing.text).toContain('Forgot Username');
    expect(existing.text).toContain('Forgot Password');
  });

  it('enforces the username and password rules with one message per broken rule', async () => {
    const agent = request.agent(idp.server);
    const page = await startRegistration(agent);
    await submitProducer(agent, page.text, { producerNumber: '000104202', npn: '19000002', zip: '60601' });
    const step2 = await agent.get('/register/login');
    await createAccount(idp, { producerNumber: '000104201', username: 'TakenName1' });
    const before = await accountCount();
    const bad = await agent.post('/register/login').type('form').send({ _csrf: csrf(step2.text), username: 'jo.el', password: 'jan123aaa' });
    expect(bad.status).toBe(422);
    for (const msg of [
      'Username may contain only the letters',
      'Username must be at least 7 characters',
      'Password must have an uppercase letter',
      'Password must have a special character',
      'more than two sequential characters',
      'more than two repeated characters',
      'abbreviations for months',
    ]) expect(bad.text).toContain(msg);
    const withName = await agent.post('/register/login').type('form').send({ _csrf: csrf(step2.text), username: 'JordanXYZ', password: 'Qz7!jordanxyz{' });
    expect(withName.text).toContain('Password cannot contain your username');
    const taken = await agent.post('/register/login').type('form').send({ _csrf: csrf(step2.text), username: 'takenNAME1', password: GOOD_PASSWORD });
    expect(taken.status).toBe(422);
    expect(taken.text).toContain('This username is not available');
    expect(await accountCount()).toBe(before);
  });

  it('Reject cancels registration and creates nothing', async () => {
    const agent = request.agent(idp.server);
    const terms = await agent.get('/register');
    const r = await agent.post('/register/terms').type('form').send({ _csrf: csrf(terms.text), decision: 'reject' });
    expect(r.status).toBe(200);
    expect(r.text).toContain('registration was cancelled');
    const after = await agent.get('/register/producer');
    expect(after.status).toBeGreaterThanOrEqual(400);
  });

  it('refuses later steps without the earlier ones, and an expired flow starts over with a message', async () => {
    const fresh = request.agent(idp.server);
    expect((await fresh.get('/register/login')).status).toBe(409);
    expect((await fresh.get('/register/verify-email')).status).toBe(409);
    const agent = request.agent(idp.server);
    await startRegistration(agent);
    const skip = await agent.get('/register/login'); // step 1 not done: back to it
    expect(skip.status).toBe(303);
    expect(skip.headers.location).toBe('/register/producer');
    idp.clock.advance(idp.config.REGISTRATION_FLOW_TTL_SECONDS + 1);
    const expired = await agent.get('/register/producer');
    expect(expired.status).toBe(410);
    expect(expired.text).toContain('registration session expired');
  });

  it('links are valid 7 days; Resend Email Link voids the earlier link', async () => {
    const t = await startIdp();
    try {
      const agent = request.agent(t.server);
      const terms = await agent.get('/register');
      await agent.post('/register/terms').type('form').send({ _csrf: csrf(terms.text), decision: 'accept', version: /name="version" value="([^"]+)"/.exec(terms.text)![1] });
      const p1 = await agent.get('/register/producer');
      await agent.post('/register/producer').type('form').send({ _csrf: csrf(p1.text), producerNumber: '104201', npn: '19000001', zip: '60601' });
      const p2 = await agent.get('/register/login');
      await agent.post('/register/login').type('form').send({ _csrf: csrf(p2.text), username: 'AveryLinks', password: GOOD_PASSWORD });
      const first = linkIn((await t.smtp.waitFor('avery.quinlan@example.com', /Confirm/)).text, '/verify-email');
      const p3 = await agent.get('/register/verify-email');
      t.clock.advance(31); // the send limits of one-time codes (issue 9, item 9)
      const resent = await agent.post('/register/verify-email/resend').type('form').send({ _csrf: csrf(p3.text) });
      expect(resent.text).toContain('Links sent earlier no longer work');
      await new Promise((r) => setTimeout(r, 200));
      const mails = t.smtp.to('avery.quinlan@example.com');
      expect(mails.length).toBe(2);
      const second = linkIn(mails[1].text, '/verify-email');
      expect(second).not.toBe(first);
      const path = (u: string) => new URL(u).pathname + new URL(u).search;
      expect((await agent.get(path(first))).status).toBe(400);
      t.clock.advance(7 * 24 * 3600 + 1);
      expect((await agent.get(path(second))).status).toBe(400);
      const acc = await t.services.db.selectFrom('accounts').select('email_verified_at').where('username_normalized', '=', 'averylinks').executeTakeFirstOrThrow();
      expect(acc.email_verified_at).toBeNull();
    } finally {
      await t.stop();
    }
  });

  describe('bad input never gives a 500 and writes nothing', () => {
    const long = 'x'.repeat(10_000);
    const cases: [string, Record<string, unknown>][] = [
      ['missing fields', {}],
      ['10 kB strings', { producerNumber: long, npn: long, zip: long }],
      ['control characters', { producerNumber: '1\u0000\u0007', npn: '\u001b[31m', zip: '6060\n1' }],
      ['non-ASCII', { producerNumber: '１２３', npn: 'ñññ', zip: '６０６０１' }],
      ['wrong types (arrays)', { 'producerNumber[]': ['1', '2'], npn: '19000001', zip: '60601' }],
    ];
    for (const [name, values] of cases) {
      it(`step 1: ${name}`, async () => {
        const agent = request.agent(idp.server);
        const page = await startRegistration(agent);
        const r = await submitProducer(agent, page.text, values);
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        expect(r.text).toMatch(/This field is required|should be|too long|could not match/);
      });
    }
    it('step 2: 10 kB username and password, control characters', async () => {
      const agent = request.agent(idp.server);
      const page = await startRegistration(agent);
      await submitProducer(agent, page.text, { producerNumber: '000104202', npn: '19000002', zip: '60601' });
      const step2 = await agent.get('/register/login');
      const before = await accountCount();
      for (const body of [{ username: long, password: long }, { username: 'abc\u0000defgh', password: 'Qz7!\u0000kR9{mW' }, {}]) {
        const r = await agent.post('/register/login').type('form').send({ _csrf: csrf(step2.text), ...body });
        expect(r.status).toBe(422);
      }
      expect(await accountCount()).toBe(before);
    });
    it('a missing or foreign CSRF token is refused with 403 and a clear message', async () => {
      const agent = request.agent(idp.server);
      const page = await startRegistration(agent);
      const missing = await agent.post('/register/producer').type('form').send({ producerNumber: '000104203', npn: '19000003', zip: '60614' });
      expect(missing.status).toBe(403);
      expect(missing.text).toContain('Please try again');
      const other = request.agent(idp.server);
      const foreign = csrf((await other.get('/register')).text);
      const replayed = await submitProducer(agent, page.text.replace(csrf(page.text), foreign), { producerNumber: '000104203', npn: '19000003', zip: '60614' });
      expect(replayed.status).toBe(403);
      expect(replayed.text).toContain('Please try again');
      // Nothing changed: the flow is still at step 1.
      expect((await agent.get('/register/login')).headers.location).toBe('/register/producer');
      expect((await agent.get('/register/producer')).status).toBe(200);
      // the login form too
      const s = await beginSignIn(idp, agent);
      const login = await agent.post(`/interaction/${s.uid}/login`).type('form').send({ _csrf: foreign, username: 'x', password: 'y' });
      expect(login.status).toBe(403);
      expect(login.text).toContain('Log In');
    });
    it('login form: 10 kB values, arrays, missing fields', async () => {
      const agent = request.agent(idp.server);
      const s = await beginSignIn(idp, agent);
      for (const body of [{ username: long, password: long }, { 'username[]': ['a', 'b'], password: 'x' }, {}]) {
        const r = await agent.post(`/interaction/${s.uid}/login`).type('form').send({ _csrf: csrf(s.page.text), ...body });
        expect(r.status).toBe(422);
        expect(r.text).toContain('Log In');
      }
    });
    it('a body over the form limit gets 413 with a clear message', async () => {
      const agent = request.agent(idp.server);
      const page = await startRegistration(agent);
      const r = await agent.post('/register/producer').type('form').send({ _csrf: csrf(page.text), producerNumber: 'x'.repeat(200_000) });
      expect(r.status).toBe(413);
      expect(r.text).toContain('too long');
    });
    it('an unknown interaction or a garbage confirmation token gives a 4xx page', async () => {
      const agent = request.agent(idp.server);
      expect((await agent.get('/interaction/doesnotexist')).status).toBe(400);
      expect((await agent.get('/verify-email?token=' + 'A'.repeat(5000))).status).toBe(400);
      expect((await agent.get('/verify-email')).status).toBe(400);
    });
  });
});
