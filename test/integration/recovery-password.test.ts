import { randomBytes, randomInt } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertProducers } from '../../src/db/repositories/producers.ts';
import { placeholderFromRecords } from '../../src/flows/recovery/forgot-password.ts';
import { maskEmail, maskPhone } from '../../src/security/mask.ts';
import { webhookSignature } from '../../src/notify/sms.ts';
import { beginSignIn, codeIn, createAccount, csrf, followToClient, GOOD_PASSWORD, signIn, submitLogin } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';
import { SmsReceiver } from '../helpers/sms-receiver.ts';

type Agent = ReturnType<typeof request.agent>;

const SMS_SECRET = 's'.repeat(40);
let idp: TestIdp;
let sms: SmsReceiver;

beforeAll(async () => {
  sms = await new SmsReceiver().start();
  idp = await startIdp({
    SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: `${sms.url}/sms`, SMS_WEBHOOK_SECRET: SMS_SECRET, SMS_TIMEOUT_MS: 2000,
    RATE_LIMIT_RECOVERY_POINTS: 100_000,
  });
});
afterAll(async () => {
  await idp?.stop();
  await sms?.stop();
});

/** A new producer record (unique email, optional mobile) with an account; returns what tests need. */
async function producerWithAccount(opts: { mobile?: boolean; username?: string; password?: string } = {}) {
  const n = randomInt(200_000_000, 999_999_999);
  const producerNumber = String(n);
  const tag = randomBytes(4).toString('hex');
  const email = `reset.${tag}@agency-${tag}.example.com`;
  const mobile = opts.mobile === false ? null : `+1312555${String(randomInt(0, 10000)).padStart(4, '0')}`;
  await upsertProducers(idp.services.db, [{
    producerNumber, npn: String(randomInt(10_000_000, 99_999_999)), firstName: 'Pat', lastName: `Reset${tag}`, agencyName: null,
    email, mobilePhone: mobile, businessZip: '60601', bapZip: null, parentProducerNumber: null, status: 'active',
  }]);
  const username = opts.username ?? `Reset${tag}`;
  const id = await createAccount(idp, { producerNumber, username, password: opts.password });
  return { id, producerNumber, email, mobile, username };
}

/** Step 1 → step 2 page for `username` (optionally from the login page of interaction `uid`). */
async function findAccount(agent: Agent, username: string, uid?: string) {
  const page = await agent.get(`/forgot-password${uid ? `?interaction=${uid}` : ''}`);
  expect(page.status).toBe(200);
  const res = await agent.post('/forgot-password').type('form').send({ _csrf: csrf(page.text), username, ...(uid ? { interaction: uid } : {}) });
  return { page, res };
}

async function choose(agent: Agent, channel: string) {
  const page = await agent.get('/forgot-password/verify');
  return agent.post('/forgot-password/verify').type('form').send({ _csrf: csrf(page.text), channel });
}

async function enterCode(agent: Agent, code: string) {
  const page = await agent.get('/forgot-password/code');
  return agent.post('/forgot-password/code').type('form').send({ _csrf: csrf(page.text), code });
}

async function resend(agent: Agent) {
  const page = await agent.get('/forgot-password/code');
  return agent.post('/forgot-password/code/resend').type('form').send({ _csrf: csrf(page.text) });
}

async function newPassword(agent: Agent, password: unknown) {
  const page = await agent.get('/forgot-password/new-password');
  return agent.post('/forgot-password/new-password').type('form').send({ _csrf: csrf(page.text), password });
}

async function mailCode(email: string, count: number): Promise<string> {
  const deadline = Date.now() + 5000;
  while (idp.smtp.to(email).filter((m) => /password reset code/.test(m.subject)).length < count) {
    if (Date.now() > deadline) throw new Error(`no code mail #${count} to ${email}`);
    await idp.smtp.waitFor(email, /password reset code/, 500).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 20));
  }
  return codeIn(idp.smtp.to(email).filter((m) => /password reset code/.test(m.subject))[count - 1].text);
}

function lastSms(): { to: string; body: string; purpose: string } {
  return JSON.parse(sms.requests.at(-1)!.rawBody);
}

/** Walks steps 1-3 by email; returns the agent at step 4. */
async function atStep4(agent: Agent, who: { username: string; email: string }, uid?: string) {
  const before = idp.smtp.to(who.email).filter((m) => /password reset code/.test(m.subject)).length;
  await findAccount(agent, who.username, uid);
  expect((await choose(agent, 'email')).status).toBe(303);
  const code = await mailCode(who.email, before + 1);
  const r = await enterCode(agent, code);
  expect(r.status).toBe(303);
  expect(r.headers.location).toBe('/forgot-password/new-password');
}

function cookieShapes(res: request.Response): string[] {
  const raw = res.headers['set-cookie'] as unknown as string[] | undefined;
  return (raw ?? []).map((c) => c.replace(/^([^=]+)=[^;]*/, '$1=').toLowerCase()).sort();
}

/** A page without its per-request values: CSRF tokens and the masked destinations (which differ by design). */
function normalize(html: string): string {
  return html
    .replace(/name="_csrf" value="[^"]+"/g, 'name="_csrf"')
    .replace(/\bx+[a-z0-9._-]{0,4}@[a-z0-9.-]+\b/g, '<masked email>')
    .replace(/\bx{6}\d{4}\b/g, '<masked phone>');
}

async function auditTypes(accountId: string): Promise<string[]> {
  const rows = await idp.services.db.selectFrom('audit_events').select('type').where('account_id', '=', accountId).orderBy('id').execute();
  return rows.map((r) => r.type);
}

describe('Forgot Password (guide slides 14-17)', () => {
  it('by email from the login page: find account, send code, enter code, new password, back to Log In with a message', async () => {
    const who = await producerWithAccount();
    const agent = request.agent(idp.server);
    const { uid, page: login } = await beginSignIn(idp, agent);
    expect(login.text).toContain(`/forgot-password?interaction=${uid}`);
    // An existing IdP session of this account, a refresh token and a remembered device: all revoked at the end.
    const other = request.agent(idp.server);
    const s = await beginSignIn(idp, other);
    const signed = await signIn(idp, other, s.uid, who.username, GOOD_PASSWORD, { remember: true });
    expect(signed.status).toBe(303);
    const { redirect } = await followToClient(idp, other, signed.headers.location);
    expect(redirect?.searchParams.get('code')).toBeTruthy();
    await idp.services.db.insertInto('oidc_payloads').values({ model: 'RefreshToken', id: `rt-${who.id}`, payload: JSON.stringify({ accountId: who.id, kind: 'RefreshToken' }), grant_id: null, user_code: null, uid: null, expires_at: null, consumed_at: null }).execute();
    await idp.services.db.insertInto('oidc_payloads').values({ model: 'RefreshToken', id: `rt-someone-else-${who.id}`, payload: JSON.stringify({ accountId: 'someone-else', kind: 'RefreshToken' }), grant_id: null, user_code: null, uid: null, expires_at: null, consumed_at: null }).execute();
    const sessionsOf = async () => (await idp.services.db.selectFrom('oidc_payloads').select('payload').where('model', '=', 'Session').execute()).filter((r) => (r.payload as { accountId?: string }).accountId === who.id);
    expect(await sessionsOf()).toHaveLength(1);
    // And a lock: the reset unlocks (guide: Forgot Password unlocks the account).
    await idp.services.db.updateTable('accounts').set({ failed_login_count: 5, locked_until: new Date(idp.clock.now().getTime() + 1800_000) }).where('id', '=', who.id).execute();

    const step1 = await agent.get(`/forgot-password?interaction=${uid}`);
    for (const label of ['Forgot Password', 'Step 1 of 4', 'Username', 'Find Account', 'Return to Log In']) expect(step1.text).toContain(label);
    const found = await agent.post('/forgot-password').type('form').send({ _csrf: csrf(step1.text), username: who.username.toUpperCase(), interaction: uid });
    expect(found.status).toBe(303);
    expect(found.headers.location).toBe('/forgot-password/verify');

    const step2 = await agent.get('/forgot-password/verify');
    for (const label of ['Step 2 of 4', 'Get Verification Code', 'Send an email', 'Send me a text message', 'Send Code']) expect(step2.text).toContain(label);
    expect(step2.text).toContain(maskEmail(who.email));
    expect(step2.text).toContain(maskPhone(who.mobile!));
    expect(step2.text).toMatch(/xxxxxx\d{4}/);
    expect(step2.text).not.toContain(who.email);
    expect(step2.text).not.toContain(who.mobile!.slice(1, 8));

    const sent = await agent.post('/forgot-password/verify').type('form').send({ _csrf: csrf(step2.text), channel: 'email' });
    expect(sent.status).toBe(303);
    expect(sent.headers.location).toBe('/forgot-password/code');
    const step3 = await agent.get('/forgot-password/code');
    for (const label of ['Step 3 of 4', 'Enter Verification Code', 'Continue', 'Resend Code by email']) expect(step3.text).toContain(label);
    expect(step3.text).toContain(`We sent a verification code to ${maskEmail(who.email)}`);
    const code = await mailCode(who.email, 1);
    const mail = idp.smtp.to(who.email).find((m) => /password reset code/.test(m.subject))!;
    expect(mail.text).not.toContain(who.username);
    expect(mail.html).toContain(code);
    expect(code).toHaveLength(8);

    const ok = await agent.post('/forgot-password/code').type('form').send({ _csrf: csrf(step3.text), code: `${code.slice(0, 4).toLowerCase()}-${code.slice(4)}` });
    expect(ok.status).toBe(303);
    const step4 = await agent.get('/forgot-password/new-password');
    for (const label of ['Step 4 of 4', 'Create New Password', 'Password Must Have', 'Password Cannot Have', 'Update Password', '8-40 characters', '/js/password-checklist.js']) expect(step4.text).toContain(label);

    const weak = await agent.post('/forgot-password/new-password').type('form').send({ _csrf: csrf(step4.text), password: 'jan123aaa' });
    expect(weak.status).toBe(422);
    expect(weak.text).toContain('Password must have an uppercase letter');
    const withName = await agent.post('/forgot-password/new-password').type('form').send({ _csrf: csrf(step4.text), password: `Qz7!${who.username}{` });
    expect(withName.text).toContain('Password cannot contain your username');
    const same = await agent.post('/forgot-password/new-password').type('form').send({ _csrf: csrf(step4.text), password: GOOD_PASSWORD });
    expect(same.status).toBe(422);
    expect(same.text).toContain('cannot be any of your last 10 passwords');

    const NEW = 'Wx4{bT8!cZ';
    const done = await agent.post('/forgot-password/new-password').type('form').send({ _csrf: csrf(step4.text), password: NEW });
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe(`/interaction/${uid}?notice=password_changed`);
    const back = await agent.get(done.headers.location);
    expect(back.text).toContain('Your password was changed');
    expect(back.text).toContain('Log In');
    const changed = await idp.smtp.waitFor(who.email, /password was changed/);
    expect(changed.text).toContain(who.username);
    expect(changed.text).toContain(idp.config.HELP_DESK_PHONE);

    // Not signed in by the reset; old password refused; the new one accepted (then Verify your Account).
    expect((await submitLogin(agent, uid, who.username, GOOD_PASSWORD)).status).toBe(401);
    const login2 = await submitLogin(agent, uid, who.username, NEW);
    expect(login2.status).toBe(200);
    expect(login2.text).toContain('Verify your Account');

    const db = idp.services.db;
    const acc = await db.selectFrom('accounts').selectAll().where('id', '=', who.id).executeTakeFirstOrThrow();
    expect(acc.locked_until).toBeNull();
    expect(acc.password_changed_at.getTime()).toBe(idp.clock.now().getTime());
    expect(await db.selectFrom('password_history').select('id').where('account_id', '=', who.id).execute()).toHaveLength(2);
    const left = await db.selectFrom('oidc_payloads').select(['model', 'id']).where('model', 'in', ['Session', 'RefreshToken']).execute();
    expect(left.map((r) => r.id)).toContain(`rt-someone-else-${who.id}`);
    expect(left.map((r) => r.id)).not.toContain(`rt-${who.id}`);
    expect(await sessionsOf()).toHaveLength(0);
    const devices = await db.selectFrom('trusted_devices').select('revoked_at').where('account_id', '=', who.id).execute();
    expect(devices.length).toBeGreaterThan(0);
    expect(devices.every((d) => d.revoked_at !== null)).toBe(true);
    const types = await auditTypes(who.id);
    for (const t of ['recovery.password_reset_started', 'recovery.code_sent', 'recovery.code_verified', 'recovery.password_changed', 'recovery.sessions_revoked', 'recovery.account_unlocked']) expect(types).toContain(t);
    // The flow is over.
    expect((await agent.get('/forgot-password/new-password')).status).toBe(409);
  });

  it('by text message: the code goes to the mobile number through the signed webhook; without an interaction it ends at the portal', async () => {
    const who = await producerWithAccount();
    const agent = request.agent(idp.server);
    sms.reset();
    await findAccount(agent, who.username);
    const sent = await choose(agent, 'sms');
    expect(sent.status).toBe(303);
    expect(sms.requests).toHaveLength(1);
    const req = sms.requests[0];
    expect(req.headers['x-signature-sha256']).toBe(webhookSignature(SMS_SECRET, req.rawBody));
    const msg = lastSms();
    expect(msg.to).toBe(who.mobile);
    expect(msg.purpose).toBe('password_reset');
    const page = await agent.get('/forgot-password/code');
    expect(page.text).toContain(`in a text message to ${maskPhone(who.mobile!)}`);
    expect(page.text).toContain('Resend Code by text message');
    expect((await enterCode(agent, codeIn(msg.body))).status).toBe(303);
    const done = await newPassword(agent, 'Wx4{bT8!cZ');
    expect(done.status).toBe(303);
    // Outside a sign-in the flow ends on its own page, with a link to the portal (issue 9, item 10).
    expect(done.headers.location).toBe('/forgot-password/done');
    const end = await agent.get('/forgot-password/done');
    expect(end.text).toContain('Your password was changed');
    expect(end.text).toContain(`href="${idp.config.PORTAL_URL}"`);
  });

  it('text only when a mobile number is on the producer record; a failed text says "try email" and email works at once', async () => {
    const noMobile = await producerWithAccount({ mobile: false });
    const a1 = request.agent(idp.server);
    await findAccount(a1, noMobile.username);
    const page = await a1.get('/forgot-password/verify');
    expect(page.text).toContain('Send an email');
    expect(page.text).not.toContain('Send me a text message');
    const refused = await a1.post('/forgot-password/verify').type('form').send({ _csrf: csrf(page.text), channel: 'sms' });
    expect(refused.status).toBe(422);

    const who = await producerWithAccount();
    const agent = request.agent(idp.server);
    await findAccount(agent, who.username);
    sms.answer = () => ({ status: 500, body: '{}' });
    const failed = await choose(agent, 'sms');
    sms.reset();
    expect(failed.status).toBe(502);
    expect(failed.text).toContain('We could not send the text message; try email.');
    expect(failed.text).toContain('Send Code');
    const types = await auditTypes(who.id);
    expect(types).toContain('recovery.code_send_failed');
    const email = await choose(agent, 'email');
    expect(email.status).toBe(303);
    expect(email.headers.location).toBe('/forgot-password/code');
    await idp.smtp.waitFor(who.email, /password reset code/);
  });

  it('a wrong code shows the tries left; the fifth wrong code starts over; the right code then no longer works', async () => {
    const who = await producerWithAccount();
    const agent = request.agent(idp.server);
    await findAccount(agent, who.username);
    await choose(agent, 'email');
    const code = await mailCode(who.email, 1);
    const wrong = code === 'ABCDEFGH' ? 'ABCDEFGJ' : 'ABCDEFGH';
    for (const left of [4, 3, 2, 1]) {
      const r = await enterCode(agent, wrong);
      expect(r.status).toBe(422);
      expect(r.text).toContain(`That code is not correct. Tries left: ${left}.`);
      expect(r.text).toContain('Resend Code by email');
    }
    const fifth = await enterCode(agent, wrong);
    expect(fifth.status).toBe(429);
    expect(fifth.text).toContain('Too many wrong codes');
    expect(fifth.text).toContain('Find Account');
    const after = await agent.get('/forgot-password/code');
    expect(after.status).toBe(409);
    // A new flow: the exhausted code is void even if entered right.
    await findAccount(agent, who.username);
    idp.clock.advance(31);
    await choose(agent, 'email');
    const fresh = await mailCode(who.email, 2);
    const old = await enterCode(agent, code);
    if (code !== fresh) expect(old.status).toBe(422);
    expect((await enterCode(agent, fresh)).status).toBe(303);
  });

  it('malformed code entries do not count as tries', async () => {
    const who = await producerWithAccount();
    const agent = request.agent(idp.server);
    await findAccount(agent, who.username);
    await choose(agent, 'email');
    const code = await mailCode(who.email, 1);
    for (const bad of ['123', 'x'.repeat(10_000), 'ABCD\u0000EFG', '']) {
      const r = await enterCode(agent, bad);
      expect(r.status).toBe(422);
      expect(r.text).toMatch(/Enter the 8-character code|This field is required/);
    }
    const arr = await agent.get('/forgot-password/code');
    const r = await agent.post('/forgot-password/code').type('form').send({ _csrf: csrf(arr.text), 'code[]': ['A', 'B'] });
    expect(r.status).toBe(422);
    expect((await enterCode(agent, code)).status).toBe(303);
  });

  it('resend through the same channel: not within 30 seconds, a new code voids the old one, at most 5 per hour', async () => {
    const who = await producerWithAccount();
    const agent = request.agent(idp.server);
    await findAccount(agent, who.username);
    await choose(agent, 'email');
    const first = await mailCode(who.email, 1);
    const soon = await resend(agent);
    expect(soon.status).toBe(429);
    expect(soon.text).toMatch(/Please wait \d+ seconds/);
    let last = first;
    for (let i = 2; i <= 5; i++) {
      idp.clock.advance(31);
      const again = await resend(agent);
      expect(again.status).toBe(200);
      expect(again.text).toContain('Codes sent earlier no longer work');
      last = await mailCode(who.email, i);
    }
    idp.clock.advance(31);
    const sixth = await resend(agent);
    expect(sixth.status).toBe(429);
    expect(sixth.text).toContain('Too many messages were sent');
    if (first !== last) {
      const stale = await enterCode(agent, first);
      expect(stale.status).toBe(422);
      expect(stale.text).toContain('That code is not correct. Tries left: 4.');
    }
    expect((await enterCode(agent, last)).status).toBe(303);
    idp.clock.advance(3600);
  });

  it('the code expires after 10 minutes; the flow after 15 minutes starts over with a message', async () => {
    const who = await producerWithAccount();
    const agent = request.agent(idp.server);
    await findAccount(agent, who.username);
    await choose(agent, 'email');
    const code = await mailCode(who.email, 1);
    idp.clock.advance(601);
    const late = await enterCode(agent, code);
    expect(late.status).toBe(422);
    expect(late.text).toContain('This code expired');
    idp.clock.advance(300);
    const expired = await agent.get('/forgot-password/code');
    expect(expired.status).toBe(410);
    expect(expired.text).toContain('This page expired');
    expect(expired.text).toContain('Find Account');
  });

  it('each step needs the earlier ones in this flow: without a flow, step 1 with a message; out of order, 303 to the step the flow is at, changing nothing', async () => {
    const fresh = request.agent(idp.server);
    for (const path of ['/forgot-password/verify', '/forgot-password/code', '/forgot-password/new-password']) {
      const r = await fresh.get(path);
      expect(r.status).toBe(409);
      expect(r.text).toContain('Please start again from the first step');
      expect(r.text).toContain('Find Account');
    }
    const who = await producerWithAccount();
    const agent = request.agent(idp.server);
    await findAccount(agent, who.username);
    const page = await agent.get('/forgot-password/verify');
    // Skipping ahead (a later URL, a form of step 4): back to step 2, nothing changed.
    expect((await agent.get('/forgot-password/code')).headers.location).toBe('/forgot-password/verify');
    const skip = await agent.post('/forgot-password/new-password').type('form').send({ _csrf: csrf(page.text), password: 'Wx4{bT8!cZ' });
    expect(skip.status).toBe(303);
    expect(skip.headers.location).toBe('/forgot-password/verify');
    expect((await agent.get('/forgot-password/verify')).status).toBe(200); // the flow goes on
    await choose(agent, 'email');
    const code = await mailCode(who.email, 1);
    // Going back to step 2 after the code was sent (the back button, a replayed form): back to
    // step 3; no other code is sent and the channel stays.
    const texts = sms.requests.length;
    const codePage = await agent.get('/forgot-password/code');
    const back = await agent.get('/forgot-password/verify');
    expect(back.status).toBe(303);
    expect(back.headers.location).toBe('/forgot-password/code');
    const switched = await agent.post('/forgot-password/verify').type('form').send({ _csrf: csrf(codePage.text), channel: 'sms' });
    expect(switched.status).toBe(303);
    expect(switched.headers.location).toBe('/forgot-password/code');
    expect(sms.requests.length).toBe(texts);
    expect(idp.smtp.to(who.email).filter((m) => /password reset code/.test(m.subject))).toHaveLength(1);
    const acc = await idp.services.db.selectFrom('accounts').select('password_changed_at').where('id', '=', who.id).executeTakeFirstOrThrow();
    expect((await idp.services.db.selectFrom('password_history').select('id').where('account_id', '=', who.id).execute()).length).toBe(1);
    expect(acc.password_changed_at).toBeTruthy();
    // The code sent by email still works in this flow.
    const ok = await enterCode(agent, code);
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe('/forgot-password/new-password');
  });

  it('password history: the 10th previous password is refused, the 11th is allowed; 10 are kept', async () => {
    const P = (i: number) => `Hq${i}!wZ${i}{m`; // P0 is the registration password
    const who = await producerWithAccount({ password: P(0) });
    const db = idp.services.db;
    const t0 = idp.clock.now().getTime();
    for (let i = 1; i <= 10; i++) {
      const phc = await idp.services.hasher.hash(P(i));
      await db.insertInto('password_history').values({ account_id: who.id, password_hash: phc, created_at: new Date(t0 + i * 1000) }).execute();
      if (i === 10) await db.updateTable('accounts').set({ password_hash: phc }).where('id', '=', who.id).execute();
    }
    idp.clock.advance(11);
    const agent = request.agent(idp.server);
    await atStep4(agent, who);
    for (const i of [10, 5, 1]) {
      const r = await newPassword(agent, P(i));
      expect(r.status).toBe(422);
      expect(r.text).toContain('cannot be any of your last 10 passwords');
    }
    const eleventh = await newPassword(agent, P(0));
    expect(eleventh.status).toBe(303);
    const kept = await db.selectFrom('password_history').select('password_hash').where('account_id', '=', who.id).orderBy('created_at', 'desc').execute();
    expect(kept).toHaveLength(10);
    expect(await idp.services.hasher.verify(kept[0].password_hash, P(0))).toBe(true);
    // P1 dropped out of the history: usable again at the next reset, P2 not.
    idp.clock.advance(3600);
    await atStep4(agent, who);
    expect((await newPassword(agent, P(2))).status).toBe(422);
    expect((await newPassword(agent, P(1))).status).toBe(303);
  });

  it('20 parallel wrong codes count at most 5 tries', async () => {
    const who = await producerWithAccount();
    const agent = request.agent(idp.server);
    await findAccount(agent, who.username);
    await choose(agent, 'email');
    const code = await mailCode(who.email, 1);
    const page = await agent.get('/forgot-password/code');
    const wrong = code === 'ABCDEFGH' ? 'ABCDEFGJ' : 'ABCDEFGH';
    const results = await Promise.all(Array.from({ length: 20 }, () => agent.post('/forgot-password/code').type('form').send({ _csrf: csrf(page.text), code: wrong })));
    for (const r of results) expect(r.status).toBeLessThan(500);
    const wrongs = results.filter((r) => r.text.includes('That code is not correct'));
    expect(wrongs.length).toBeLessThanOrEqual(4);
    const row = await idp.services.db.selectFrom('one_time_codes').select(['attempts']).where('account_id', '=', who.id).where('purpose', '=', 'password_reset').executeTakeFirstOrThrow();
    expect(row.attempts).toBeLessThanOrEqual(5);
    // The right code is refused now, in this flow or a new one without a new code.
    const after = await agent.get('/forgot-password/code');
    if (after.status === 200) expect((await enterCode(agent, code)).status).not.toBe(303);
  });

  it('a second "Update Password" (stale flow, or a reset finished elsewhere) changes nothing', async () => {
    const who = await producerWithAccount();
    const a = request.agent(idp.server);
    const b = request.agent(idp.server);
    await atStep4(a, who);
    idp.clock.advance(31);
    await atStep4(b, who);
    expect((await newPassword(a, 'Wx4{bT8!cZ')).status).toBe(303);
    const stale = await newPassword(b, 'Vy5}dK2!nP');
    expect(stale.status).toBe(409);
    expect(stale.text).toContain('Find Account');
    const acc = await idp.services.db.selectFrom('accounts').select('password_hash').where('id', '=', who.id).executeTakeFirstOrThrow();
    expect(await idp.services.hasher.verify(acc.password_hash, 'Wx4{bT8!cZ')).toBe(true);
    idp.clock.advance(3600);
  });
});

describe('Forgot Password does not reveal whether a username exists', () => {
  /** An unknown username whose placeholder offers a text message (as the real account below does). */
  async function unknownUsernameWithPhone(): Promise<string> {
    for (let i = 0; ; i++) {
      const name = `NoSuchUser${i}`;
      if ((await placeholderFromRecords(idp.services, name)).sms) return name;
    }
  }

  it('same statuses, pages, cookies and answers for an existing and an unknown username; nothing is sent for the unknown one', async () => {
    const who = await producerWithAccount();
    const unknown = await unknownUsernameWithPhone();
    const run = async (username: string) => {
      const agent = request.agent(idp.server);
      const out: { status: number; location?: string; body: string; cookies: string[] }[] = [];
      const push = (r: request.Response) => out.push({ status: r.status, location: r.headers.location, body: normalize(r.text), cookies: cookieShapes(r) });
      const { page, res } = await findAccount(agent, username);
      push(page);
      push(res);
      const step2 = await agent.get('/forgot-password/verify');
      push(step2);
      push(await agent.post('/forgot-password/verify').type('form').send({ _csrf: csrf(step2.text), channel: 'sms' }));
      const step3 = await agent.get('/forgot-password/code');
      push(step3);
      for (let i = 0; i < 5; i++) push(await agent.post('/forgot-password/code').type('form').send({ _csrf: csrf(step3.text), code: 'ABCDEFGH' }));
      return { out, step2: step2.text };
    };
    sms.reset();
    const real = await run(who.username);
    expect(sms.requests).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 200));
    const mailsBefore = idp.smtp.messages.length;
    const fake = await run(unknown);
    expect(sms.requests).toHaveLength(1); // nothing sent for the unknown username
    await new Promise((r) => setTimeout(r, 200));
    expect(idp.smtp.messages.length).toBe(mailsBefore);
    expect(fake.out.length).toBe(real.out.length);
    for (let i = 0; i < real.out.length; i++) expect({ i, ...fake.out[i] }).toEqual({ i, ...real.out[i] });
    expect(real.out.at(-1)!.body).toContain('Too many wrong codes');
    // The placeholder masks look like real ones and are stable for the username.
    const masks = (html: string) => [...html.matchAll(/<strong class="destination">([^<]*)<\/strong>/g)].map((m) => m[1]);
    const fakeMasks = masks(fake.step2);
    expect(fakeMasks[0]).toMatch(/^x+[^@]{1,4}@[a-z0-9.-]+$/);
    expect(fakeMasks[1]).toMatch(/^x{6}\d{4}$/);
    const again = request.agent(idp.server);
    await findAccount(again, unknown.toLowerCase());
    expect(masks((await again.get('/forgot-password/verify')).text)).toEqual(fakeMasks);
  });

  it('a disabled account is treated like an unknown username', async () => {
    const who = await producerWithAccount();
    await idp.services.db.updateTable('accounts').set({ status: 'disabled' }).where('id', '=', who.id).execute();
    const agent = request.agent(idp.server);
    await findAccount(agent, who.username);
    const page = await agent.get('/forgot-password/verify');
    expect(page.text).not.toContain(maskEmail(who.email));
    const sent = await choose(agent, 'email');
    expect(sent.status).toBe(303);
    await new Promise((r) => setTimeout(r, 200));
    expect(idp.smtp.to(who.email)).toHaveLength(0);
  });
});

describe('Forgot Password: bad input never gives a 500 and writes nothing', () => {
  const long = 'x'.repeat(10_000);
  it('step 1: missing, 10 kB, control characters, arrays; CSRF missing or foreign', async () => {
    const agent = request.agent(idp.server);
    const page = await agent.get('/forgot-password');
    const flowsBefore = await idp.services.db.selectFrom('flows').select('id_hash').execute();
    for (const body of [{}, { username: long }, { username: 'abc\u0000def' }, { 'username[]': ['a', 'b'] }, { username: ['a', 'b'] }, { username: '   ' }]) {
      const r = await agent.post('/forgot-password').type('form').send({ _csrf: csrf(page.text), ...body });
      expect(r.status).toBe(422);
      expect(r.text).toMatch(/Enter a username|too long|not allowed/);
      expect(r.text).toContain('Find Account');
    }
    const missing = await agent.post('/forgot-password').type('form').send({ username: 'someone' });
    expect(missing.status).toBe(403);
    expect(missing.text).toContain('Please try again');
    const other = request.agent(idp.server);
    const foreign = csrf((await other.get('/forgot-password')).text);
    expect((await agent.post('/forgot-password').type('form').send({ _csrf: foreign, username: 'someone' })).status).toBe(403);
    const flowsAfter = await idp.services.db.selectFrom('flows').select('id_hash').execute();
    expect(flowsAfter.length).toBe(flowsBefore.length);
  });

  it('steps 2-4: unknown channel, arrays, 10 kB password, CSRF', async () => {
    const who = await producerWithAccount();
    const agent = request.agent(idp.server);
    await findAccount(agent, who.username);
    const page = await agent.get('/forgot-password/verify');
    for (const body of [{}, { channel: 'fax' }, { 'channel[]': ['email', 'sms'] }, { channel: long }]) {
      const r = await agent.post('/forgot-password/verify').type('form').send({ _csrf: csrf(page.text), ...body });
      expect(r.status).toBe(422);
      expect(r.text).toContain('Choose how to receive your verification code');
    }
    expect((await agent.post('/forgot-password/verify').type('form').send({ channel: 'email' })).status).toBe(403);
    expect(await idp.services.db.selectFrom('one_time_codes').select('id').where('account_id', '=', who.id).execute()).toHaveLength(0);
    expect((await choose(agent, 'email')).status).toBe(303);
    const code = await mailCode(who.email, 1);
    expect((await enterCode(agent, code)).status).toBe(303);
    const p4 = await agent.get('/forgot-password/new-password');
    for (const body of [{}, { password: long }, { 'password[]': ['Wx4{bT8!cZ', 'x'] }, { password: 'Wx4{b\u0000T8!cZ' }]) {
      const r = await agent.post('/forgot-password/new-password').type('form').send({ _csrf: csrf(p4.text), ...body });
      expect(r.status).toBe(422);
      expect(r.text).toContain('Update Password');
    }
    expect((await agent.post('/forgot-password/new-password').type('form').send({ password: 'Wx4{bT8!cZ' })).status).toBe(403);
    expect(await idp.services.db.selectFrom('password_history').select('id').where('account_id', '=', who.id).execute()).toHaveLength(1);
  });

  it('rate limit per client address: 429 with the time to wait', async () => {
    const t = await startIdp({ RATE_LIMIT_RECOVERY_POINTS: 2 });
    try {
      const agent = request.agent(t.server);
      const page = await agent.get('/forgot-password');
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await agent.post('/forgot-password').type('form').send({ _csrf: csrf(page.text), username: `Someone${i}` })).status);
      expect(statuses).toEqual([303, 303, 429]);
      const limited = await agent.post('/forgot-password').type('form').send({ _csrf: csrf(page.text), username: 'Someone' });
      expect(limited.text).toMatch(/Too many attempts from your network. Please try again in \d+ minute/);
    } finally {
      await t.stop();
    }
  });
});
