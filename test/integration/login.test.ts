import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishTerms } from '../../src/db/repositories/terms.ts';
import { PasswordHasher } from '../../src/security/passwords.ts';
import { beginSignIn, createAccount, csrf, followToClient, GOOD_PASSWORD, signIn, submitLogin } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';

let idp: TestIdp;
beforeAll(async () => {
  idp = await startIdp();
});
afterAll(async () => {
  await idp?.stop();
});

/** The page body without per-request values (CSRF token, interaction uid). */
function stable(html: string): string {
  return html.replace(/name="_csrf" value="[^"]+"/g, '').replace(/\/interaction\/[A-Za-z0-9_-]+/g, '/interaction/UID').replace(/interaction=[A-Za-z0-9_-]+/g, 'interaction=UID');
}

/** The interaction uid in a page's form action (each prompt round has its own interaction). */
function uidOf(html: string): string {
  return /action="\/interaction\/([A-Za-z0-9_-]+)\//.exec(html)![1];
}

async function audits(type: string, accountId?: string) {
  let q = idp.services.db.selectFrom('audit_events').selectAll().where('type', '=', type);
  if (accountId) q = q.where('account_id', '=', accountId);
  return q.execute();
}

describe('sign-in (guide slides 6-7)', () => {
  it('shows the guide labels: Username, Password, Log In, Forgot links, Register Here', async () => {
    const { page } = await beginSignIn(idp, request.agent(idp.server));
    expect(page.status).toBe(200);
    for (const label of ['Username', 'Password', 'Log In', 'Forgot Username', 'Forgot Password', 'New User? Register Here']) expect(page.text).toContain(label);
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['x-frame-options']).toBe('DENY');
  });

  it('signs a verified producer in and returns a code to the relying party, with audit', async () => {
    const id = await createAccount(idp, { producerNumber: '000104203', username: 'MorganT2024' });
    const agent = request.agent(idp.server);
    const { uid, page, state } = await beginSignIn(idp, agent);
    void page;
    const res = await signIn(idp, agent, uid, 'morgant2024'); // any case
    expect(res.status).toBe(303);
    const { redirect } = await followToClient(idp, agent, res.headers.location);
    expect(redirect?.searchParams.get('code')).toBeTruthy();
    expect(redirect?.searchParams.get('state')).toBe(state);
    const events = await audits('login.success', id);
    expect(events).toHaveLength(1);
    expect(events[0].user_agent).toBeTruthy();
    expect(events[0].ip).toBeTruthy();
  });

  it('gives the same answer for an unknown username and a wrong password', async () => {
    await createAccount(idp, { producerNumber: '000104205', username: 'CaseyBren1' });
    const a1 = request.agent(idp.server);
    const s1 = await beginSignIn(idp, a1);
    const unknown = await submitLogin(a1, s1.uid, 'NoSuchUser99', 'Wr0ng!pass', s1.page.text);
    const a2 = request.agent(idp.server);
    const s2 = await beginSignIn(idp, a2);
    const wrong = await submitLogin(a2, s2.uid, 'CaseyBren1', 'Wr0ng!pass', s2.page.text);
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(unknown.status);
    expect(unknown.text).toContain('The username or password is incorrect.');
    expect(stable(wrong.text).replace('CaseyBren1', 'X')).toBe(stable(unknown.text).replace('NoSuchUser99', 'X'));
  });

  it('locks after 5 wrong passwords for 30 minutes, mails the owner, hides whether a guess was right, then unlocks by itself', async () => {
    const id = await createAccount(idp, { producerNumber: '000104202', username: 'JordanEll7' });
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent);
    for (let i = 1; i <= 4; i++) {
      const r = await submitLogin(agent, uid, i % 2 ? 'JORDANELL7' : 'jordanell7', `Wr0ng!pw${i}`);
      expect(r.status).toBe(401);
      expect(r.text).toContain('The username or password is incorrect.');
    }
    const fifth = await submitLogin(agent, uid, 'JordanEll7', 'Wr0ng!pw5');
    expect(fifth.text).toContain('5 failed attempts lock an account for 30 minutes');
    const mail = await idp.smtp.waitFor('jordan.ellery@example.com', /locked/);
    expect(mail.text).toContain('JordanEll7');
    // Right password while locked: the same answer as a wrong one.
    const right = await submitLogin(agent, uid, 'JordanEll7', GOOD_PASSWORD);
    const wrong = await submitLogin(agent, uid, 'JordanEll7', 'Wr0ng!pw6');
    expect(right.status).toBe(wrong.status);
    expect(stable(right.text)).toBe(stable(wrong.text));
    expect(right.text).toContain('Forgot Username or Forgot Password');
    expect(await audits('login.locked', id)).toHaveLength(1);
    idp.clock.advance(29 * 60);
    expect((await submitLogin(agent, uid, 'JordanEll7', GOOD_PASSWORD)).text).toContain('locked');
    idp.clock.advance(60 + 1);
    const after = await signIn(idp, agent, uid, 'JordanEll7');
    expect(after.status).toBe(303);
  });

  it('a success resets the counter', async () => {
    await createAccount(idp, { producerNumber: '000104201', username: 'AveryQuin1' });
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent);
    for (let i = 0; i < 4; i++) await submitLogin(agent, uid, 'AveryQuin1', 'Wr0ng!pwx');
    expect((await signIn(idp, agent, uid, 'AveryQuin1')).status).toBe(303);
    // 4 more wrong after the success: still not locked (the count started over).
    const agent2 = request.agent(idp.server);
    const s = await beginSignIn(idp, agent2);
    for (let i = 0; i < 4; i++) await submitLogin(agent2, s.uid, 'AveryQuin1', 'Wr0ng!pwx');
    expect((await signIn(idp, agent2, s.uid, 'AveryQuin1')).status).toBe(303);
  });

  it('parallel wrong passwords get at most 5 comparisons', async () => {
    const other = await startIdp();
    try {
      const id = await createAccount(other, { producerNumber: '000104201', username: 'ParallelUser1' });
      const agent = request.agent(other.server);
      const { uid, page } = await beginSignIn(other, agent);
      const token = csrf(page.text);
      await Promise.all(Array.from({ length: 20 }, (_, i) => agent.post(`/interaction/${uid}/login`).type('form').send({ _csrf: token, username: 'ParallelUser1', password: `Wr0ng!p${i}` })));
      const compared = (await other.services.db.selectFrom('audit_events').select('details').where('type', '=', 'login.failure').where('account_id', '=', id).execute())
        .filter((e) => (e.details as { reason?: string }).reason === 'wrong_password');
      expect(compared.length).toBeLessThanOrEqual(5);
      const acc = await other.services.db.selectFrom('accounts').select('locked_until').where('id', '=', id).executeTakeFirstOrThrow();
      expect(acc.locked_until).not.toBeNull();
    } finally {
      await other.stop();
    }
  });

  it('an unknown username also reads as locked after 5 tries, so the lock message reveals nothing', async () => {
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent);
    let last;
    for (let i = 0; i < 5; i++) last = await submitLogin(agent, uid, 'GhostUser42', `Wr0ng!pw${i}`);
    expect(last!.text).toContain('5 failed attempts lock an account for 30 minutes');
  });

  it('re-asks for Terms of Use acceptance when a newer version is active; Reject denies the request', async () => {
    const t = await startIdp();
    try {
      await createAccount(t, { producerNumber: '000104201', username: 'TermsUser01' });
      await publishTerms(t.services.db, '2.0', 'New terms text v2', t.clock.now());
      const agent = request.agent(t.server);
      const { uid } = await beginSignIn(t, agent);
      const res = await signIn(t, agent, uid, 'TermsUser01');
      const { page } = await followToClient(t, agent, res.headers.location);
      expect(page!.text).toContain('New terms text v2');
      expect(page!.text).toContain('Accept');
      expect(page!.text).toContain('Reject');
      const reject = await agent.post(`/interaction/${uidOf(page!.text)}/terms`).type('form').send({ _csrf: csrf(page!.text), decision: 'reject', version: '2.0' });
      const denied = await followToClient(t, agent, reject.headers.location);
      expect(denied.redirect?.searchParams.get('error')).toBe('access_denied');

      const agent2 = request.agent(t.server);
      const s2 = await beginSignIn(t, agent2);
      const r2 = await signIn(t, agent2, s2.uid, 'TermsUser01');
      const p2 = await followToClient(t, agent2, r2.headers.location);
      const accept = await agent2.post(`/interaction/${uidOf(p2.page!.text)}/terms`).type('form').send({ _csrf: csrf(p2.page!.text), decision: 'accept', version: '2.0' });
      const ok = await followToClient(t, agent2, accept.headers.location);
      expect(ok.redirect?.searchParams.get('code')).toBeTruthy();
      const acc = await t.services.db.selectFrom('accounts').select(['terms_version', 'terms_accepted_at']).where('username_normalized', '=', 'termsuser01').executeTakeFirstOrThrow();
      expect(acc.terms_version).toBe('2.0');
    } finally {
      await t.stop();
    }
  });

  it('rehashes a password made with other argon2 parameters at the next sign-in', async () => {
    const t = await startIdp();
    try {
      const id = await createAccount(t, { producerNumber: '000104205', username: 'RehashUser1' });
      const old = await new PasswordHasher({ memoryCost: 19456, timeCost: 3, parallelism: 1 }).hash(GOOD_PASSWORD);
      await t.services.db.updateTable('accounts').set({ password_hash: old }).where('id', '=', id).execute();
      const agent = request.agent(t.server);
      const { uid } = await beginSignIn(t, agent);
      expect((await signIn(t, agent, uid, 'RehashUser1')).status).toBe(303);
      const acc = await t.services.db.selectFrom('accounts').select('password_hash').where('id', '=', id).executeTakeFirstOrThrow();
      expect(acc.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    } finally {
      await t.stop();
    }
  });

  it('a username with a NUL or control character gets a clear 422, not a 500', async () => {
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent);
    const r = await submitLogin(agent, uid, 'abc\u0000def', 'Wr0ng!pass');
    expect(r.status).toBe(422);
    expect(r.text).toContain('not allowed');
  });

  it('a producer the carrier marked inactive can no longer sign in (told only after the correct password)', async () => {
    const t = await startIdp();
    try {
      await createAccount(t, { producerNumber: '000104203', username: 'InactiveLater' });
      await t.services.db.updateTable('producer_records').set({ status: 'inactive' }).where('producer_number', '=', '000104203').execute();
      const agent = request.agent(t.server);
      const { uid } = await beginSignIn(t, agent);
      const wrong = await submitLogin(agent, uid, 'InactiveLater', 'Wr0ng!pass');
      expect(wrong.text).toContain('The username or password is incorrect.');
      const right = await submitLogin(agent, uid, 'InactiveLater', GOOD_PASSWORD);
      expect(right.status).toBe(403);
      expect(right.text).toContain('This account is disabled. Please contact the help desk at 1-800-555-0100.');
    } finally {
      await t.stop();
    }
  });

  it('rate-limits sign-in attempts per client address with a 429 page saying when to retry', async () => {
    const t = await startIdp({ RATE_LIMIT_LOGIN_POINTS: 3 });
    try {
      const agent = request.agent(t.server);
      const { uid } = await beginSignIn(t, agent);
      for (let i = 0; i < 3; i++) expect((await submitLogin(agent, uid, `Someone${i}xx`, 'Wr0ng!pw')).status).toBe(401);
      const limited = await submitLogin(agent, uid, 'Someone9xx', 'Wr0ng!pw');
      expect(limited.status).toBe(429);
      expect(limited.text).toMatch(/try again in \d+ minute/);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await t.stop();
    }
  });
});
