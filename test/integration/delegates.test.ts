import { randomBytes } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OWN_PAGES_CLIENT_ID } from '../../src/interactions/working-for-choice.ts';
import { ACCOUNT_CLIENT_ID } from '../../src/oidc/provider.ts';
import { upsertProducers, findProducer } from '../../src/db/repositories/producers.ts';
import { endProducerSessions } from '../../src/oidc/revocation.ts';
import { registerClient } from '../../src/oidc/clients.ts';
import { beginSignIn, createAccount, csrf, followToClient, GOOD_PASSWORD, pkce, signIn, signInAtIdpPage } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';

/**
 * Delegates (issue 14 items 1-5) through the IdP's pages with supertest, and what relying parties
 * see, checked with openid-client and jose: the ID token's `sub` is the person and `delegation`
 * says for whom; JWT access tokens for the producer API carry the producer as `sub` and
 * `act: { sub: <delegate> }` (RFC 8693 §4.1).
 */
let idp: TestIdp;
let resource: string;
let averyId: string;
let jordanId: string;
const DELEGATE_EMAIL = 'casey.assistant@example.test';
const JORDAN_EMAIL = 'jordan.ellery@example.com';

beforeAll(async () => {
  idp = await startIdp();
  resource = idp.config.PRODUCER_API_RESOURCE;
  averyId = await createAccount(idp, { producerNumber: '000104201', username: 'DelAvery01' });
  jordanId = await createAccount(idp, { producerNumber: '000104202', username: 'DelJordan01' });
});
afterAll(async () => {
  await idp?.stop();
});

type Agent = ReturnType<typeof request.agent>;

/** Signs `username` in at the IdP as the portal would, returning the agent (IdP session) and the client redirect. */
async function signedIn(username: string, extra: Record<string, string> = {}, agent: Agent = request.agent(idp.server)) {
  const state = `s-${randomBytes(6).toString('hex')}`;
  const nonce = `n-${randomBytes(6).toString('hex')}`;
  const { uid, verifier } = await beginSignIn(idp, agent, { scope: 'openid profile email producer hierarchy:read', resource, state, nonce, ...extra });
  const res = await signIn(idp, agent, uid, username);
  const { redirect, page } = await followToClient(idp, agent, res.headers.location);
  return { agent, uid, redirect, page, verifier, state, nonce };
}

async function rp() {
  return oidc.discovery(new URL(idp.url), idp.config.PORTAL_CLIENT_ID, undefined, oidc.ClientSecretBasic(idp.config.PORTAL_CLIENT_SECRET), { execute: [oidc.allowInsecureRequests] });
}

/** Adds a delegate on the producer's page and returns the invitation link from the mail. */
async function invite(agent: Agent, email: string, permissions: string[]): Promise<string> {
  const form = await agent.get('/delegates/add');
  expect(form.status).toBe(200);
  const before = idp.smtp.to(email).length;
  const res = await agent.post('/delegates/add').type('form').send(`_csrf=${encodeURIComponent(csrf(form.text))}&first_name=Casey&last_name=Assistant&email=${encodeURIComponent(email)}&${permissions.map((p) => `permissions=${p}`).join('&')}`);
  expect(res.status).toBe(303);
  expect(res.headers.location).toBe('/delegates?done=added');
  await expect.poll(() => idp.smtp.to(email).length).toBeGreaterThan(before);
  const mail = idp.smtp.to(email).at(-1)!;
  const link = /(http:\/\/\S+\/delegates\/accept\?token=[A-Za-z0-9_-]+)/.exec(mail.text)![1]!;
  expect(link.startsWith(`${idp.url}/delegates/accept?token=`)).toBe(true);
  return link;
}

describe('delegates', () => {
  let caseyId: string;
  let averyAgent: Agent;
  /** A producer-API JWT of Casey for Avery, issued before Avery removed her. */
  let caseyOldApiToken: string;

  it('a producer adds a delegate; the invitation registers a delegate account (Terms of Use, Create Your Secure Login); the producer is told', async () => {
    // No IdP session: the guard of the IdP's own pages sends the browser to sign in, and back.
    const anonymous = await request(idp.server).get('/delegates');
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.location).toBe('/account/signin?return=%2Fdelegates');
    averyAgent = (await signedIn('DelAvery01')).agent;
    const empty = await averyAgent.get('/delegates');
    expect(empty.status).toBe(200);
    expect(empty.text).toContain('You have no delegates yet.');
    // Bad input: a clear message, 422, nothing stored.
    const form = await averyAgent.get('/delegates/add');
    const bad = await averyAgent.post('/delegates/add').type('form').send({ _csrf: csrf(form.text), first_name: 'Casey', last_name: '', email: 'not-an-email' });
    expect(bad.status).toBe(422);
    expect(bad.text).toContain('Enter a valid email address.');
    expect(bad.text).toContain('Choose at least one permission.');

    // A permission that is not on the list: 422 with the field message, nothing stored or sent.
    const unknown = await averyAgent.post('/delegates/add').type('form').send(`_csrf=${encodeURIComponent(csrf(form.text))}&first_name=Casey&last_name=Assistant&email=${encodeURIComponent(DELEGATE_EMAIL)}&permissions=quote_enroll&permissions=admin`);
    expect(unknown.status).toBe(422);
    expect(unknown.text).toContain('A permission that was sent is not one of Quote &amp; Enroll, Commissions &amp; Reporting or View My Hierarchy');
    expect(await idp.services.db.selectFrom('delegations').select('id').execute()).toEqual([]);
    expect(idp.smtp.to(DELEGATE_EMAIL)).toEqual([]);

    const link = await invite(averyAgent, DELEGATE_EMAIL, ['quote_enroll', 'view_hierarchy']);
    const list = await averyAgent.get('/delegates');
    expect(list.text).toMatch(/Casey Assistant[\s\S]*Invited[\s\S]*Quote &amp; Enroll, View My Hierarchy/);
    // The same email again: refused.
    const again = await averyAgent.get('/delegates/add');
    const dup = await averyAgent.post('/delegates/add').type('form').send(`_csrf=${encodeURIComponent(csrf(again.text))}&first_name=C&last_name=A&email=${DELEGATE_EMAIL}&permissions=quote_enroll`);
    expect(dup.status).toBe(409);

    // Resend voids the old link (after the 30 s spacing of every mail).
    idp.clock.advance(31);
    const listed = await averyAgent.get('/delegates');
    const pendingId = /action="\/delegates\/([^/]+)\/resend"/.exec(listed.text)![1];
    const resent = await averyAgent.post(`/delegates/${pendingId}/resend`).type('form').send({ _csrf: csrf(listed.text) });
    expect(resent.headers.location).toBe('/delegates?done=resent');
    await expect.poll(() => idp.smtp.to(DELEGATE_EMAIL).length).toBe(2);
    const tooSoon = await averyAgent.post(`/delegates/${pendingId}/resend`).type('form').send({ _csrf: csrf(listed.text) });
    expect(tooSoon.headers.location).toBe('/delegates?done=limited');
    expect((await request(idp.server).get(new URL(link).pathname + new URL(link).search)).status).toBe(400);
    const newLink = /(http:\/\/\S+\/delegates\/accept\?token=[A-Za-z0-9_-]+)/.exec(idp.smtp.to(DELEGATE_EMAIL).at(-1)!.text)![1]!;

    const casey = request.agent(idp.server);
    const path = new URL(newLink).pathname + new URL(newLink).search;
    // GET and HEAD change nothing; the page has one button.
    expect((await casey.head(path)).status).toBe(200);
    const page = await casey.get(path);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Avery Quinlan invited you');
    expect(page.text).toContain('Accept Invitation');
    const accepted = await casey.post('/delegates/accept').type('form').send({ _csrf: csrf(page.text), token: new URL(newLink).searchParams.get('token') });
    expect(accepted.status).toBe(303);
    expect(accepted.headers.location).toBe('/delegates/register');
    const terms = await casey.get('/delegates/register');
    expect(terms.text).toContain('Terms of Use');
    const version = /name="version" value="([^"]+)"/.exec(terms.text)![1];
    const toLogin = await casey.post('/delegates/register/terms').type('form').send({ _csrf: csrf(terms.text), decision: 'accept', version });
    expect(toLogin.status).toBe(303);
    const loginPage = await casey.get('/delegates/register/login');
    expect(loginPage.text).toContain('Create Your Secure Login');
    const weak = await casey.post('/delegates/register/login').type('form').send({ _csrf: csrf(loginPage.text), username: 'DelCasey01', password: 'short' });
    expect(weak.status).toBe(422);
    const before = idp.smtp.to('avery.quinlan@example.com').length;
    const done = await casey.post('/delegates/register/login').type('form').send({ _csrf: csrf(loginPage.text), username: 'DelCasey01', password: GOOD_PASSWORD });
    expect(done.status).toBe(200);
    expect(done.text).toContain('you are now a delegate of Avery Quinlan');
    await expect.poll(() => idp.smtp.to('avery.quinlan@example.com').length).toBeGreaterThan(before);
    expect(idp.smtp.to('avery.quinlan@example.com').at(-1)!.subject).toContain('Casey Assistant is now your delegate');
    expect(idp.smtp.to('avery.quinlan@example.com').at(-1)!.text).toContain('accepted with the account of Casey Assistant (username DelCasey01)');
    // The link was used once.
    expect((await request(idp.server).get(path)).status).toBe(400);

    const account = await idp.services.db.selectFrom('accounts').selectAll().where('username', '=', 'DelCasey01').executeTakeFirstOrThrow();
    expect(account).toMatchObject({ kind: 'delegate', producer_number: null, email: DELEGATE_EMAIL, first_name: 'Casey' });
    expect(account.email_verified_at).not.toBeNull();
    caseyId = account.id;
    const events = await idp.services.db.selectFrom('audit_events').select(['type', 'account_id']).where('type', 'like', 'delegate.%').execute();
    expect(events).toEqual(expect.arrayContaining([
      { type: 'delegate.invited', account_id: averyId },
      { type: 'delegate.invitation_accepted', account_id: averyId },
      { type: 'delegate.invitation_accepted', account_id: caseyId },
      { type: 'delegate.account_created', account_id: caseyId },
    ]));
    expect((await averyAgent.get('/delegates')).text).toMatch(/Casey Assistant[\s\S]*Active/);
  });

  it('a delegate of one producer signs in (Verify your Account by their own email) without a choice; the ID token names the person, API tokens the producer with act', async () => {
    const s = await signedIn('DelCasey01');
    expect(s.redirect, s.page?.text.slice(0, 500)).toBeDefined();
    const config = await rp();
    const tokens = await oidc.authorizationCodeGrant(config, s.redirect!, { pkceCodeVerifier: s.verifier, expectedState: s.state, expectedNonce: s.nonce, idTokenExpected: true });
    const id = tokens.claims()!;
    expect(id.sub).toBe(caseyId);
    expect(id.delegation).toEqual({ producer_number: '000104201', producer_name: 'Avery Quinlan', permissions: ['quote_enroll', 'view_hierarchy'] });
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, caseyId);
    expect(userinfo.delegation).toEqual(id.delegation);
    expect(userinfo).toMatchObject({ sub: caseyId, name: 'Casey Assistant', email: 'casey.assistant@example.test' });
    expect(userinfo.producer_number).toBeUndefined();

    const api = await oidc.refreshTokenGrant(config, tokens.refresh_token!, { resource });
    const { payload } = await jwtVerify(api.access_token, createRemoteJWKSet(new URL(`${idp.url}/jwks`)), { issuer: idp.url, audience: resource, typ: 'at+jwt' });
    expect(payload.sub).toBe(averyId);
    expect(payload.act).toEqual({ sub: caseyId });
    const res = await request(idp.server).get('/api/producers/me/hierarchy').set('authorization', `Bearer ${api.access_token}`);
    expect(res.status).toBe(200);
    expect(res.body.producer.producer_number).toBe('000104201');
    // A delegate has no producer pages of their own.
    expect((await s.agent.get('/delegates')).status).toBe(403);

    // A producer_number that names none of her choices is not replaced by her only choice: the page is shown.
    idp.clock.advance(31);
    const named = await signedIn('DelCasey01', { producer_number: '000104203' });
    expect(named.redirect).toBeUndefined();
    expect(named.page!.text).toContain('Choose who you are working for');
    expect(named.page!.text).toContain('producer number 000104203, which is not a producer you may work for');
    expect(named.page!.text).toContain('Avery Quinlan');
  });

  it('a producer who is also a delegate chooses who they are working for; producer_number settles it; without View My Hierarchy the API refuses', async () => {
    const jordan = (await signedIn('DelJordan01')).agent;
    const link = await invite(jordan, 'avery.quinlan@example.com', ['commissions_reporting']);
    // Avery (signed in at the IdP) accepts with the account she has.
    const page = await averyAgent.get(new URL(link).pathname + new URL(link).search);
    expect(page.text).toContain('You are logged in as');
    const accepted = await averyAgent.post('/delegates/accept').type('form').send({ _csrf: csrf(page.text), token: new URL(link).searchParams.get('token') });
    expect(accepted.status).toBe(200);
    expect(accepted.text).toContain('You are now a delegate of Jordan Ellery');
    // Jordan learns which account took the link (whoever holds it may accept it).
    await expect.poll(() => idp.smtp.to(JORDAN_EMAIL).filter((m) => /is now your delegate/.test(m.subject)).length).toBe(1);
    expect(idp.smtp.to(JORDAN_EMAIL).filter((m) => /is now your delegate/.test(m.subject))[0]!.text).toContain('accepted with the account of Avery Quinlan (username DelAvery01)');

    // A producer_number she may not act for settles nothing: the page is shown.
    const s = await signedIn('DelAvery01', { producer_number: '000104203' });
    expect(s.redirect).toBeUndefined();
    expect(s.page!.text).toContain('Choose who you are working for');
    expect(s.page!.text).toContain('Myself — Avery Quinlan');
    const choice = /value="([^"]+)"[^>]*>\s*<span><strong>Jordan Ellery/.exec(s.page!.text)![1]!;
    const uid = /action="\/interaction\/([^/]+)\/working_for"/.exec(s.page!.text)![1];
    const chosen = await s.agent.post(`/interaction/${uid}/working_for`).type('form').send({ _csrf: csrf(s.page!.text), working_for: choice });
    expect(chosen.status, chosen.text.slice(0, 400)).toBe(303);
    const { redirect, page: stuck } = await followToClient(idp, s.agent, chosen.headers.location);
    expect(redirect, stuck?.text.slice(0, 600)).toBeDefined();
    const config = await rp();
    const tokens = await oidc.authorizationCodeGrant(config, redirect!, { pkceCodeVerifier: s.verifier, expectedState: s.state, expectedNonce: s.nonce, idTokenExpected: true });
    expect(tokens.claims()!.sub).toBe(averyId);
    expect(tokens.claims()!.delegation).toEqual({ producer_number: '000104202', producer_name: 'Jordan Ellery', permissions: ['commissions_reporting'] });
    const api = await oidc.refreshTokenGrant(config, tokens.refresh_token!, { resource });
    expect(decodeJwt(api.access_token)).toMatchObject({ sub: jordanId, act: { sub: averyId } });
    // The IdP's own account pages (client idp-account) never ask whom she works for.
    expect(OWN_PAGES_CLIENT_ID).toBe(ACCOUNT_CLIENT_ID);
    const own = await s.agent.get('/account/signin?return=/account');
    const ownAuth = await s.agent.get(own.headers.location);
    expect(ownAuth.status).toBe(303);
    expect(ownAuth.headers.location).toMatch(/\/account\/callback\?code=/);
    const refused = await request(idp.server).get('/api/producers/me/hierarchy').set('authorization', `Bearer ${api.access_token}`);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('insufficient_scope');

    // The same IdP session, with producer_number naming herself: no prompt, tokens for herself.
    const state = `s-${randomBytes(6).toString('hex')}`;
    const { verifier, challenge } = await import('../helpers/accounts.ts').then((m) => m.pkce());
    const auth = await s.agent.get(`/auth?${new URLSearchParams({ client_id: idp.config.PORTAL_CLIENT_ID, redirect_uri: new URL('/callback', idp.config.PORTAL_URL).href, response_type: 'code', scope: 'openid producer', state, code_challenge: challenge, code_challenge_method: 'S256', producer_number: '000104201', resource })}`);
    const back = await followToClient(idp, s.agent, auth.headers.location);
    expect(back.redirect, back.page?.text.slice(0, 300)).toBeDefined();
    const mine = await oidc.authorizationCodeGrant(config, back.redirect!, { pkceCodeVerifier: verifier, expectedState: state, idTokenExpected: true });
    expect(mine.claims()!.delegation).toBeUndefined();
    expect((await oidc.fetchUserInfo(config, mine.access_token, averyId)).producer_number).toBe('000104201');
    const ownApi = await oidc.refreshTokenGrant(config, mine.refresh_token!, { resource });
    const claims = decodeJwt(ownApi.access_token);
    expect(claims.sub).toBe(averyId);
    expect(claims.act).toBeUndefined();
  });

  it('single sign-on to another application of the session keeps the choice made there (no page); producer_number still names another', async () => {
    const s = await signedIn('DelAvery01');
    expect(s.page!.text).toContain('Choose who you are working for');
    const choice = /value="([^"]+)"[^>]*>\s*<span><strong>Jordan Ellery/.exec(s.page!.text)![1]!;
    const uid = /action="\/interaction\/([^/]+)\/working_for"/.exec(s.page!.text)![1];
    const chosen = await s.agent.post(`/interaction/${uid}/working_for`).type('form').send({ _csrf: csrf(s.page!.text), working_for: choice });
    expect((await followToClient(idp, s.agent, chosen.headers.location)).redirect).toBeDefined();

    const app = await registerClient(idp.services.db, idp.provider, { name: 'Quote & Enroll', redirectUris: ['https://quote.example.test/cb'], firstParty: true });
    const config = await oidc.discovery(new URL(idp.url), app.client_id as string, undefined, oidc.ClientSecretBasic(app.client_secret as string), { execute: [oidc.allowInsecureRequests] });
    const ssoTo = async (extra: Record<string, string>) => {
      const { verifier, challenge } = pkce();
      const state = `s-${randomBytes(6).toString('hex')}`;
      const auth = await s.agent.get(`/auth?${new URLSearchParams({ client_id: app.client_id as string, redirect_uri: 'https://quote.example.test/cb', response_type: 'code', scope: 'openid', state, code_challenge: challenge, code_challenge_method: 'S256', ...extra })}`);
      const back = await followToClient(idp, s.agent, auth.headers.location);
      expect(back.redirect, back.page?.text.slice(0, 300)).toBeDefined(); // no password, no code, no choice
      return (await oidc.authorizationCodeGrant(config, back.redirect!, { pkceCodeVerifier: verifier, expectedState: state, idTokenExpected: true })).claims()!;
    };
    const sso = await ssoTo({});
    expect(sso.sub).toBe(averyId);
    expect(sso.delegation).toMatchObject({ producer_number: '000104202', producer_name: 'Jordan Ellery' });
    // The client names another producer she may work for: that one, still without a page.
    expect((await ssoTo({ producer_number: '000104201' })).delegation).toBeUndefined();
    // Now the session's applications act for different producers: a third application asks
    // rather than silently take either one (the tester's finding: another client's producer_number
    // changed whom Quote & Enroll worked for).
    const third = await registerClient(idp.services.db, idp.provider, { name: 'Commissions', redirectUris: ['https://commissions.example.test/cb'], firstParty: true });
    const { challenge: c3 } = pkce();
    const ask = await s.agent.get(`/auth?${new URLSearchParams({ client_id: third.client_id as string, redirect_uri: 'https://commissions.example.test/cb', response_type: 'code', scope: 'openid', state: 'st-third', code_challenge: c3, code_challenge_method: 'S256' })}`);
    const asked = await followToClient(idp, s.agent, ask.headers.location);
    expect(asked.redirect).toBeUndefined();
    expect(asked.page!.text).toContain('Choose who you are working for');
    // A producer_number naming none of her choices never falls back on the session's choice: the page.
    const { challenge } = pkce();
    const auth = await s.agent.get(`/auth?${new URLSearchParams({ client_id: app.client_id as string, redirect_uri: 'https://quote.example.test/cb', response_type: 'code', scope: 'openid', state: 'st-unknown', code_challenge: challenge, code_challenge_method: 'S256', producer_number: '000104299' })}`);
    const shown = await followToClient(idp, s.agent, auth.headers.location);
    expect(shown.redirect).toBeUndefined();
    expect(shown.page!.text).toContain('Choose who you are working for');
    expect(shown.page!.text).toContain('producer number 000104299');
  });

  it('removing a delegate ends their sessions, grants and tokens for that producer at once; their account remains', async () => {
    const s = await signedIn('DelCasey01');
    const config = await rp();
    const tokens = await oidc.authorizationCodeGrant(config, s.redirect!, { pkceCodeVerifier: s.verifier, expectedState: s.state, expectedNonce: s.nonce, idTokenExpected: true });
    const api = await oidc.refreshTokenGrant(config, tokens.refresh_token!, { resource });
    caseyOldApiToken = api.access_token;
    // The token names the delegation it was issued under (`delegation.id`).
    const list = await averyAgent.get('/delegates');
    const id = /action="\/delegates\/([^/]+)\/remove"/.exec(list.text)![1];
    expect(decodeJwt(api.access_token).delegation).toMatchObject({ id, producer_number: '000104201' });
    // Refusals: a clear message on the list, nothing changed.
    const unconfirmed = await averyAgent.post(`/delegates/${id}/remove`).type('form').send({ _csrf: csrf(list.text) });
    expect(unconfirmed.status).toBe(422);
    expect(unconfirmed.text).toContain('View/Add My Delegates');
    expect(unconfirmed.text).toContain('The removal was not confirmed, so nothing was changed.');
    const jordansDelegation = (await idp.services.db.selectFrom('delegations').select('id').where('producer_number', '=', '000104202').executeTakeFirstOrThrow()).id;
    for (const other of ['no-such-delegation', jordansDelegation]) {
      const notMine = await averyAgent.post(`/delegates/${other}/remove`).type('form').send({ _csrf: csrf(list.text), confirm: 'yes' });
      expect(notMine.status, other).toBe(404);
      expect(notMine.text).toContain('This delegate was not found among your delegates.');
      const resend = await averyAgent.post(`/delegates/${other}/resend`).type('form').send({ _csrf: csrf(list.text) });
      expect(resend.status, other).toBe(404);
    }
    const notInvited = await averyAgent.post(`/delegates/${id}/resend`).type('form').send({ _csrf: csrf(list.text) });
    expect(notInvited.status).toBe(409);
    expect(notInvited.text).toContain('no invitation to send again');
    expect((await idp.services.db.selectFrom('delegations').select('status').where('id', '=', jordansDelegation).executeTakeFirstOrThrow()).status).toBe('active');
    expect((await idp.services.db.selectFrom('delegations').select('status').where('id', '=', id!).executeTakeFirstOrThrow()).status).toBe('active');

    const removed = await averyAgent.post(`/delegates/${id}/remove`).type('form').send({ _csrf: csrf(list.text), confirm: 'yes' });
    expect(removed.status).toBe(303);
    const twice = await averyAgent.post(`/delegates/${id}/remove`).type('form').send({ _csrf: csrf(list.text), confirm: 'yes' });
    expect(twice.status).toBe(409);
    expect(twice.text).toContain('This delegate was already removed.');
    expect((await averyAgent.get('/delegates')).text).toMatch(/Casey Assistant[\s\S]*Removed/);
    await expect(oidc.refreshTokenGrant(config, api.refresh_token ?? tokens.refresh_token!, { resource })).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.fetchUserInfo(config, tokens.access_token, caseyId)).rejects.toBeDefined();
    const introspected = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(introspected.active).toBe(false);
    const apiCall = await request(idp.server).get('/api/producers/me/hierarchy').set('authorization', `Bearer ${api.access_token}`);
    expect(apiCall.status).toBe(401);
    // The IdP session through which Casey acted is gone: a new authorization asks to log in again.
    const again = await beginSignIn(idp, s.agent);
    expect(again.page.text).toContain('Log In');
    const account = await idp.services.db.selectFrom('accounts').select(['status']).where('id', '=', caseyId).executeTakeFirstOrThrow();
    expect(account.status).toBe('active');
    const events = await idp.services.db.selectFrom('audit_events').select(['account_id']).where('type', '=', 'delegate.removed').execute();
    expect(events.map((e) => e.account_id).sort()).toEqual([averyId, caseyId].sort());
  });

  it('a delegate removed, invited again and accepting again: the JWTs of the old delegation stay refused; new ones work', async () => {
    const link = await invite(averyAgent, DELEGATE_EMAIL, ['view_hierarchy']);
    idp.clock.advance(3601); // past the hour's limit of codes to Casey's address
    // Casey has nobody to work for yet: the page says so and offers Log out, a way to sign in as someone else.
    const stuck = await signedIn('DelCasey01');
    expect(stuck.redirect).toBeUndefined();
    expect(stuck.page!.text).toContain('there is no one to work for');
    expect(stuck.page!.text).toContain('href="/session/end"');
    const logout = await stuck.agent.get('/session/end');
    expect(logout.status).toBe(200);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(logout.text)![1]!;
    const out = await stuck.agent.post('/session/end/confirm').type('form').send({ xsrf, logout: 'yes' });
    const { page: loggedOut } = await followToClient(idp, stuck.agent, out.headers.location ?? '/session/end/success');
    expect(loggedOut!.text).toContain('You have been logged out');
    expect((await beginSignIn(idp, stuck.agent)).page.text).toContain('Log In'); // the next sign-in starts over
    idp.clock.advance(31);

    // Casey signs in (she has nobody to work for now) and accepts with her account.
    const casey = (await signedIn('DelCasey01')).agent;
    const page = await casey.get(new URL(link).pathname + new URL(link).search);
    expect(page.text).toContain('You are logged in as');
    const accepted = await casey.post('/delegates/accept').type('form').send({ _csrf: csrf(page.text), token: new URL(link).searchParams.get('token') });
    expect(accepted.status, accepted.text.slice(0, 400)).toBe(200);
    expect((await averyAgent.get('/delegates')).text).toMatch(/Casey Assistant[\s\S]*Active/);
    const old = await request(idp.server).get('/api/producers/me/hierarchy').set('authorization', `Bearer ${caseyOldApiToken}`);
    expect(old.status).toBe(401);
    expect(old.body.error).toBe('invalid_token');
    expect(old.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    // A token of the new delegation is answered.
    const s = await signedIn('DelCasey01');
    const config = await rp();
    const tokens = await oidc.authorizationCodeGrant(config, s.redirect!, { pkceCodeVerifier: s.verifier, expectedState: s.state, expectedNonce: s.nonce, idTokenExpected: true });
    const api = await oidc.refreshTokenGrant(config, tokens.refresh_token!, { resource });
    expect(decodeJwt(api.access_token).delegation).not.toMatchObject({ id: (decodeJwt(caseyOldApiToken).delegation as { id: string }).id });
    expect((await request(idp.server).get('/api/producers/me/hierarchy').set('authorization', `Bearer ${api.access_token}`)).status).toBe(200);
  });

  it('a producer made inactive makes every delegation for them inactive at once', async () => {
    const s = await signedIn('DelAvery01', { producer_number: '000104202' });
    expect(s.redirect, s.page?.text.slice(0, 300)).toBeDefined();
    const config = await rp();
    const tokens = await oidc.authorizationCodeGrant(config, s.redirect!, { pkceCodeVerifier: s.verifier, expectedState: s.state, expectedNonce: s.nonce, idTokenExpected: true });
    expect(tokens.claims()!.delegation).toMatchObject({ producer_number: '000104202' });
    // What `producers import` does for a record marked inactive.
    const jordan = (await findProducer(idp.services.db, '000104202'))!;
    await idp.services.db.transaction().execute(async (trx) => {
      await upsertProducers(trx, [{ ...jordan, status: 'inactive' }]);
      await endProducerSessions(trx, ['000104202']);
    });
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // Jordan is no longer a choice: a client still naming him gets the page, with Avery herself only.
    const again = await signedIn('DelAvery01', { producer_number: '000104202' });
    expect(again.redirect).toBeUndefined();
    expect(again.page!.text).toContain('Choose who you are working for');
    expect(again.page!.text).not.toContain('Jordan Ellery');
    const uid = /action="\/interaction\/([^/]+)\/working_for"/.exec(again.page!.text)![1];
    const chosen = await again.agent.post(`/interaction/${uid}/working_for`).type('form').send({ _csrf: csrf(again.page!.text), working_for: 'self' });
    const back = await followToClient(idp, again.agent, chosen.headers.location);
    expect(back.redirect, back.page?.text.slice(0, 300)).toBeDefined();
    const mine = await oidc.authorizationCodeGrant(config, back.redirect!, { pkceCodeVerifier: again.verifier, expectedState: again.state, expectedNonce: again.nonce, idTokenExpected: true });
    expect(mine.claims()!.delegation).toBeUndefined();
    // Without producer_number, her only choice settles it: no page.
    idp.clock.advance(3601); // past the hour's limit of codes to her address
    expect((await signedIn('DelAvery01')).redirect).toBeDefined();
  });
  it('changes on the delegate pages (Add Delegate, Resend, Remove, accepting with an account) need a recent sign-in, like My Account', async () => {
    idp.clock.advance(3601); // Avery's codes this hour reached the send limit (5 an hour)
    const avery = (await signedIn('DelAvery01', { producer_number: '000104201' })).agent;
    const list = await avery.get('/delegates');
    const form = await avery.get('/delegates/add');
    const id = /action="\/delegates\/([^/]+)\/remove"/.exec(list.text)![1];
    idp.clock.advance(idp.config.ACCOUNT_REAUTH_SECONDS + 1);
    expect((await avery.get('/delegates')).status).toBe(200); // looking needs no new sign-in
    const add = await avery.post('/delegates/add').type('form').send(`_csrf=${encodeURIComponent(csrf(form.text))}&first_name=Late&last_name=Invite&email=late.invite@example.test&permissions=quote_enroll`);
    expect(add.status).toBe(303);
    expect(add.headers.location).toBe('/account/signin?return=%2Fdelegates%2Fadd&reauth=1');
    const resend = await avery.post(`/delegates/${id}/resend`).type('form').send({ _csrf: csrf(list.text) });
    expect(resend.headers.location).toBe('/account/signin?return=%2Fdelegates&reauth=1');
    const remove = await avery.post(`/delegates/${id}/remove`).type('form').send({ _csrf: csrf(list.text), confirm: 'yes' });
    expect(remove.status).toBe(303);
    expect(remove.headers.location).toBe('/account/signin?return=%2Fdelegates&reauth=1');
    // Nothing changed, nothing sent.
    expect(await idp.services.db.selectFrom('delegations').select('id').where('email', '=', 'late.invite@example.test').execute()).toEqual([]);
    expect(idp.smtp.to('late.invite@example.test')).toEqual([]);
    expect((await idp.services.db.selectFrom('delegations').select('status').where('id', '=', id!).executeTakeFirstOrThrow()).status).toBe('active');

    // Signing in again (prompt=login) comes back to the page, and the change then works.
    const signin = await avery.get(add.headers.location);
    const auth = new URL(signin.headers.location, idp.url);
    expect(auth.searchParams.get('prompt')).toBe('login');
    const { page: login } = await followToClient(idp, avery, signin.headers.location);
    const uid = /action="\/interaction\/([^/]+)\/login"/.exec(login!.text)![1]!;
    idp.clock.advance(31);
    const done = await signIn(idp, avery, uid, 'DelAvery01');
    const { page: back } = await followToClient(idp, avery, done.headers.location);
    expect(back!.text).toContain('Add Delegate');
    const added = await avery.post('/delegates/add').type('form').send(`_csrf=${encodeURIComponent(csrf(back!.text))}&first_name=Late&last_name=Invite&email=late.invite@example.test&permissions=quote_enroll`);
    expect(added.headers.location).toBe('/delegates?done=added');

    // Accepting an invitation with an account signed in long ago: sign in again first, then back to the invitation.
    await expect.poll(() => idp.smtp.to('late.invite@example.test').length).toBe(1);
    const link = new URL(/(http:\/\/\S+\/delegates\/accept\?token=[A-Za-z0-9_-]+)/.exec(idp.smtp.to('late.invite@example.test')[0]!.text)![1]!);
    await createAccount(idp, { producerNumber: '000104203', username: 'DelMorgan01' });
    const morgan = (await signedIn('DelMorgan01')).agent;
    idp.clock.advance(idp.config.ACCOUNT_REAUTH_SECONDS + 1);
    const invitation = await morgan.get(link.pathname + link.search);
    const stale = await morgan.post('/delegates/accept').type('form').send({ _csrf: csrf(invitation.text), token: link.searchParams.get('token') });
    expect(stale.status).toBe(303);
    expect(stale.headers.location).toBe(`/account/signin?${new URLSearchParams({ return: link.pathname + link.search, reauth: '1' })}`);
    expect((await idp.services.db.selectFrom('delegations').select('status').where('email', '=', 'late.invite@example.test').executeTakeFirstOrThrow()).status).toBe('invited');
  });
  it('an invitation whose link expired shows as "Invitation expired" with Resend, which sends a fresh link', async () => {
    // late.invite@example.test was invited in the test before and never accepted.
    idp.clock.advance(idp.config.DELEGATE_INVITATION_TTL_SECONDS + 1);
    const avery = (await signedIn('DelAvery01', { producer_number: '000104201' })).agent;
    const list = await avery.get('/delegates');
    const row = /<tr data-delegate="late\.invite@example\.test">([\s\S]*?)<\/tr>/.exec(list.text)![1]!;
    expect(row).toContain('Invitation expired');
    const id = /action="\/delegates\/([^/]+)\/resend"/.exec(row)![1]!;
    const before = idp.smtp.to('late.invite@example.test').length;
    const resent = await avery.post(`/delegates/${id}/resend`).type('form').send({ _csrf: csrf(list.text) });
    expect(resent.headers.location).toBe('/delegates?done=resent');
    await expect.poll(() => idp.smtp.to('late.invite@example.test').length).toBe(before + 1);
    const fresh = new URL(/(http:\/\/\S+\/delegates\/accept\?token=[A-Za-z0-9_-]+)/.exec(idp.smtp.to('late.invite@example.test').at(-1)!.text)![1]!);
    expect((await request(idp.server).get(fresh.pathname + fresh.search)).status).toBe(200);
    const after = /<tr data-delegate="late\.invite@example\.test">([\s\S]*?)<\/tr>/.exec((await avery.get('/delegates')).text)![1]!;
    expect(after).toMatch(/<td>Invited<\/td>/);
  });

  it('a delegation id spelled like the invitation pages ("accept", "register") is an unknown delegation, never an error', async () => {
    const paths = ['/delegates/accept/remove', '/delegates/accept/resend', '/delegates/register/remove', '/delegates/register/resend'];
    const anonymous = request.agent(idp.server);
    const token = csrf((await anonymous.get('/forgot-username')).text);
    for (const path of paths) {
      const res = await anonymous.post(path).type('form').send({ _csrf: token, confirm: 'yes' });
      expect([path, res.status]).toEqual([path, 303]); // to sign in first
    }
    const jordan = request.agent(idp.server);
    await signInAtIdpPage(idp, jordan, '/delegates', 'DelAvery01', 'avery.quinlan@example.com');
    const mine = csrf((await jordan.get('/forgot-username')).text);
    for (const path of paths) {
      const res = await jordan.post(path).type('form').send({ _csrf: mine, confirm: 'yes' });
      expect([path, res.status]).toEqual([path, 404]);
    }
  });

  it("the producer opening their own invitation is told at once that it is theirs: no button to press", async () => {
    const avery = request.agent(idp.server);
    await signInAtIdpPage(idp, avery, '/delegates', 'DelAvery01', 'avery.quinlan@example.com');
    const link = await invite(avery, 'own.check@example.test', ['quote_enroll']);
    const page = await avery.get(new URL(link).pathname + new URL(link).search);
    expect(page.status).toBe(200);
    expect(page.text).toContain('This invitation was sent by you; it cannot be accepted by your own account.');
    expect(page.text).not.toContain('Accept Invitation</button>');
    // Anyone else still gets the button.
    const other = await request(idp.server).get(new URL(link).pathname + new URL(link).search);
    expect(other.text).toContain('Accept Invitation</button>');
  });
});
