import * as oidc from 'openid-client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sample } from '../../src/keystroke/index.ts';
import { beginSignIn, createAccount, csrf, postLoginStep, followToClient, passEmailFactor, submitLogin } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';
import { makeTypist, rng, sampleOf, type Typist } from '../helpers/typist.ts';

type Agent = ReturnType<typeof request.agent>;

let idp: TestIdp;
let sentence: string;
const r = rng(2026);
let avery: Typist;
let stranger: Typist;

beforeAll(async () => {
  idp = await startIdp({ MFA_FACTORS: 'email,sms,keystroke' });
  sentence = idp.config.KEYSTROKE_SENTENCE;
  avery = makeTypist(r, sentence.length);
  stranger = makeTypist(r, sentence.length);
  await createAccount(idp, { producerNumber: '000104201', username: 'AveryKeys1' });
  await createAccount(idp, { producerNumber: '000104203', username: 'MorganKeys' });
});
afterAll(async () => {
  await idp?.stop();
});

const typings = (t: Typist, noise = 0.08): Sample[] => [sampleOf(t, r, noise), sampleOf(t, r, noise), sampleOf(t, r, noise)];
const fields = (samples: Sample[]) => Object.fromEntries(samples.map((s, i) => [`sample${i + 1}`, JSON.stringify(s)]));

const act = (agent: Agent, uid: string, form: Record<string, string>) => postLoginStep(agent, uid, form, 'keystroke-test');

async function profileOf(username: string) {
  return idp.services.db
    .selectFrom('keystroke_profiles as k')
    .innerJoin('accounts as a', 'a.id', 'k.account_id')
    .select(['k.template', 'k.sentence'])
    .where('a.username_normalized', '=', username.toLowerCase())
    .executeTakeFirst();
}

/** Password, typing page (3 typings), then email code; returns the uid and the final response. */
async function signInTyping(agent: Agent, username: string, email: string, samples: Sample[], extra: Record<string, string> = {}) {
  const { uid } = await beginSignIn(idp, agent, { prompt: 'login' });
  const pwd = await submitLogin(agent, uid, username, 'Qz7!kR9{mW');
  expect(pwd.text).toContain('Typing Pattern');
  expect(pwd.text).toContain(sentence);
  const typed = await act(agent, uid, { action: 'typing', ...fields(samples), ...extra });
  expect(typed.text).toContain('Verify your Account');
  idp.clock.advance(31);
  return { uid, done: await passEmailFactor(idp, agent, uid, email) };
}

describe('typing pattern (guide slides 8 and 11)', () => {
  it('first sign-in shows the typing page after the password and before Verify your Account; the profile is stored only once the sign-in completes', async () => {
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent);
    const pwd = await submitLogin(agent, uid, 'AveryKeys1', 'Qz7!kR9{mW');
    expect(pwd.text).toContain('Typing Pattern');
    expect(pwd.text).toContain('three (3) times');
    expect(pwd.text).toContain('Remember this device for 30 days');
    const typed = await act(agent, uid, { action: 'typing', ...fields(typings(avery)) });
    expect(typed.text).toContain('Verify your Account');
    expect(typed.text).not.toContain('Verify Account by Keyboard Pattern'); // not enrolled yet
    expect(await profileOf('AveryKeys1')).toBeUndefined(); // nothing stored before the second factor
    const done = await passEmailFactor(idp, agent, uid, 'avery.quinlan@example.com');
    expect(done.status).toBe(303);
    const profile = await profileOf('AveryKeys1');
    expect(profile?.sentence).toBe(sentence);
    // Only timing features are stored: no typed text, no key log.
    expect(JSON.stringify(profile?.template)).not.toContain(sentence.split(' ')[1]!);
  });

  it('refuses a typing that is not a valid sample, or none at all (no JavaScript), with a clear message', async () => {
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent, { prompt: 'login' });
    await submitLogin(agent, uid, 'AveryKeys1', 'Qz7!kR9{mW');
    const bad = await act(agent, uid, { action: 'typing', sample1: '{"v":1}', sample2: 'x'.repeat(20_000), sample3: '[]' });
    expect(bad.status).toBe(422);
    expect(bad.text).toContain('Type it again as it appears.');
    const none = await act(agent, uid, { action: 'typing' });
    expect(none.status).toBe(422);
    expect(none.text).toContain('needs JavaScript');
    const skip = await act(agent, uid, { action: 'skip_typing' });
    expect(skip.text).toContain('Verify your Account');
  });

  it('verifies by keyboard pattern: genuine typings pass with the lower acr and the configured amr; the template adapts', async () => {
    const agent = request.agent(idp.server);
    const config = await oidc.discovery(new URL(idp.url), idp.config.PORTAL_CLIENT_ID, undefined, oidc.ClientSecretBasic(idp.config.PORTAL_CLIENT_SECRET), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: new URL('/callback', idp.config.PORTAL_URL).href, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256', nonce, state, prompt: 'login',
    });
    const auth = await agent.get(url.pathname + url.search);
    const uid = String(auth.headers.location).split('/interaction/')[1]!;
    await submitLogin(agent, uid, 'AveryKeys1', 'Qz7!kR9{mW');
    const before = (await profileOf('AveryKeys1'))!.template as { updates: number };
    const choose = await act(agent, uid, { action: 'typing', ...fields(typings(avery)) });
    expect(choose.text).toContain('Verify Account by Keyboard Pattern');
    expect(choose.text).toContain('Prompt me for personalized keyboard typing pattern');
    const next = await act(agent, uid, { action: 'choose', factor: 'keystroke' });
    expect(next.text).toContain('Type the highlighted sentence three (3) times');
    const done = await act(agent, uid, { action: 'verify', ...fields(typings(avery)) });
    expect(done.status).toBe(303);
    const { redirect } = await followToClient(idp, agent, done.headers.location);
    const tokens = await oidc.authorizationCodeGrant(config, redirect!, { pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state });
    expect(tokens.claims()!.amr).toEqual(['pwd', idp.config.KEYSTROKE_AMR]);
    expect(tokens.claims()!.acr).toBe(idp.config.ACR_REMEMBERED_DEVICE);
    const after = (await profileOf('AveryKeys1'))!.template as { updates: number };
    expect(after.updates).toBe(before.updates + 6); // the typing page and the verification typings
  });

  it('refuses another person\'s rhythm, says so, offers email/SMS, and counts a second-factor failure', async () => {
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent, { prompt: 'login' });
    await submitLogin(agent, uid, 'AveryKeys1', 'Qz7!kR9{mW');
    await act(agent, uid, { action: 'skip_typing' });
    await act(agent, uid, { action: 'choose', factor: 'keystroke' });
    const refused = await act(agent, uid, { action: 'verify', ...fields(typings(stranger)) });
    expect(refused.status).toBe(401);
    expect(refused.text).toContain('Your typing pattern did not match');
    expect(refused.text).toContain('Verify Account by Email');
    const failed = await idp.services.db.selectFrom('audit_events').select('details').where('type', '=', 'mfa.failed').execute();
    expect(failed.some((e) => (e.details as { factor?: string }).factor === 'keystroke')).toBe(true);
    // The email fallback still works.
    idp.clock.advance(31);
    expect((await passEmailFactor(idp, agent, uid, 'avery.quinlan@example.com')).status).toBe(303);
  });

  it('refuses a replayed typing (equal within 1 ms to one already presented)', async () => {
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent, { prompt: 'login' });
    await submitLogin(agent, uid, 'AveryKeys1', 'Qz7!kR9{mW');
    await act(agent, uid, { action: 'skip_typing' });
    await act(agent, uid, { action: 'choose', factor: 'keystroke' });
    const same = typings(avery);
    const first = await act(agent, uid, { action: 'verify', ...fields(same) });
    expect(first.status).toBe(303);
    const agent2 = request.agent(idp.server);
    const s2 = await beginSignIn(idp, agent2, { prompt: 'login' });
    await submitLogin(agent2, s2.uid, 'AveryKeys1', 'Qz7!kR9{mW');
    await act(agent2, s2.uid, { action: 'skip_typing' });
    await act(agent2, s2.uid, { action: 'choose', factor: 'keystroke' });
    const nudged = same.map((s) => ({ ...s, h: s.h.map((x, i) => (i === 0 ? Math.round((x + 0.0004) * 1e4) / 1e4 : x)) }));
    nudged.forEach((s) => (s.ud = s.dd.map((d, i) => Math.round((d - s.h[i]!) * 1e4) / 1e4)));
    const replay = await act(agent2, s2.uid, { action: 'verify', ...fields(nudged) });
    expect(replay.status).toBe(401);
    expect(replay.text).toContain('This typing was already used');
  });

  it('a client asking for the fresh-second-factor acr does not get the keyboard pattern (NIST SP 800-63B)', async () => {
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent, { prompt: 'login', acr_values: idp.config.ACR_MFA });
    await submitLogin(agent, uid, 'AveryKeys1', 'Qz7!kR9{mW');
    const choose = await act(agent, uid, { action: 'skip_typing' });
    expect(choose.text).toContain('Verify Account by Email');
    expect(choose.text).not.toContain('Verify Account by Keyboard Pattern');
    const forced = await act(agent, uid, { action: 'choose', factor: 'keystroke' });
    expect(forced.status).toBe(422);
  });

  it('"Remember this device for 30 days" on the typing page skips it on that device for 30 days', async () => {
    const agent = request.agent(idp.server);
    const first = await signInTyping(agent, 'MorganKeys', 'morgan.talbot@example.com', typings(makeTypist(r, sentence.length)), { remember: 'yes' });
    expect(first.done.status).toBe(303);
    const again = await beginSignIn(idp, agent, { prompt: 'login' });
    const pwd = await submitLogin(agent, again.uid, 'MorganKeys', 'Qz7!kR9{mW');
    expect(pwd.text).not.toContain('Typing Pattern');
    expect(pwd.text).toContain('Verify your Account');
    idp.clock.advance(30 * 24 * 3600 + 1);
    const later = await beginSignIn(idp, agent, { prompt: 'login' });
    const pwd2 = await submitLogin(agent, later.uid, 'MorganKeys', 'Qz7!kR9{mW');
    expect(pwd2.text).toContain('Typing Pattern');
  });
});
