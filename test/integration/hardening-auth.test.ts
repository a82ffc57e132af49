/**
 * Issue 9 "Hardening", authentication kinds (items 1, 2 and 4), as journeys through the pages
 * against real PostgreSQL and a real SMTP receiver, with the ManualClock for waits.
 */
import { randomBytes, randomInt } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertProducers } from '../../src/db/repositories/producers.ts';
import type { Sample } from '../../src/keystroke/index.ts';
import { saveTypings } from '../../src/mfa/keystroke.ts';
import { beginSignIn, codeIn, createAccount, csrf, postLoginStep, GOOD_PASSWORD, submitLogin } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';
import { makeTypist, rng, sampleOf, type Typist } from '../helpers/typist.ts';

type Agent = ReturnType<typeof request.agent>;

let idp: TestIdp;
const r = rng(909);

beforeAll(async () => {
  idp = await startIdp({ MFA_FACTORS: 'email,sms,keystroke', RATE_LIMIT_LOGIN_POINTS: 100_000 });
});
afterAll(async () => {
  await idp?.stop();
});

/** A new producer record (unique email) with an active, confirmed account. */
async function producerWithAccount() {
  const tag = randomBytes(4).toString('hex');
  const producerNumber = String(randomInt(200_000_000, 999_999_999));
  const email = `hard.${tag}@agency-${tag}.example.com`;
  await upsertProducers(idp.services.db, [{
    producerNumber, npn: String(randomInt(10_000_000, 99_999_999)), firstName: 'Pat', lastName: `Hard${tag}`, agencyName: null,
    email, mobilePhone: null, businessZip: '60601', bapZip: null, parentProducerNumber: null, status: 'active',
  }]);
  const username = `Hard${tag}`;
  const id = await createAccount(idp, { producerNumber, username });
  return { id, email, username };
}

const act = (agent: Agent, uid: string, form: Record<string, string>) => postLoginStep(agent, uid, form, 'hardening-test');

const fields = (samples: Sample[]) => Object.fromEntries(samples.map((s, i) => [`sample${i + 1}`, JSON.stringify(s)]));
const typings = (t: Typist): Sample[] => [sampleOf(t, r, 0.08), sampleOf(t, r, 0.08), sampleOf(t, r, 0.08)];

/** The text of the page's error alert (or null) and the status: what a person sees. */
function answer(res: request.Response): { status: number; message: string | null } {
  const m = /id="form-error">([^<]*)</.exec(res.text);
  return { status: res.status, message: m ? m[1].trim() : null };
}

function lockMails(email: string) {
  return idp.smtp.to(email).filter((m) => /was locked/.test(m.subject));
}

async function waitForMails(email: string, subject: RegExp, count: number) {
  const deadline = Date.now() + 5000;
  while (idp.smtp.to(email).filter((m) => subject.test(m.subject)).length < count) {
    if (Date.now() > deadline) throw new Error(`expected ${count} mails ${subject} to ${email}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** Correct password; skips the typing page when it is shown; returns the interaction at "Verify your Account". */
async function passwordStep(agent: Agent, username: string) {
  const { uid } = await beginSignIn(idp, agent, { prompt: 'login' });
  let res = await submitLogin(agent, uid, username, GOOD_PASSWORD);
  if (res.text.includes('Typing Pattern')) res = await act(agent, uid, { action: 'skip_typing' });
  return { uid, res };
}

describe('kind: a correct password clears second-factor failures (issue 9, item 1)', () => {
  it('wrong email codes count across sign-ins: 4 in one sign-in and 1 in the next lock the account, and the owner is mailed', async () => {
    const who = await producerWithAccount();
    const agent = request.agent(idp.server);
    const first = await passwordStep(agent, who.username);
    expect(first.res.text).toContain('Verify your Account');
    expect((await act(agent, first.uid, { action: 'choose', factor: 'email' })).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await act(agent, first.uid, { action: 'verify', code: 'ABCDEFGH' })).status).toBe(401);

    // A new sign-in: the correct password is accepted, but it does not clear the 4 failures.
    idp.clock.advance(31);
    const second = await passwordStep(agent, who.username);
    expect(second.res.status).toBe(200);
    expect(second.res.text).toContain('Verify your Account');
    expect((await act(agent, second.uid, { action: 'choose', factor: 'email' })).status).toBe(200);
    const fifth = await act(agent, second.uid, { action: 'verify', code: 'ABCDEFGH' });
    expect(fifth.status).toBe(403);
    expect(fifth.text).toContain('This account is locked');
    await waitForMails(who.email, /was locked/, 1);
    expect(lockMails(who.email)).toHaveLength(1);

    // Locked: even the correct password is refused, with the lock message.
    const third = await beginSignIn(idp, agent, { prompt: 'login' });
    const refused = await submitLogin(agent, third.uid, who.username, GOOD_PASSWORD);
    expect(answer(refused)).toEqual({ status: 401, message: expect.stringContaining('This account is locked') });
  });

  it('refused keyboard patterns count across sign-ins and lock like wrong passwords', async () => {
    const who = await producerWithAccount();
    const owner = makeTypist(r, idp.config.KEYSTROKE_SENTENCE.length);
    const impostor = makeTypist(r, idp.config.KEYSTROKE_SENTENCE.length);
    await saveTypings(idp.services, who.id, typings(owner));
    const agent = request.agent(idp.server);
    const first = await passwordStep(agent, who.username);
    for (let i = 0; i < 4; i++) {
      expect((await act(agent, first.uid, { action: 'choose', factor: 'keystroke' })).status).toBe(200);
      expect((await act(agent, first.uid, { action: 'verify', ...fields(typings(impostor)) })).status).toBe(401);
    }
    const second = await passwordStep(agent, who.username);
    expect(second.res.text).toContain('Verify your Account');
    await act(agent, second.uid, { action: 'choose', factor: 'keystroke' });
    const fifth = await act(agent, second.uid, { action: 'verify', ...fields(typings(impostor)) });
    expect(fifth.status).toBe(403);
    expect(fifth.text).toContain('This account is locked');
    await waitForMails(who.email, /was locked/, 1);
    const third = await beginSignIn(idp, agent, { prompt: 'login' });
    expect(answer(await submitLogin(agent, third.uid, who.username, GOOD_PASSWORD)).message).toContain('This account is locked');
  });

  it('a completed sign-in starts the count over', async () => {
    const who = await producerWithAccount();
    const agent = request.agent(idp.server);
    const first = await passwordStep(agent, who.username);
    await act(agent, first.uid, { action: 'choose', factor: 'email' });
    for (let i = 0; i < 4; i++) await act(agent, first.uid, { action: 'verify', code: 'ABCDEFGH' });
    idp.clock.advance(31);
    const second = await passwordStep(agent, who.username);
    await act(agent, second.uid, { action: 'choose', factor: 'email' });
    await waitForMails(who.email, /verification code/, 2);
    const code = codeIn(idp.smtp.to(who.email).filter((m) => /verification code/.test(m.subject)).at(-1)!.text);
    expect((await act(agent, second.uid, { action: 'verify', code })).status).toBe(303);
    const row = await idp.services.db.selectFrom('accounts').select(['failed_login_count', 'locked_until']).where('id', '=', who.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ failed_login_count: 0, locked_until: null });
  });
});

describe('kind: a factor usable from anywhere is set up on weaker proof than it grants (issue 9, item 2)', () => {
  it('on a browser remembered for Verify your Account, typings enroll only after a fresh email code, and the owner is mailed', async () => {
    const who = await producerWithAccount();
    const person = makeTypist(r, idp.config.KEYSTROKE_SENTENCE.length);
    const agent = request.agent(idp.server);
    // First sign-in: skip the typing page, pass the email code and remember this browser.
    const first = await passwordStep(agent, who.username);
    await act(agent, first.uid, { action: 'choose', factor: 'email' });
    await waitForMails(who.email, /verification code/, 1);
    const code1 = codeIn(idp.smtp.to(who.email).at(-1)!.text);
    expect((await act(agent, first.uid, { action: 'verify', code: code1, remember: 'yes' })).status).toBe(303);

    // Second sign-in on the remembered browser: password, then typings on the typing page.
    idp.clock.advance(31);
    const { uid } = await beginSignIn(idp, agent, { prompt: 'login' });
    const pwd = await submitLogin(agent, uid, who.username, GOOD_PASSWORD);
    expect(pwd.text).toContain('Typing Pattern');
    const typed = await act(agent, uid, { action: 'typing', ...fields(typings(person)) });
    // Not signed in on the remembered device: a fresh code is asked for, and nothing is enrolled yet.
    expect(typed.status).toBe(200);
    expect(typed.text).toContain('Verify your Account');
    expect(typed.text).toContain('Verify Account by Email');
    const none = await idp.services.db.selectFrom('keystroke_profiles').select('account_id').where('account_id', '=', who.id).execute();
    expect(none).toHaveLength(0);

    await act(agent, uid, { action: 'choose', factor: 'email' });
    await waitForMails(who.email, /verification code/, 2);
    const code2 = codeIn(idp.smtp.to(who.email).filter((m) => /verification code/.test(m.subject)).at(-1)!.text);
    expect((await act(agent, uid, { action: 'verify', code: code2 })).status).toBe(303);
    const enrolled = await idp.services.db.selectFrom('keystroke_profiles').select('account_id').where('account_id', '=', who.id).execute();
    expect(enrolled).toHaveLength(1);
    const mail = await idp.smtp.waitFor(who.email, /typing pattern was set up/);
    expect(mail.text).toContain('A typing pattern was set up for your');
    expect(mail.text).toContain(who.username);
  });
});

/** One step of a sequence: an attempt with a wrong password, or a wait (seconds on the ManualClock). */
type SeqStep = 'fail' | number;

describe('kind: the fake lock of an unknown username follows other time rules than a real lock (issue 9, item 4)', () => {
  const L = 1800; // LOCKOUT_SECONDS (default)
  const fails = (n: number): SeqStep[] => Array.from({ length: n }, () => 'fail' as const);
  const sequences: [string, SeqStep[]][] = [
    ['5 in a row', fails(6)],
    ['4, a wait longer than the lock, 1 more', [...fails(4), L + 60, ...fails(2)]],
    ['1, a long wait, 4 more', ['fail', L - 60, ...fails(4), 'fail']],
    ['a lock, attempts during it, then after it', [...fails(5), L - 120, 'fail', 60, 'fail', 61, 'fail', 'fail']],
    ['a lock, its end, 5 more', [...fails(5), L + 1, ...fails(5), 'fail']],
    ['spread over days', ['fail', 86_400, 'fail', 86_400, 'fail', 86_400, 'fail', 86_400, 'fail', 'fail']],
  ];

  it.each(sequences)('%s: an unknown username answers exactly as a real one', async (_name, seq) => {
    const who = await producerWithAccount();
    const unknown = `NoSuch${randomBytes(4).toString('hex')}`;
    const realAgent = request.agent(idp.server);
    const fakeAgent = request.agent(idp.server);
    const real = await beginSignIn(idp, realAgent, { prompt: 'login' });
    const fake = await beginSignIn(idp, fakeAgent, { prompt: 'login' });
    const seen: { real: ReturnType<typeof answer>; fake: ReturnType<typeof answer>; step: number }[] = [];
    for (const [i, step] of seq.entries()) {
      if (step !== 'fail') {
        idp.clock.advance(step);
        continue;
      }
      const a = answer(await submitLogin(realAgent, real.uid, who.username, 'Wr0ng!pass9'));
      const b = answer(await submitLogin(fakeAgent, fake.uid, unknown, 'Wr0ng!pass9'));
      seen.push({ step: i, real: a, fake: b });
    }
    for (const s of seen) expect({ step: s.step, ...s.fake }).toEqual({ step: s.step, ...s.real });
    // The sequence did reach the lock at least once (so the comparison covers it).
    expect(seen.some((s) => s.real.message?.includes('This account is locked'))).toBe(true);
  });
});
