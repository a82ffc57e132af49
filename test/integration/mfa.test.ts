import * as oidc from 'openid-client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDevices, revokeDevices } from '../../src/mfa/trusted-devices.ts';
import { beginSignIn, codeIn, createAccount, csrf, postLoginStep, followToClient, passEmailFactor, signIn, submitLogin } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';
import { SmsReceiver } from '../helpers/sms-receiver.ts';

type Agent = ReturnType<typeof request.agent>;

let idp: TestIdp;
let sms: SmsReceiver;

beforeAll(async () => {
  sms = await new SmsReceiver().start();
  idp = await startIdp({ SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: `${sms.url}/sms`, SMS_WEBHOOK_SECRET: 'w'.repeat(40), SMS_TIMEOUT_MS: 2000 });
  // Avery has a mobile number on the producer record; Riley's record is inactive; Jordan, Morgan, Casey have one too.
  await createAccount(idp, { producerNumber: '000104201', username: 'AveryMfa01' });
  await createAccount(idp, { producerNumber: '000104202', username: 'JordanMfa1' });
  await createAccount(idp, { producerNumber: '000104203', username: 'MorganMfa1' });
  await createAccount(idp, { producerNumber: '000104205', username: 'CaseyMfa01' });
});
afterAll(async () => {
  await idp?.stop();
  await sms?.stop();
});

const AVERY = 'avery.quinlan@example.com';

async function page(agent: Agent, uid: string) {
  return agent.get(`/interaction/${uid}`);
}

const act = (agent: Agent, uid: string, form: Record<string, string>) => postLoginStep(agent, uid, form, 'mfa-test');

/** Password for Avery on a new interaction; returns the uid at "Verify your Account". */
async function atVerify(agent: Agent, username = 'AveryMfa01', extra: Record<string, string> = {}) {
  const { uid } = await beginSignIn(idp, agent, extra);
  const res = await submitLogin(agent, uid, username, 'Qz7!kR9{mW');
  return { uid, res };
}

function lastSmsCode(): string {
  const body = JSON.parse(sms.requests.at(-1)!.rawBody) as { body: string };
  return codeIn(body.body);
}

/** Runs the portal client's code flow with openid-client, signing in through `login`. */
async function codeFlow(agent: Agent, params: Record<string, string>, login: (uid: string) => Promise<request.Response>) {
  const config = await oidc.discovery(new URL(idp.url), idp.config.PORTAL_CLIENT_ID, undefined, oidc.ClientSecretBasic(idp.config.PORTAL_CLIENT_SECRET), { execute: [oidc.allowInsecureRequests] });
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: new URL('/callback', idp.config.PORTAL_URL).href,
    scope: 'openid profile email producer',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  const auth = await agent.get(url.pathname + url.search);
  let location = auth.headers.location as string;
  const uid = location.includes('/interaction/') ? location.split('/interaction/')[1] : undefined;
  if (uid) {
    const done = await login(uid);
    expect(done.status).toBe(303);
    location = done.headers.location;
  }
  const { redirect } = await followToClient(idp, agent, location);
  const tokens = await oidc.authorizationCodeGrant(config, redirect!, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  return tokens.claims()!;
}

describe('Verify your Account (guide slides 8-11)', () => {
  it('after the password, login is not resolved: the choice page shows the guide options with masked destinations', async () => {
    const agent = request.agent(idp.server);
    const { uid, res } = await atVerify(agent);
    expect(res.status).toBe(200);
    expect(res.text).toContain('Verify your Account');
    expect(res.text).toContain('Verify Account by Email');
    expect(res.text).toContain('Send verification code in an email to xxxxxxxxxnlan@example.com');
    expect(res.text).toContain('Verify Account by SMS Text');
    expect(res.text).toContain('Send verification code in a SMS Text to xxxxxx0101');
    expect(res.text).toContain('Send Code');
    // Going to the authorization resume URL directly does not skip the step.
    const resume = await agent.get(`/auth/${uid}`);
    const { page: again } = await followToClient(idp, agent, resume.headers.location ?? `/interaction/${uid}`);
    expect(again?.text ?? '').not.toContain('code=');
  });

  it('each sub-step answers its POST with 303 to the interaction page (GET-after-POST), which shows the next one; a reload sends nothing again', async () => {
    const agent = request.agent(idp.server);
    const { uid, page } = await beginSignIn(idp, agent);
    const password = await agent.post(`/interaction/${uid}/login`).type('form').send({ _csrf: csrf(page.text), username: 'CaseyMfa01', password: 'Qz7!kR9{mW' });
    expect(password.status).toBe(303);
    expect(password.headers.location).toBe(`/interaction/${uid}`);
    const choice = await agent.get(`/interaction/${uid}`);
    expect(choice.text).toContain('Send Code');
    const sent = await agent.post(`/interaction/${uid}/login`).type('form').send({ _csrf: csrf(choice.text), action: 'choose', factor: 'sms' });
    expect(sent.status).toBe(303);
    expect(sent.headers.location).toBe(`/interaction/${uid}`);
    const texts = sms.requests.length;
    for (let i = 0; i < 2; i++) {
      const shown = await agent.get(`/interaction/${uid}`); // the page after the 303, then a reload
      expect(shown.status).toBe(200);
      expect(shown.text).toContain('We sent a verification code');
      expect(shown.text).toContain('xxxxxx0105');
    }
    expect(sms.requests.length).toBe(texts);
    // A retry answers with the same page at once (4xx), as before.
    const codePage = await agent.get(`/interaction/${uid}`);
    const retry = await agent.post(`/interaction/${uid}/login`).type('form').send({ _csrf: csrf(codePage.text), action: 'verify', code: '123' });
    expect(retry.status).toBe(422);
    expect(retry.text).toContain('Enter the 8-character code');
  });

  it('a sub-step POST without or with a foreign CSRF token gets the same page with 403 and a clear message, and changes nothing', async () => {
    const agent = request.agent(idp.server);
    const { uid, res } = await atVerify(agent, 'JordanMfa1');
    expect(res.text).toContain('Send Code');
    const other = request.agent(idp.server);
    const foreign = csrf((await beginSignIn(idp, other)).page.text);
    const texts = sms.requests.length;
    for (const token of [undefined, foreign]) {
      const r = await agent.post(`/interaction/${uid}/login`).type('form').send({ ...(token ? { _csrf: token } : {}), action: 'choose', factor: 'sms' });
      expect(r.status).toBe(403);
      expect(r.text).toContain('Verify your Account');
      expect(r.text).toContain('Please try again');
    }
    expect(sms.requests.length).toBe(texts);
    const still = await agent.get(`/interaction/${uid}`);
    expect(still.text).toContain('Send Code'); // still the choice: no code was sent
    expect(still.text).not.toContain('We sent a verification code');
  });

  it('passes by email code: ID token amr pwd+otp+mfa and the fresh-second-factor acr (openid-client)', async () => {
    const agent = request.agent(idp.server);
    const claims = await codeFlow(agent, {}, async (uid) => {
      await submitLogin(agent, uid, 'AveryMfa01', 'Qz7!kR9{mW');
      return passEmailFactor(idp, agent, uid, AVERY);
    });
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims.acr).toBe(idp.config.ACR_MFA);
    const events = await idp.services.db.selectFrom('audit_events').select('type').where('type', 'in', ['mfa.sent', 'mfa.passed']).execute();
    expect(events.length).toBeGreaterThanOrEqual(2);
  });

  it('passes by SMS code through the signed webhook: amr pwd+sms+mfa', async () => {
    const agent = request.agent(idp.server);
    const claims = await codeFlow(agent, {}, async (uid) => {
      await submitLogin(agent, uid, 'JordanMfa1', 'Qz7!kR9{mW');
      const sent = await act(agent, uid, { action: 'choose', factor: 'sms' });
      expect(sent.text).toContain('xxxxxx0102');
      const req = sms.requests.at(-1)!;
      expect(JSON.parse(req.rawBody).to).toBe('+13125550102');
      expect(req.headers['x-signature-sha256']).toMatch(/^[0-9a-f]{64}$/);
      return act(agent, uid, { action: 'verify', code: lastSmsCode() });
    });
    expect(claims.amr).toEqual(['pwd', 'sms', 'mfa']);
  });

  it('a failed text message says so and offers email; nothing else changes', async () => {
    const agent = request.agent(idp.server);
    const { uid } = await atVerify(agent, 'MorganMfa1');
    sms.answer = () => ({ status: 500, body: 'down' });
    try {
      const res = await act(agent, uid, { action: 'choose', factor: 'sms' });
      expect(res.status).toBe(502);
      expect(res.text).toContain('We could not send the text message; try email.');
      expect(res.text).toContain('Verify Account by Email');
    } finally {
      sms.answer = () => ({ status: 200, body: '{}' });
    }
    // Email works at once.
    const ok = await passEmailFactor(idp, agent, uid, 'morgan.talbot@example.com');
    expect(ok.status).toBe(303);
  });

  it('a wrong code shows the tries left; the fifth wrong code ends the interaction with a clear page and an audit event', async () => {
    const agent = request.agent(idp.server);
    const { uid } = await atVerify(agent, 'CaseyMfa01');
    await act(agent, uid, { action: 'choose', factor: 'email' });
    for (let left = 4; left >= 1; left--) {
      const r = await act(agent, uid, { action: 'verify', code: 'ZZZZ2222' });
      expect(r.status).toBe(401);
      expect(r.text).toContain(`Tries left: ${left}.`);
    }
    const fifth = await act(agent, uid, { action: 'verify', code: 'ZZZZ2222' });
    expect(fifth.status).toBe(403);
    expect(fifth.text).toContain('Too many wrong codes');
    expect((await agent.get(`/interaction/${uid}`)).status).toBe(400); // the interaction is gone
    const ex = await idp.services.db.selectFrom('audit_events').select('type').where('type', '=', 'mfa.exhausted').execute();
    expect(ex.length).toBe(1);
    // The failures counted toward the account lock (5 in a row): the account is now locked.
    const acc = await idp.services.db.selectFrom('accounts').select('locked_until').where('username_normalized', '=', 'caseymfa01').executeTakeFirstOrThrow();
    expect(acc.locked_until).not.toBeNull();
    await idp.services.db.updateTable('accounts').set({ locked_until: null, failed_login_count: 0 }).where('username_normalized', '=', 'caseymfa01').execute();
  });

  it('an expired code is refused and the choice is shown again', async () => {
    const agent = request.agent(idp.server);
    const { uid } = await atVerify(agent);
    await act(agent, uid, { action: 'choose', factor: 'email' });
    const code = codeIn(idp.smtp.to(AVERY).at(-1)!.text);
    idp.clock.advance(10 * 60 + 1);
    const r = await act(agent, uid, { action: 'verify', code });
    expect(r.status).toBe(422);
    expect(r.text).toContain('This code expired');
    expect(r.text).toContain('Send Code');
  });

  it('switching factor voids the pending code', async () => {
    const agent = request.agent(idp.server);
    const { uid } = await atVerify(agent);
    idp.clock.advance(31);
    await act(agent, uid, { action: 'choose', factor: 'email' });
    const emailCode = codeIn(idp.smtp.to(AVERY).at(-1)!.text);
    await act(agent, uid, { action: 'switch' });
    await act(agent, uid, { action: 'choose', factor: 'sms' });
    // The email code of before the switch no longer works, even after choosing email again.
    idp.clock.advance(31);
    await act(agent, uid, { action: 'switch' });
    await act(agent, uid, { action: 'choose', factor: 'email' });
    const old = await act(agent, uid, { action: 'verify', code: emailCode });
    expect(old.status).toBe(401);
    const fresh = await act(agent, uid, { action: 'verify', code: codeIn(idp.smtp.to(AVERY).at(-1)!.text) });
    expect(fresh.status).toBe(303);
  });

  it('an account locked or disabled while at this step cannot finish it', async () => {
    const agent = request.agent(idp.server);
    const { uid } = await atVerify(agent, 'JordanMfa1');
    idp.clock.advance(31);
    await act(agent, uid, { action: 'choose', factor: 'email' });
    const code = codeIn(idp.smtp.to('jordan.ellery@example.com').at(-1)!.text);
    await idp.services.db.updateTable('accounts').set({ status: 'disabled' }).where('username_normalized', '=', 'jordanmfa1').execute();
    try {
      const r = await act(agent, uid, { action: 'verify', code });
      expect(r.status).toBe(403);
      expect(r.text).toContain('can no longer sign in');
    } finally {
      await idp.services.db.updateTable('accounts').set({ status: 'active' }).where('username_normalized', '=', 'jordanmfa1').execute();
    }
  });

  describe('Remember this device for 30 days', () => {
    it('skips the step on the same browser with a truthful amr; step-up by acr_values and max_age ask again', async () => {
      const agent = request.agent(idp.server);
      idp.clock.advance(3600); // earlier tests used Avery's 5 codes of this hour
      const { uid } = await atVerify(agent);
      const page1 = await act(agent, uid, { action: 'choose', factor: 'email' });
      expect(page1.text).toContain('Remember this device for 30 days');
      const done = await act(agent, uid, { action: 'verify', code: codeIn(idp.smtp.to(AVERY).at(-1)!.text), remember: 'yes' });
      expect(done.status).toBe(303);
      const cookie = (done.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('pidp.device='))!;
      expect(cookie).toMatch(/HttpOnly/i);
      expect(cookie).toMatch(/SameSite=Lax/i);
      const stored = await idp.services.db.selectFrom('trusted_devices').selectAll().execute();
      expect(stored.some((d) => cookie.includes(d.secret_hash))).toBe(false); // only a hash is kept

      // A new sign-in on this browser (new portal session): password only.
      const again = await codeFlow(agent, { prompt: 'login' }, (u) => submitLogin(agent, u, 'AveryMfa01', 'Qz7!kR9{mW'));
      expect(again.amr).toEqual(['pwd']);
      expect(again.acr).toBe(idp.config.ACR_REMEMBERED_DEVICE);

      // Step-up: the client asks for the fresh-second-factor acr → the step is shown again.
      const stepUp = await codeFlow(agent, { acr_values: idp.config.ACR_MFA }, async (u) => {
        const r = await submitLogin(agent, u, 'AveryMfa01', 'Qz7!kR9{mW');
        expect(r.text).toContain('Verify your Account');
        idp.clock.advance(31);
        return passEmailFactor(idp, agent, u, AVERY);
      });
      expect(stepUp.acr).toBe(idp.config.ACR_MFA);
      expect(stepUp.amr).toContain('mfa');

      // max_age shorter than the age of the device's factor → the step again.
      idp.clock.advance(3600);
      const maxAge = await codeFlow(agent, { max_age: '600', prompt: 'login' }, async (u) => {
        const r = await submitLogin(agent, u, 'AveryMfa01', 'Qz7!kR9{mW');
        expect(r.text).toContain('Verify your Account');
        return passEmailFactor(idp, agent, u, AVERY);
      });
      expect(maxAge.amr).toContain('mfa');
    });

    it('expires after 30 days; revocation and a password change void it; another account ignores it', async () => {
      const agent = request.agent(idp.server);
      idp.clock.advance(31);
      const { uid } = await atVerify(agent, 'MorganMfa1');
      const done = await passEmailFactor(idp, agent, uid, 'morgan.talbot@example.com', { remember: true });
      expect(done.status).toBe(303);
      const skip = async (username: string) => {
        const a = await beginSignIn(idp, agent, { prompt: 'login' });
        const r = await submitLogin(agent, a.uid, username, 'Qz7!kR9{mW');
        return r.status === 303;
      };
      expect(await skip('MorganMfa1')).toBe(true);
      // A device cookie of another account is ignored (the step is shown), never an error.
      expect(await skip('CaseyMfa01')).toBe(false);
      // Expiry.
      idp.clock.advance(30 * 24 * 3600 + 1);
      expect(await skip('MorganMfa1')).toBe(false);

      // Remember again, then revoke (the CLI's operation).
      const s2 = await beginSignIn(idp, agent, { prompt: 'login' });
      await submitLogin(agent, s2.uid, 'MorganMfa1', 'Qz7!kR9{mW');
      await passEmailFactor(idp, agent, s2.uid, 'morgan.talbot@example.com', { remember: true });
      expect(await skip('MorganMfa1')).toBe(true);
      const morgan = await idp.services.db.selectFrom('accounts').select('id').where('username_normalized', '=', 'morganmfa1').executeTakeFirstOrThrow();
      expect(await revokeDevices(idp.services, morgan.id)).toBeGreaterThanOrEqual(1);
      expect(await skip('MorganMfa1')).toBe(false);
      expect((await listDevices(idp.services, morgan.id)).every((d) => d.revokedAt)).toBe(true);

      // Remember again, then the password changes.
      idp.clock.advance(31);
      const s3 = await beginSignIn(idp, agent, { prompt: 'login' });
      await submitLogin(agent, s3.uid, 'MorganMfa1', 'Qz7!kR9{mW');
      await passEmailFactor(idp, agent, s3.uid, 'morgan.talbot@example.com', { remember: true });
      expect(await skip('MorganMfa1')).toBe(true);
      idp.clock.advance(1);
      await idp.services.db.updateTable('accounts').set({ password_changed_at: idp.clock.now() }).where('id', '=', morgan.id).execute();
      expect(await skip('MorganMfa1')).toBe(false);
    });

    it('a tampered device cookie is ignored', async () => {
      const agent = request.agent(idp.server);
      const { uid } = await beginSignIn(idp, agent);
      const host = new URL(idp.url).hostname;
      (agent as unknown as { jar: { setCookie(c: string, domain: string, path: string): void } }).jar.setCookie('pidp.device=abc.def', host, '/');
      const r = await submitLogin(agent, uid, 'AveryMfa01', 'Qz7!kR9{mW');
      expect(r.status).toBe(200);
      expect(r.text).toContain('Verify your Account');
    });
  });

  it('the full sign-in helper works end to end (password then email)', async () => {
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent);
    idp.clock.advance(31);
    const r = await signIn(idp, agent, uid, 'AveryMfa01');
    expect(r.status).toBe(303);
  });
});
