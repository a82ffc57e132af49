/**
 * Issue 9 "Hardening", links, codes and mail (items 6, 7, 8 and 9), as journeys through the pages
 * against real PostgreSQL, a real SMTP receiver and the SMS webhook receiver.
 */
import { randomBytes, randomInt } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertProducers } from '../../src/db/repositories/producers.ts';
import { maskEmail, maskPhone } from '../../src/security/mask.ts';
import { beginSignIn, codeIn, createAccount, csrf, GOOD_PASSWORD, postLoginStep, submitLogin } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';
import { SmsReceiver } from '../helpers/sms-receiver.ts';
import { linkIn } from '../helpers/smtp.ts';

type Agent = ReturnType<typeof request.agent>;

const SMS_SECRET = 'h'.repeat(40);
let idp: TestIdp;
let sms: SmsReceiver;

beforeAll(async () => {
  sms = await new SmsReceiver().start();
  idp = await startIdp({
    SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: `${sms.url}/sms`, SMS_WEBHOOK_SECRET: SMS_SECRET, SMS_TIMEOUT_MS: 2000,
    RATE_LIMIT_RECOVERY_POINTS: 100_000, RATE_LIMIT_LOGIN_POINTS: 100_000,
  });
});
afterAll(async () => {
  await idp?.stop();
  await sms?.stop();
});

/** A new producer record (unique email and mobile) with an account unless `account: false`. */
async function producer(opts: { account?: boolean; verified?: boolean; mobile?: boolean } = {}) {
  const tag = randomBytes(4).toString('hex');
  const producerNumber = String(randomInt(200_000_000, 999_999_999));
  const npn = String(randomInt(10_000_000, 99_999_999));
  const email = `link.${tag}@agency-${tag}.example.com`;
  const mobile = opts.mobile === false ? null : `+1312${String(randomInt(0, 10_000_000)).padStart(7, '0')}`;
  await upsertProducers(idp.services.db, [{
    producerNumber, npn, firstName: 'Lee', lastName: `Link${tag}`, agencyName: null,
    email, mobilePhone: mobile, businessZip: '60601', bapZip: null, parentProducerNumber: null, status: 'active',
  }]);
  const username = `Link${tag}`;
  const id = opts.account === false ? '' : await createAccount(idp, { producerNumber, username, verified: opts.verified });
  return { id, producerNumber, npn, email, mobile, username };
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

async function mailsTo(email: string, subject: RegExp, count: number): Promise<string[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = idp.smtp.to(email).filter((m) => subject.test(m.subject)).map((m) => m.text);
    if (found.length >= count) return found;
    if (Date.now() > deadline) throw new Error(`expected ${count} mails ${subject} to ${email}, got ${found.length}`);
    await sleep(50);
  }
}

function textsTo(mobile: string): { body: string; purpose: string }[] {
  return sms.requests.map((r) => JSON.parse(r.rawBody) as { to: string; body: string; purpose: string }).filter((m) => m.to === mobile);
}

async function lockAccount(username: string) {
  const agent = request.agent(idp.server);
  const { uid } = await beginSignIn(idp, agent, { prompt: 'login' });
  for (let i = 0; i < idp.config.LOCKOUT_THRESHOLD; i++) await submitLogin(agent, uid, username, 'Wr0ng!pass9');
}

async function isLocked(id: string): Promise<boolean> {
  const row = await idp.services.db.selectFrom('accounts').select('locked_until').where('id', '=', id).executeTakeFirstOrThrow();
  return !!row.locked_until && new Date(row.locked_until).getTime() > idp.clock.now().getTime();
}

describe('kind: one-time links act on GET and HEAD (issue 9, item 6)', () => {
  it('the unlock link: HEAD and GET (with or without cookies) change nothing; only the POST of its page, with CSRF, unlocks', async () => {
    const who = await producer();
    await lockAccount(who.username);
    expect(await isLocked(who.id)).toBe(true);
    const agent = request.agent(idp.server);
    const form = await agent.get('/forgot-username');
    await agent.post('/forgot-username').type('form').send({ _csrf: csrf(form.text), email: who.email });
    const [mail] = await mailsTo(who.email, /username/, 1);
    const link = new URL(linkIn(mail, '/unlock'));
    const path = link.pathname + link.search;

    await request(idp.server).head(path); // a mail scanner, no cookies
    await request(idp.server).get(path);
    const shown = await agent.get(path);
    expect(shown.status).toBe(200);
    expect(shown.text).toContain('Unlock Account');
    expect(shown.text).toMatch(/<form method="post" action="\/unlock"/);
    expect(await isLocked(who.id)).toBe(true);
    const used = await idp.services.db.selectFrom('single_use_links').select('used_at').where('purpose', '=', 'unlock').where('account_id', '=', who.id).executeTakeFirstOrThrow();
    expect(used.used_at).toBeNull();

    const token = link.searchParams.get('token')!;
    expect((await request(idp.server).post('/unlock').type('form').send({ token })).status).toBe(403); // no CSRF
    expect(await isLocked(who.id)).toBe(true);
    const done = await agent.post('/unlock').type('form').send({ _csrf: csrf(shown.text), token });
    expect(done.status).toBe(200);
    expect(done.text).toContain('Your account is unlocked');
    expect(await isLocked(who.id)).toBe(false);
  });

  it('the email confirmation link: HEAD and GET neither confirm nor burn it; the owner\'s click then confirms', async () => {
    const who = await producer({ verified: false });
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent, { prompt: 'login' });
    const right = await submitLogin(agent, uid, who.username, GOOD_PASSWORD);
    expect(right.status).toBe(403);
    const ticket = /name="ticket" value="([^"]+)"/.exec(right.text)![1];
    await agent.post('/login/resend-verification').type('form').send({ _csrf: csrf(right.text), ticket, interaction: uid });
    const [mail] = await mailsTo(who.email, /Confirm/, 1);
    const link = new URL(linkIn(mail, '/verify-email'));
    const path = link.pathname + link.search;

    await request(idp.server).head(path);
    await request(idp.server).get(path);
    const verified = async () => (await idp.services.db.selectFrom('accounts').select('email_verified_at').where('id', '=', who.id).executeTakeFirstOrThrow()).email_verified_at;
    expect(await verified()).toBeNull();

    const owner = request.agent(idp.server);
    const shown = await owner.get(path);
    expect(shown.status).toBe(200);
    expect(shown.text).toMatch(/<form method="post" action="\/verify-email"/);
    expect(await verified()).toBeNull();
    const token = link.searchParams.get('token')!;
    expect((await request(idp.server).post('/verify-email').type('form').send({ token })).status).toBe(403);
    const done = await owner.post('/verify-email').type('form').send({ _csrf: csrf(shown.text), token });
    expect(done.status).toBe(200);
    expect(done.text).toContain('Your email address is confirmed');
    expect(await verified()).not.toBeNull();
    // Used once: the link's page now says it is not valid.
    expect((await owner.get(path)).status).toBe(400);
  });
});

/** Forgot Password steps 1-2 in `agent`; returns the step-2 page. */
async function findAccount(agent: Agent, username: string) {
  const page = await agent.get('/forgot-password');
  const res = await agent.post('/forgot-password').type('form').send({ _csrf: csrf(page.text), username });
  expect(res.status).toBe(303);
  return agent.get('/forgot-password/verify');
}

async function choose(agent: Agent, channel: 'email' | 'sms') {
  const page = await agent.get('/forgot-password/verify');
  return agent.post('/forgot-password/verify').type('form').send({ _csrf: csrf(page.text), channel });
}

async function enterCode(agent: Agent, code: string) {
  const page = await agent.get('/forgot-password/code');
  return agent.post('/forgot-password/code').type('form').send({ _csrf: csrf(page.text), code });
}

describe('kind: codes are not bound to their flow and channel (issue 9, item 7)', () => {
  it('a code texted in browser B\'s flow is refused in browser A\'s email flow and confirms nothing; A\'s own email code works and confirms the email', async () => {
    const who = await producer({ verified: false });
    const a = request.agent(idp.server);
    const b = request.agent(idp.server);
    const c = request.agent(idp.server);
    await findAccount(a, who.username);
    expect((await choose(a, 'email')).status).toBe(303);
    const [mailA] = await mailsTo(who.email, /password reset code/, 1);
    idp.clock.advance(31);
    await findAccount(b, who.username);
    expect((await choose(b, 'sms')).status).toBe(303);
    const textB = codeIn(textsTo(who.mobile!).at(-1)!.body);
    idp.clock.advance(31);
    await findAccount(c, who.username);
    expect((await choose(c, 'email')).status).toBe(303);
    const mailC = (await mailsTo(who.email, /password reset code/, 2))[1];

    for (const foreign of [textB, codeIn(mailC)]) {
      const refused = await enterCode(a, foreign);
      expect(refused.status).toBe(422);
      expect(refused.text).toContain('That code is not correct'); // compared with this flow's own code only
    }
    const row = await idp.services.db.selectFrom('accounts').select('email_verified_at').where('id', '=', who.id).executeTakeFirstOrThrow();
    expect(row.email_verified_at).toBeNull();

    // A's own code (sent by email in A's flow) works there, and only it confirms the address.
    const ok = await enterCode(a, codeIn(mailA));
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe('/forgot-password/new-password');
    const page = await a.get('/forgot-password/new-password');
    expect((await a.post('/forgot-password/new-password').type('form').send({ _csrf: csrf(page.text), password: 'Wx4{bT8!cZ' })).status).toBe(303);
    const after = await idp.services.db.selectFrom('accounts').select('email_verified_at').where('id', '=', who.id).executeTakeFirstOrThrow();
    expect(after.email_verified_at).not.toBeNull();
  });

  it('a sign-in code works only in the interaction and on the channel it was sent for', async () => {
    const who = await producer();
    const a = request.agent(idp.server);
    const b = request.agent(idp.server);
    const signInAt = async (agent: Agent) => {
      const { uid } = await beginSignIn(idp, agent, { prompt: 'login' });
      await submitLogin(agent, uid, who.username, GOOD_PASSWORD);
      return uid;
    };
    const post = (agent: Agent, uid: string, form: Record<string, string>) => postLoginStep(agent, uid, form);
    const uidA = await signInAt(a);
    expect((await post(a, uidA, { action: 'choose', factor: 'email' })).status).toBe(200);
    const [mailA] = await mailsTo(who.email, /verification code/, 1);
    const uidB = await signInAt(b);
    expect((await post(b, uidB, { action: 'choose', factor: 'sms' })).status).toBe(200);
    const textB = codeIn(textsTo(who.mobile!).at(-1)!.body);
    // A's email code in B's interaction (on the text channel), and B's text in A's: both refused.
    expect((await post(b, uidB, { action: 'verify', code: codeIn(mailA) })).status).toBe(401);
    expect((await post(a, uidA, { action: 'verify', code: textB })).status).toBe(401);
    // Each works where it was sent.
    expect((await post(a, uidA, { action: 'verify', code: codeIn(mailA) })).status).toBe(303);
    expect((await post(b, uidB, { action: 'verify', code: textB })).status).toBe(303);
  });

  it('a code texted in a flow does not confirm the email', async () => {
    const who = await producer({ verified: false });
    const agent = request.agent(idp.server);
    await findAccount(agent, who.username);
    expect((await choose(agent, 'sms')).status).toBe(303);
    expect((await enterCode(agent, codeIn(textsTo(who.mobile!).at(-1)!.body))).status).toBe(303);
    const page = await agent.get('/forgot-password/new-password');
    expect((await agent.post('/forgot-password/new-password').type('form').send({ _csrf: csrf(page.text), password: 'Wx4{bT8!cZ' })).status).toBe(303);
    const row = await idp.services.db.selectFrom('accounts').select('email_verified_at').where('id', '=', who.id).executeTakeFirstOrThrow();
    expect(row.email_verified_at).toBeNull();
  });
});

describe('kind: placeholders for unknown usernames come from another distribution than real values (issue 9, item 8)', () => {
  const masksOf = (html: string) => [...html.matchAll(/<strong class="destination">([^<]*)<\/strong>/g)].map((m) => m[1]);

  it('what step 2 shows for an unknown username is exactly what it shows for some real account', async () => {
    await producer({ mobile: false });
    await producer();
    const real = await idp.services.db
      .selectFrom('accounts as a')
      .innerJoin('producer_records as p', 'p.producer_number', 'a.producer_number')
      .select(['p.email', 'p.mobile_phone'])
      .where('a.status', '=', 'active')
      .execute();
    const shown = new Set(real.map((r) => JSON.stringify([maskEmail(r.email), ...(r.mobile_phone ? [maskPhone(r.mobile_phone)] : [])])));
    for (let i = 0; i < 12; i++) {
      const agent = request.agent(idp.server);
      const page = await findAccount(agent, `Nobody${randomBytes(5).toString('hex')}`);
      const masks = masksOf(page.text);
      expect(masks.length).toBeGreaterThanOrEqual(1);
      expect(shown.has(JSON.stringify(masks)), `${masks.join(' ')} is not the masks of a real account`).toBe(true);
    }
  });
});

/** A message a person can ask for again: `fire` asks once (status), `sent` counts what was delivered. */
interface Trigger {
  name: string;
  setup(): Promise<{ fire(): Promise<number>; sent(): number }>;
}

const triggers: Trigger[] = [
  {
    name: 'Resend Email Link on registration step 3 (the first mail of registration counts)',
    async setup() {
      const p = await producer({ account: false });
      const agent = request.agent(idp.server);
      const terms = await agent.get('/register');
      const version = /name="version" value="([^"]+)"/.exec(terms.text)![1];
      await agent.post('/register/terms').type('form').send({ _csrf: csrf(terms.text), decision: 'accept', version });
      const step1 = await agent.get('/register/producer');
      await agent.post('/register/producer').type('form').send({ _csrf: csrf(step1.text), producerNumber: p.producerNumber, npn: p.npn, zip: '60601' });
      const step2 = await agent.get('/register/login');
      const created = await agent.post('/register/login').type('form').send({ _csrf: csrf(step2.text), username: p.username, password: GOOD_PASSWORD });
      expect(created.status).toBe(303);
      await mailsTo(p.email, /Confirm/, 1);
      return {
        async fire() {
          const page = await agent.get('/register/verify-email');
          return (await agent.post('/register/verify-email/resend').type('form').send({ _csrf: csrf(page.text) })).status;
        },
        sent: () => idp.smtp.to(p.email).filter((m) => /Confirm/.test(m.subject)).length,
      };
    },
  },
  {
    name: 'Resend Email Link on the login page',
    async setup() {
      const p = await producer({ verified: false });
      const agent = request.agent(idp.server);
      const { uid } = await beginSignIn(idp, agent, { prompt: 'login' });
      return {
        async fire() {
          const page = await submitLogin(agent, uid, p.username, GOOD_PASSWORD);
          const ticket = /name="ticket" value="([^"]+)"/.exec(page.text)![1];
          return (await agent.post('/login/resend-verification').type('form').send({ _csrf: csrf(page.text), ticket, interaction: uid })).status;
        },
        sent: () => idp.smtp.to(p.email).filter((m) => /Confirm/.test(m.subject)).length,
      };
    },
  },
  {
    name: 'Forgot Username mail (with its unlock link)',
    async setup() {
      const p = await producer();
      await lockAccount(p.username);
      return {
        async fire() {
          const agent = request.agent(idp.server);
          const page = await agent.get('/forgot-username');
          return (await agent.post('/forgot-username').type('form').send({ _csrf: csrf(page.text), email: p.email })).status;
        },
        sent: () => idp.smtp.to(p.email).filter((m) => /username/.test(m.subject)).length,
      };
    },
  },
  ...(['email', 'sms'] as const).map((channel): Trigger => ({
    name: `Forgot Password code by ${channel} (Send Code, then Resend Code)`,
    async setup() {
      const p = await producer();
      const agent = request.agent(idp.server);
      await findAccount(agent, p.username);
      let first = true;
      return {
        async fire() {
          if (first) {
            first = false;
            return (await choose(agent, channel)).status;
          }
          const page = await agent.get('/forgot-password/code');
          return (await agent.post('/forgot-password/code/resend').type('form').send({ _csrf: csrf(page.text) })).status;
        },
        sent: () => (channel === 'email' ? idp.smtp.to(p.email).filter((m) => /password reset code/.test(m.subject)).length : textsTo(p.mobile!).length),
      };
    },
  })),
  ...(['email', 'sms'] as const).map((channel): Trigger => ({
    name: `Verify your Account code by ${channel} (Send Code, then resend)`,
    async setup() {
      const p = await producer();
      const agent = request.agent(idp.server);
      const { uid } = await beginSignIn(idp, agent, { prompt: 'login' });
      await submitLogin(agent, uid, p.username, GOOD_PASSWORD);
      let first = true;
      return {
        async fire() {
          const page = await agent.get(`/interaction/${uid}`);
          const form = first ? { action: 'choose', factor: channel } : { action: 'resend' };
          first = false;
          return (await agent.post(`/interaction/${uid}/login`).type('form').send({ _csrf: csrf(page.text), ...form })).status;
        },
        sent: () => (channel === 'email' ? idp.smtp.to(p.email).filter((m) => /verification code/.test(m.subject)).length : textsTo(p.mobile!).length),
      };
    },
  })),
];

describe('kind: send limits are applied unevenly (issue 9, item 9)', () => {
  it.each(triggers.map((t) => [t.name, t] as const))('%s: no sooner than 30 s after the last, at most 5 in an hour', async (_name, trigger) => {
    const t = await trigger.setup();
    const settle = async () => sleep(300); // a refused request: give a wrongly sent message time to show up
    /** Waits (at most 10 s) until more than `n` messages were delivered (mail goes out after the response). */
    const delivered = async (n: number) => {
      const deadline = Date.now() + 10_000;
      while (t.sent() <= n && Date.now() < deadline) await sleep(50);
      return t.sent();
    };
    const accepted = (status: number) => status === 200 || status === 303;
    idp.clock.advance(31);
    const base = t.sent();
    expect(accepted(await t.fire())).toBe(true);
    const first = await delivered(base);
    expect(first).toBeGreaterThan(base);
    // Within 30 seconds: refused, nothing sent.
    idp.clock.advance(10);
    expect(await t.fire()).toBe(429);
    await settle();
    expect(t.sent()).toBe(first);
    // Every 31 seconds: accepted until 5 in the hour (the first mail of registration included).
    let count = t.sent();
    for (;;) {
      idp.clock.advance(31);
      const status = await t.fire();
      if (!accepted(status)) {
        expect(status).toBe(429);
        await settle();
        break;
      }
      expect(await delivered(count)).toBe(count + 1);
      count = t.sent();
      if (count > 10) throw new Error('no hourly limit');
    }
    expect(t.sent()).toBe(count);
    expect(count).toBe(5);
  });
});
