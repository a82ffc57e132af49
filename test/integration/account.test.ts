import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beginSignIn, codeIn, createAccount, csrf, followInteraction, followToClient, GOOD_PASSWORD, pkce, portalRedirect } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';

type Agent = ReturnType<typeof request.agent>;

const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/139.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';

let idp: TestIdp;
let n = 0;

beforeAll(async () => {
  idp = await startIdp();
});
afterAll(async () => {
  await idp?.stop();
});

/** A producer record and its account (email confirmed); returns the username and email. */
async function newProducer(first: string): Promise<{ username: string; email: string; id: string }> {
  n += 1;
  const producerNumber = String(900000000 + n);
  const email = `${first.toLowerCase()}.${n}@example.com`;
  await idp.services.db.insertInto('producer_records').values({ producer_number: producerNumber, npn: String(29000000 + n), first_name: first, last_name: 'Tester', email, business_zip: '60601', status: 'active' } as never).execute();
  const username = `${first}Acct${n}`;
  const id = await createAccount(idp, { producerNumber, username });
  return { username, email, id };
}

/**
 * Log In and "Verify your Account" by email on interaction `uid`, with the browser's own user agent
 * (the shared helpers send a fixed one): the password, then the email code when asked.
 */
async function signIn(_idp: TestIdp, agent: Agent, uid: string, username: string, password = GOOD_PASSWORD, opts: { remember?: boolean } = {}) {
  const login = await agent.get(`/interaction/${uid}`);
  const res = await followInteraction(agent, uid, await agent.post(`/interaction/${uid}/login`).type('form').send({ _csrf: csrf(login.text), username, password }));
  if (res.status !== 200 || !res.text.includes('Verify your Account')) return res;
  const email = (await idp.services.db.selectFrom('accounts as a').innerJoin('producer_records as p', 'p.producer_number', 'a.producer_number').select('p.email').where('a.username_normalized', '=', username.toLowerCase()).executeTakeFirstOrThrow()).email;
  const before = idp.smtp.to(email).length;
  const chosen = await followInteraction(agent, uid, await agent.post(`/interaction/${uid}/login`).type('form').send({ _csrf: csrf(res.text), action: 'choose', factor: 'email' }));
  expect(chosen.status).toBe(200);
  if (idp.smtp.to(email).length <= before) await idp.smtp.waitFor(email, /verification code/);
  const code = codeIn(idp.smtp.to(email).at(-1)!.text);
  return agent.post(`/interaction/${uid}/login`).type('form').send({ _csrf: csrf(chosen.text), action: 'verify', code, ...(opts.remember ? { remember: 'yes' } : {}) });
}

/** Follows the IdP's redirects from `path` to the login page; returns the interaction uid and the /auth URL. */
async function toLogin(agent: Agent, path: string): Promise<{ uid: string; authUrl: URL }> {
  let loc = path;
  let authUrl: URL | undefined;
  for (let i = 0; i < 6; i++) {
    const r = await agent.get(loc);
    expect(r.status).toBe(303);
    loc = r.headers.location as string;
    if (loc.startsWith('/auth?')) authUrl = new URL(loc, idp.url);
    if (loc.includes('/interaction/')) return { uid: new URL(loc, idp.url).pathname.split('/')[2], authUrl: authUrl! };
  }
  throw new Error('no login page');
}

/** Signs in from an account page (the guard's sign-in, Log In, Verify your Account); returns the page reached. */
async function signInAt(agent: Agent, path: string, username: string, opts: { remember?: boolean; password?: string } = {}) {
  idp.clock.advance(31); // codes are at least 30 s apart
  const { uid, authUrl } = await toLogin(agent, path);
  const done = await signIn(idp, agent, uid, username, opts.password ?? GOOD_PASSWORD, opts);
  expect(done.status).toBe(303);
  const { page } = await followToClient(idp, agent, done.headers.location as string);
  return { page: page!, authUrl };
}

/** A browser with a user agent. */
function browser(ua = CHROME): Agent {
  return request.agent(idp.server).set('User-Agent', ua) as unknown as Agent;
}

/** A CSRF token of this browser (tokens are bound to the browser, not to a page): from any IdP form. */
async function tokenOf(agent: Agent): Promise<string> {
  return csrf((await agent.get('/forgot-username')).text);
}

/** Submits a form to `action` after showing `pagePath`, as the browser would. */
async function post(agent: Agent, pagePath: string, action: string, form: Record<string, string> = {}) {
  const page = await agent.get(pagePath);
  expect(page.status).toBe(200);
  return agent.post(action).type('form').send({ _csrf: await tokenOf(agent), ...form });
}

/**
 * A JWT access token for the producer API (RFC 9068) obtained, as the portal does, by single
 * sign-on in the browser's IdP session: code, then a refresh grant with `resource` (RFC 8707).
 */
async function apiTokenIn(agent: Agent): Promise<string> {
  const resource = idp.config.PRODUCER_API_RESOURCE;
  const config = await oidc.discovery(new URL(idp.url), idp.config.PORTAL_CLIENT_ID, undefined, oidc.ClientSecretBasic(idp.config.PORTAL_CLIENT_SECRET), { execute: [oidc.allowInsecureRequests] });
  const { verifier, challenge } = pkce();
  const state = `s-${randomBytes(6).toString('hex')}`;
  const auth = await agent.get(`/auth?${new URLSearchParams({ client_id: idp.config.PORTAL_CLIENT_ID, redirect_uri: portalRedirect(idp), response_type: 'code', scope: 'openid producer hierarchy:read', state, code_challenge: challenge, code_challenge_method: 'S256', resource })}`);
  const { redirect, page } = await followToClient(idp, agent, auth.headers.location as string);
  expect(redirect, page?.text.slice(0, 300)).toBeDefined();
  const tokens = await oidc.authorizationCodeGrant(config, redirect!, { pkceCodeVerifier: verifier, expectedState: state, idTokenExpected: true });
  const api = (await oidc.refreshTokenGrant(config, tokens.refresh_token!, { resource })).access_token;
  expect(typeof decodeJwt(api).gid).toBe('string');
  return api;
}

/** The producer API's answer to `token`. */
function hierarchyWith(token: string) {
  return request(idp.server).get('/api/producers/me/hierarchy').set('authorization', `Bearer ${token}`);
}

describe('My Account: the session guard (issue 14 item 6)', () => {
  it('sends an anonymous visitor to sign in and back to the page', async () => {
    const { username } = await newProducer('Avery');
    const agent = browser();
    const first = await agent.get('/account');
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/account/signin?return=%2Faccount');
    const { page, authUrl } = await signInAt(agent, '/account/devices', username);
    expect(authUrl.searchParams.get('client_id')).toBe('idp-account');
    expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authUrl.searchParams.get('prompt')).toBeNull();
    expect(page.status).toBe(200);
    expect(page.text).toContain('<h1>Remembered devices</h1>');
    const again = await agent.get('/account');
    expect(again.status).toBe(200);
    expect(again.text).toContain('My Account');
    expect(again.text).toContain(username);
  });

  it('refuses a return path to another site, and a callback without its state', async () => {
    const agent = browser();
    const r = await agent.get('/account/signin?return=//evil.example/x');
    expect(r.status).toBe(303);
    const cookie = (r.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('pidp.account.signin='))!;
    expect(decodeURIComponent(cookie)).toContain('./account;');
    const cb = await request(idp.server).get('/account/callback?code=x&state=y');
    expect(cb.status).toBe(400);
    expect(cb.text).toContain('Sign-in was not completed');
  });

  it('a change after ACCOUNT_REAUTH_SECONDS asks for the password again, then works', async () => {
    const { username } = await newProducer('Riley');
    const agent = browser();
    await signInAt(agent, '/account/sessions', username);
    idp.clock.advance(idp.config.ACCOUNT_REAUTH_SECONDS + 1);
    // Viewing still works; a change (and Change Password, all form) asks to sign in again.
    expect((await agent.get('/account/devices')).status).toBe(200);
    const change = await agent.post('/account/devices/remove-all').type('form').send({ _csrf: await tokenOf(agent) });
    expect(change.status).toBe(303);
    expect(change.headers.location).toBe('/account/signin?return=%2Faccount%2Fdevices&reauth=1');
    const pw = await agent.get('/account/password');
    expect(pw.status).toBe(303);
    expect(pw.headers.location).toBe('/account/signin?return=%2Faccount%2Fpassword&reauth=1');
    const { uid, authUrl } = await toLogin(agent, pw.headers.location as string);
    expect(authUrl.searchParams.get('prompt')).toBe('login');
    expect(authUrl.searchParams.get('login_hint')).toBe(username);
    const login = await agent.get(`/interaction/${uid}`);
    expect(login.text).toContain(`value="${username}"`);
    idp.clock.advance(31);
    const done = await signIn(idp, agent, uid, username);
    const { page: back } = await followToClient(idp, agent, done.headers.location as string);
    expect(back!.status).toBe(200);
    expect(back!.text).toContain('Current Password*');
  });
});

describe('My Account pages', () => {
  it('Remembered devices: lists browser, created and last used; Remove one, Remove all; not another account\'s', async () => {
    const { username, id } = await newProducer('Casey');
    const other = await newProducer('Drew');
    const chrome = browser(CHROME);
    await signInAt(chrome, '/account/devices', username, { remember: true });
    const firefox = browser(FIREFOX);
    await signInAt(firefox, '/account/devices', username, { remember: true });
    const otherAgent = browser();
    await signInAt(otherAgent, '/account/devices', other.username, { remember: true });
    const page = await chrome.get('/account/devices');
    expect(page.text).toContain('Chrome 139 on Linux <strong>(this browser)</strong>');
    expect(page.text).toContain('Firefox 128 on Windows');
    expect(page.text).toMatch(/Remembered[\s\S]*Last used/);
    const devices = await idp.services.db.selectFrom('trusted_devices').select(['id', 'account_id', 'user_agent']).where('revoked_at', 'is', null).execute();
    const firefoxDevice = devices.find((d) => d.account_id === id && d.user_agent === FIREFOX)!;
    const othersDevice = devices.find((d) => d.account_id === other.id)!;
    // Another account's device: 404 with a message, nothing changed.
    const foreign = await post(chrome, '/account/devices', '/account/devices/remove', { device: othersDevice.id });
    expect(foreign.status).toBe(404);
    expect(foreign.text).toContain('not one of your remembered devices');
    expect((await idp.services.db.selectFrom('trusted_devices').select('revoked_at').where('id', '=', othersDevice.id).executeTakeFirstOrThrow()).revoked_at).toBeNull();
    const removed = await post(chrome, '/account/devices', '/account/devices/remove', { device: firefoxDevice.id });
    expect(removed.status).toBe(303);
    expect(removed.headers.location).toBe('/account/devices?done=removed');
    const after = await chrome.get(removed.headers.location as string);
    expect(after.text).toContain('The device was removed');
    expect(after.text).not.toContain('Firefox 128');
    const all = await post(chrome, '/account/devices', '/account/devices/remove-all');
    expect(all.status).toBe(303);
    expect((await chrome.get('/account/devices')).text).toContain('You have no remembered devices.');
    const audit = await idp.services.db.selectFrom('audit_events').select('type').where('account_id', '=', id).where('type', '=', 'device.revoked').execute();
    expect(audit).toHaveLength(2);
  });

  it('Signed-in sessions: each browser with last activity; Sign out of the others keeps this one', async () => {
    const { username } = await newProducer('Morgan');
    const chrome = browser(CHROME);
    await signInAt(chrome, '/account/sessions', username);
    const firefox = browser(FIREFOX);
    await signInAt(firefox, '/account/sessions', username);
    // A JWT for the IdP's own producer API, issued in the other browser's session, and one in this one.
    const otherJwt = await apiTokenIn(firefox);
    const ownJwt = await apiTokenIn(chrome);
    expect((await hierarchyWith(otherJwt)).status).toBe(200);
    const page = await chrome.get('/account/sessions');
    expect(page.text).toContain('Chrome 139 on Linux <strong>(this browser)</strong>');
    expect(page.text).toContain('Firefox 128 on Windows');
    const out = await post(chrome, '/account/sessions', '/account/sessions/sign-out-others');
    expect(out.status).toBe(303);
    const after = await chrome.get(out.headers.location as string);
    expect(after.status).toBe(200);
    expect(after.text).toContain('signed out of every other session');
    expect(after.text).not.toContain('Firefox 128');
    // The other browser must sign in again.
    const ff = await firefox.get('/account/sessions');
    expect(ff.status).toBe(303);
    expect(ff.headers.location).toContain('/account/signin');
    // The JWT issued in the other session is refused at once (RFC 6750 §3.1), not at its expiry.
    const refused = await hierarchyWith(otherJwt);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_token');
    expect(refused.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    expect((await hierarchyWith(ownJwt)).status).toBe(200);
  });

  it('Change Password: wrong current password, a broken rule, a reused password; then the change ends the other sessions and mails', async () => {
    const { username, email, id } = await newProducer('Jordan');
    const agent = browser(CHROME);
    await signInAt(agent, '/account/password', username);
    const other = browser(FIREFOX);
    await signInAt(other, '/account', username);
    const otherJwt = await apiTokenIn(other);
    expect((await hierarchyWith(otherJwt)).status).toBe(200);

    const wrong = await post(agent, '/account/password', '/account/password', { current_password: 'Wrong!pass9', password: 'Nw8$tLp2qZ' });
    expect(wrong.status).toBe(422);
    expect(wrong.text).toContain('Your current password is not correct.');
    const rule = await post(agent, '/account/password', '/account/password', { current_password: GOOD_PASSWORD, password: 'short' });
    expect(rule.status).toBe(422);
    expect(rule.text).toContain('field-error');
    const reused = await post(agent, '/account/password', '/account/password', { current_password: GOOD_PASSWORD, password: GOOD_PASSWORD });
    expect(reused.status).toBe(422);
    expect(reused.text).toContain('Password cannot be any of your last 10 passwords.');
    const before = (await idp.services.db.selectFrom('accounts').select('password_hash').where('id', '=', id).executeTakeFirstOrThrow()).password_hash;

    const ok = await post(agent, '/account/password', '/account/password', { current_password: GOOD_PASSWORD, password: 'Nw8$tLp2qZ' });
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe('/account/password?done=changed');
    const after = await idp.services.db.selectFrom('accounts').select('password_hash').where('id', '=', id).executeTakeFirstOrThrow();
    expect(after.password_hash).not.toBe(before);
    expect(await idp.services.hasher.verify(after.password_hash, 'Nw8$tLp2qZ')).toBe(true);
    const mail = await idp.smtp.waitFor(email, /password was changed/);
    expect(mail.text).toContain('every other session was signed out');
    expect((await agent.get('/account')).status).toBe(200); // this browser stays signed in
    expect((await other.get('/account')).status).toBe(303); // the other one must sign in again
    expect((await hierarchyWith(otherJwt)).status).toBe(401); // and its API tokens stop at once
    const types = (await idp.services.db.selectFrom('audit_events').select('type').where('account_id', '=', id).execute()).map((r) => r.type);
    expect(types).toContain('account.password_changed');
    expect(types).toContain('account.password_change_failed');
  });

  it('Typing pattern: Reset removes it (the next sign-in enrolls again) and mails the owner', async () => {
    const { username, email, id } = await newProducer('Quinn');
    const agent = browser();
    await signInAt(agent, '/account/typing-pattern', username);
    expect((await agent.get('/account/typing-pattern')).text).toContain('You have no typing pattern.');
    await idp.services.db.insertInto('keystroke_profiles').values({ account_id: id, sentence: idp.config.KEYSTROKE_SENTENCE, template: JSON.stringify({}), created_at: idp.clock.now(), updated_at: idp.clock.now() } as never).execute();
    expect((await agent.get('/account/typing-pattern')).text).toContain('Reset typing pattern');
    const reset = await post(agent, '/account/typing-pattern', '/account/typing-pattern/reset');
    expect(reset.status).toBe(303);
    const page = await agent.get(reset.headers.location as string);
    expect(page.text).toContain('Your typing pattern was reset.');
    expect(await idp.services.db.selectFrom('keystroke_profiles').select('account_id').where('account_id', '=', id).executeTakeFirst()).toBeUndefined();
    const mail = await idp.smtp.waitFor(email, /typing pattern/);
    expect(mail.text).toContain('was reset');
    // Nothing left to reset: a message, 409.
    const again = await agent.post('/account/typing-pattern/reset').type('form').send({ _csrf: await tokenOf(agent) });
    expect(again.status).toBe(409);
    expect(again.text).toContain('no typing pattern to reset');
  });

  it('Recent activity: sign-ins and security events in plain words with the browser', async () => {
    const { username } = await newProducer('Sky');
    const agent = browser(FIREFOX);
    await signInAt(agent, '/account/activity', username);
    await post(agent, '/account/devices', '/account/devices/remove-all');
    const page = await agent.get('/account/activity');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Signed in');
    expect(page.text).toContain('Account verified with a code or typing pattern');
    expect(page.text).toContain('Firefox 128 on Windows');
  });
});

describe('My Account: session activity', () => {
  it('a sign-in at a relying party records the session\'s browser (no account page needed)', async () => {
    const { username, id } = await newProducer('Emery');
    const agent = browser(FIREFOX);
    idp.clock.advance(31);
    const { uid } = await beginSignIn(idp, agent);
    const done = await signIn(idp, agent, uid, username);
    expect(done.status).toBe(303);
    const { redirect } = await followToClient(idp, agent, done.headers.location as string);
    expect(redirect?.pathname).toBe('/callback');
    const rows = await idp.services.db.selectFrom('session_activity').select(['user_agent']).where('account_id', '=', id).execute();
    expect(rows).toEqual([{ user_agent: FIREFOX }]);
  });
});

describe('My Account: bad input', () => {
  it('a form without (or with a foreign) CSRF token: 403, nothing changed', async () => {
    const { username, id } = await newProducer('Parker');
    const agent = browser();
    await signInAt(agent, '/account/password', username);
    const none = await agent.post('/account/password').type('form').send({ current_password: GOOD_PASSWORD, password: 'Nw8$tLp2qZ' });
    expect(none.status).toBe(403);
    const foreign = await agent.post('/account/sessions/sign-out-others').type('form').send({ _csrf: '1.abc.def' });
    expect(foreign.status).toBe(403);
    const hash = (await idp.services.db.selectFrom('accounts').select('password_hash').where('id', '=', id).executeTakeFirstOrThrow()).password_hash;
    expect(await idp.services.hasher.verify(hash, GOOD_PASSWORD)).toBe(true);
  });

  it('not signed in: every page and form sends to sign in, nothing changed', async () => {
    const agent = browser();
    const page = await agent.get('/account/activity');
    expect(page.status).toBe(303);
    expect(page.headers.location).toBe('/account/signin?return=%2Faccount%2Factivity');
    // A form posted with a valid token of this browser but no session.
    const login = await agent.get('/account/signin?return=/account');
    expect(login.status).toBe(303);
    const form = await agent.get(login.headers.location as string);
    const interaction = await agent.get(form.headers.location as string);
    const res = await agent.post('/account/devices/remove-all').type('form').send({ _csrf: csrf(interaction.text) });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/account/signin?return=%2Faccount%2Fdevices');
  });

  it('a missing device id: 422 with the field message', async () => {
    const { username } = await newProducer('Rowan');
    const agent = browser();
    await signInAt(agent, '/account/devices', username);
    const res = await post(agent, '/account/devices', '/account/devices/remove', {});
    expect(res.status).toBe(422);
  });
});

describe('My Account: the error page leads back to My Account', () => {
  it('a form sent without its CSRF token on a signed-in page: 403, "Go to My Account" (not "Return to Log In"); elsewhere the page still offers Log In', async () => {
    const { username } = await newProducer('Quinn');
    const agent = browser();
    await signInAt(agent, '/account/devices', username);
    for (const action of ['/account/devices/remove-all', '/delegates/add']) {
      const res = await agent.post(action).type('form').send({ _csrf: 'stale.token.value' });
      expect(res.status).toBe(403);
      expect(res.text).toContain('Your session for this page expired or the form was submitted twice.');
      expect(res.text).toMatch(/<a class="button-primary" href="\/account">Go to My Account<\/a>/);
      expect(res.text).not.toContain('Return to Log In');
    }
    // Pages outside a sign-in (here Forgot Username) keep "Return to Log In".
    const anonymous = await browser().post('/forgot-username').type('form').send({ _csrf: 'stale.token.value', email: 'x@example.com' });
    expect(anonymous.status).toBe(403);
    expect(anonymous.text).toContain('Return to Log In');
    expect(anonymous.text).not.toContain('Go to My Account');
  });
});
