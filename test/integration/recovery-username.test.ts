import { randomBytes, randomInt } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertProducers } from '../../src/db/repositories/producers.ts';
import { beginSignIn, createAccount, csrf, submitLogin } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';
import { linkIn } from '../helpers/smtp.ts';

type Agent = ReturnType<typeof request.agent>;

let idp: TestIdp;
beforeAll(async () => {
  idp = await startIdp({ RATE_LIMIT_RECOVERY_POINTS: 100_000 });
});
afterAll(async () => {
  await idp?.stop();
});

/** A new producer record with `email` (default: a unique one); returns its producer number and email. */
async function producer(email?: string) {
  const tag = randomBytes(4).toString('hex');
  const producerNumber = String(randomInt(200_000_000, 999_999_999));
  const address = email ?? `user.${tag}@agency-${tag}.example.com`;
  await upsertProducers(idp.services.db, [{
    producerNumber, npn: String(randomInt(10_000_000, 99_999_999)), firstName: 'Lee', lastName: `Name${tag}`, agencyName: null,
    email: address, mobilePhone: null, businessZip: '60601', bapZip: null, parentProducerNumber: null, status: 'active',
  }]);
  return { producerNumber, email: address, tag };
}

async function withAccount(email?: string) {
  const p = await producer(email);
  const username = `User${p.tag}`;
  const id = await createAccount(idp, { producerNumber: p.producerNumber, username });
  return { ...p, id, username };
}

async function sendEmail(agent: Agent, email: unknown, uid?: string) {
  const page = await agent.get(`/forgot-username${uid ? `?interaction=${uid}` : ''}`);
  expect(page.status).toBe(200);
  return agent.post('/forgot-username').type('form').send({ _csrf: csrf(page.text), email, ...(uid ? { interaction: uid } : {}) });
}

async function resendEmail(agent: Agent) {
  const page = await agent.get('/forgot-username/sent');
  return agent.post('/forgot-username/resend').type('form').send({ _csrf: csrf(page.text) });
}

const settle = () => new Promise((r) => setTimeout(r, 250));

function cookieShapes(res: request.Response): string[] {
  const raw = res.headers['set-cookie'] as unknown as string[] | undefined;
  return (raw ?? []).map((c) => c.replace(/^([^=]+)=[^;]*/, '$1=').toLowerCase()).sort();
}

describe('Forgot Username (guide slides 12-13)', () => {
  it('from the login page: Email address → Send Email; the mail lists the username and the help desk phone', async () => {
    const who = await withAccount();
    const agent = request.agent(idp.server);
    const { uid, page: login } = await beginSignIn(idp, agent);
    expect(login.text).toContain(`/forgot-username?interaction=${uid}`);
    const page = await agent.get(`/forgot-username?interaction=${uid}`);
    for (const label of ['Forgot Username', 'Email address', 'Send Email']) expect(page.text).toContain(label);
    const sent = await agent.post('/forgot-username').type('form').send({ _csrf: csrf(page.text), email: `  ${who.email.toUpperCase()} `, interaction: uid });
    expect(sent.status).toBe(303);
    expect(sent.headers.location).toBe('/forgot-username/sent');
    const confirmation = await agent.get('/forgot-username/sent');
    expect(confirmation.status).toBe(200);
    expect(confirmation.text).toContain(`An email has been sent to ${who.email.toUpperCase()} if an account exists`);
    for (const label of ['Resend Email', 'Return to Log In', idp.config.HELP_DESK_PHONE, `/interaction/${uid}`]) expect(confirmation.text).toContain(label);
    const mail = await idp.smtp.waitFor(who.email, /username/);
    expect(mail.text).toContain(who.username);
    expect(mail.html).toContain(who.username);
    expect(mail.text).toContain(idp.config.HELP_DESK_PHONE);
    expect(mail.text).not.toContain('/unlock');
    await settle(); // the audit event follows the SMTP server's acceptance
    const types = (await idp.services.db.selectFrom('audit_events').select('type').where('account_id', '=', who.id).execute()).map((r) => r.type);
    expect(types).toContain('recovery.username_sent');
  });

  it('an address that is not an email gets "Please enter a valid email address."', async () => {
    const agent = request.agent(idp.server);
    for (const email of ['', 'not-an-email', 'a@', '@example.com', 'a b@example.com', 'x'.repeat(250) + '@example.com']) {
      const r = await sendEmail(agent, email);
      expect(r.status).toBe(422);
      expect(r.text).toContain('Please enter a valid email address.');
      expect(r.text).toContain('Send Email');
    }
  });

  it('every account registered with the email is listed (emails compared ignoring case), in one mail', async () => {
    const first = await withAccount();
    const second = await withAccount(first.email.toUpperCase());
    const unrelated = await withAccount();
    const agent = request.agent(idp.server);
    expect((await sendEmail(agent, first.email)).status).toBe(303);
    const mail = await idp.smtp.waitFor(first.email, /username/);
    expect(mail.text).toContain(first.username);
    expect(mail.text).toContain(second.username);
    expect(mail.text).not.toContain(unrelated.username);
    await settle();
    expect(idp.smtp.to(first.email).filter((m) => /username/.test(m.subject))).toHaveLength(1);
  });

  it('an unknown email gets the same answer, status and cookies, and no mail', async () => {
    const who = await withAccount();
    const unknown = `nobody.${randomBytes(4).toString('hex')}@agency-zz.example.com`;
    const run = async (email: string) => {
      const agent = request.agent(idp.server);
      const page = await agent.get('/forgot-username');
      const posted = await agent.post('/forgot-username').type('form').send({ _csrf: csrf(page.text), email });
      const shown = await agent.get('/forgot-username/sent');
      const resent = await agent.post('/forgot-username/resend').type('form').send({ _csrf: csrf(shown.text) });
      const strip = (html: string) => html.replace(/name="_csrf" value="[^"]+"/g, '').split(email).join('<email>');
      return [page, posted, shown, resent].map((r) => ({ status: r.status, location: r.headers.location, cookies: cookieShapes(r), body: strip(r.text) }));
    };
    const real = await run(who.email);
    await idp.smtp.waitFor(who.email, /username/);
    await settle();
    const before = idp.smtp.messages.length;
    const fake = await run(unknown);
    expect(fake).toEqual(real);
    expect(real[3].status).toBe(429); // "Resend Email" right away: the same limit for any address
    await settle();
    expect(idp.smtp.messages.length).toBe(before);
  });

  it('a locked account: the mail carries a single-use unlock link valid 30 minutes; following it unlocks', async () => {
    const who = await withAccount();
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent);
    for (let i = 0; i < 5; i++) await submitLogin(agent, uid, who.username, 'Wrong!pass9');
    const locked = await idp.services.db.selectFrom('accounts').select(['locked_until', 'failed_login_count']).where('id', '=', who.id).executeTakeFirstOrThrow();
    expect(locked.locked_until).not.toBeNull();
    // Asking for the username alone does not unlock.
    expect((await sendEmail(agent, who.email, uid)).status).toBe(303);
    const mail = await idp.smtp.waitFor(who.email, /username/);
    const link = linkIn(mail.text, '/unlock');
    expect(link.startsWith(`${idp.url}/unlock?token=`)).toBe(true); // built from ISSUER
    const token = new URL(link).searchParams.get('token')!;
    expect(Buffer.from(token, 'base64url').length).toBeGreaterThanOrEqual(16);
    const stored = await idp.services.db.selectFrom('single_use_links').select('token_hash').where('purpose', '=', 'unlock').where('account_id', '=', who.id).execute();
    expect(stored).toHaveLength(1);
    expect(stored[0].token_hash).not.toContain(token);
    expect(stored[0].token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect((await idp.services.db.selectFrom('accounts').select('locked_until').where('id', '=', who.id).executeTakeFirstOrThrow()).locked_until).not.toBeNull();

    const path = new URL(link).pathname + new URL(link).search;
    // The link shows a page with one button; its POST unlocks (issue 9, item 6).
    const shown = await agent.get(path);
    expect(shown.status).toBe(200);
    expect(shown.text).not.toContain('Your account is unlocked');
    const unlocked = await agent.post('/unlock').type('form').send({ _csrf: csrf(shown.text), token });
    expect(unlocked.status).toBe(200);
    expect(unlocked.text).toContain('Your account is unlocked');
    expect(unlocked.text).toContain('Return to Log In');
    expect(unlocked.text).toContain(`/interaction/${uid}?notice=unlocked`);
    const loginPage = await agent.get(`/interaction/${uid}?notice=unlocked`);
    expect(loginPage.text).toContain('Your account is unlocked');
    const acc = await idp.services.db.selectFrom('accounts').select(['locked_until', 'failed_login_count']).where('id', '=', who.id).executeTakeFirstOrThrow();
    expect(acc).toEqual({ locked_until: null, failed_login_count: 0 });
    const types = (await idp.services.db.selectFrom('audit_events').select('type').where('account_id', '=', who.id).execute()).map((r) => r.type);
    expect(types).toContain('recovery.account_unlocked');
    expect(types).toContain('recovery.unlock_link_sent');
    // Single use.
    expect((await agent.get(path)).status).toBe(400);
    expect((await agent.post('/unlock').type('form').send({ _csrf: csrf(shown.text), token })).status).toBe(400);
    const ok = await submitLogin(agent, uid, who.username, 'Qz7!kR9{mW');
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('Verify your Account');
  });

  it('an unlock link expires after 30 minutes; garbage tokens get a 4xx page', async () => {
    const who = await withAccount();
    await idp.services.db.updateTable('accounts').set({ failed_login_count: 5, locked_until: new Date(idp.clock.now().getTime() + 3 * 3600_000) }).where('id', '=', who.id).execute();
    const agent = request.agent(idp.server);
    await sendEmail(agent, who.email);
    const link = linkIn((await idp.smtp.waitFor(who.email, /username/)).text, '/unlock');
    idp.clock.advance(30 * 60 + 1);
    const late = await agent.get(new URL(link).pathname + new URL(link).search);
    expect(late.status).toBe(400);
    expect(late.text).toContain('This unlock link is not valid');
    expect((await idp.services.db.selectFrom('accounts').select('locked_until').where('id', '=', who.id).executeTakeFirstOrThrow()).locked_until).not.toBeNull();
    for (const q of ['', '?token=', '?token=' + 'A'.repeat(5000), '?token[]=a&token[]=b', '?token=%00%01']) {
      const r = await agent.get(`/unlock${q}`);
      expect(r.status).toBe(400);
    }
    idp.clock.advance(3600);
  });

  it('Resend Email: not within 30 seconds, at most 5 per hour per address', async () => {
    const who = await withAccount();
    const agent = request.agent(idp.server);
    expect((await sendEmail(agent, who.email)).status).toBe(303);
    const soon = await resendEmail(agent);
    expect(soon.status).toBe(429);
    expect(soon.text).toMatch(/Please wait \d+ seconds/);
    for (let i = 2; i <= 5; i++) {
      idp.clock.advance(31);
      const again = await resendEmail(agent);
      expect(again.status).toBe(200);
      expect(again.text).toContain('We sent the email to');
    }
    idp.clock.advance(31);
    const sixth = await resendEmail(agent);
    expect(sixth.status).toBe(429);
    expect(sixth.text).toContain('Too many messages were sent');
    // The limit is per address, not per browser: a new flow for the same address is refused too.
    const other = request.agent(idp.server);
    expect((await sendEmail(other, who.email.toUpperCase())).status).toBe(429);
    const deadline = Date.now() + 5000;
    while (idp.smtp.to(who.email).length < 5 && Date.now() < deadline) await settle();
    await settle();
    expect(idp.smtp.to(who.email)).toHaveLength(5);
    idp.clock.advance(3600);
    expect((await resendEmail(agent)).status).toBe(410); // the flow (15 minutes) is over meanwhile
    expect((await sendEmail(other, who.email)).status).toBe(303);
  });

  it('an expired flow starts over with a message; no flow gets the form again', async () => {
    const fresh = request.agent(idp.server);
    const none = await fresh.get('/forgot-username/sent');
    expect(none.status).toBe(409);
    expect(none.text).toContain('Send Email');
    const agent = request.agent(idp.server);
    await sendEmail(agent, `later.${randomBytes(3).toString('hex')}@example.com`);
    idp.clock.advance(idp.config.RECOVERY_FLOW_TTL_SECONDS + 1);
    const expired = await agent.get('/forgot-username/sent');
    expect(expired.status).toBe(410);
    expect(expired.text).toContain('This page expired');
    expect(expired.text).toContain('Send Email');
  });

  describe('bad input never gives a 500 and writes nothing', () => {
    const long = 'x'.repeat(10_000);
    it('missing, 10 kB, control characters, arrays; CSRF missing or foreign', async () => {
      const agent = request.agent(idp.server);
      const page = await agent.get('/forgot-username');
      const count = async () => (await idp.services.db.selectFrom('message_sends').select('id').where('purpose', '=', 'forgot_username').execute()).length;
      const before = await count();
      for (const body of [{}, { email: long }, { email: `${long}@example.com` }, { email: 'a\u0000b@example.com' }, { email: 'a@exa\nmple.com' }, { 'email[]': ['a@example.com', 'b@example.com'] }, { email: ['a@example.com', 'b@example.com'] }]) {
        const r = await agent.post('/forgot-username').type('form').send({ _csrf: csrf(page.text), ...body });
        expect(r.status).toBe(422);
        expect(r.text).toContain('Please enter a valid email address.');
      }
      const missing = await agent.post('/forgot-username').type('form').send({ email: 'a@example.com' });
      expect(missing.status).toBe(403);
      expect(missing.text).toContain('Please try again');
      const other = request.agent(idp.server);
      const foreign = csrf((await other.get('/forgot-username')).text);
      expect((await agent.post('/forgot-username').type('form').send({ _csrf: foreign, email: 'a@example.com' })).status).toBe(403);
      expect((await agent.post('/forgot-username/resend').type('form').send({})).status).toBe(403);
      expect(await count()).toBe(before);
    });

    it('rate limit per client address: 429 with the time to wait', async () => {
      const t = await startIdp({ RATE_LIMIT_RECOVERY_POINTS: 2 });
      try {
        const agent = request.agent(t.server);
        const page = await agent.get('/forgot-username');
        const statuses: number[] = [];
        for (let i = 0; i < 3; i++) statuses.push((await agent.post('/forgot-username').type('form').send({ _csrf: csrf(page.text), email: `someone${i}@example.com` })).status);
        expect(statuses).toEqual([303, 303, 429]);
      } finally {
        await t.stop();
      }
    });
  });
});
