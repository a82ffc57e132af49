import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerClient, InvalidClientError } from '../../src/oidc/clients.ts';
import { beginSignIn, createAccount, csrf, followToClient, pkce, portalRedirect, signIn } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';

let idp: TestIdp;
beforeAll(async () => {
  idp = await startIdp();
  await createAccount(idp, { producerNumber: '000104201', username: 'AveryOidc1' });
});
afterAll(async () => {
  await idp?.stop();
});

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** Signs AveryOidc1 in through the portal client and returns the code and PKCE verifier. */
async function codeForPortal(): Promise<{ code: string; verifier: string }> {
  const agent = request.agent(idp.server);
  const { uid, verifier } = await beginSignIn(idp, agent);
  const res = await signIn(idp, agent, uid, 'AveryOidc1');
  const { redirect } = await followToClient(idp, agent, res.headers.location);
  return { code: redirect!.searchParams.get('code')!, verifier };
}

function redeem(code: string, verifier: string) {
  return request(idp.server)
    .post('/token')
    .set('authorization', basic(idp.config.PORTAL_CLIENT_ID, idp.config.PORTAL_CLIENT_SECRET))
    .type('form')
    .send({ grant_type: 'authorization_code', code, redirect_uri: portalRedirect(idp), code_verifier: verifier });
}

describe('OpenID Connect protocol', () => {
  it('publishes discovery and ES256 + RS256 signing keys (JWKS)', async () => {
    const d = await request(idp.server).get('/.well-known/openid-configuration');
    expect(d.body.issuer).toBe(idp.url);
    expect(d.body.code_challenge_methods_supported).toEqual(['S256']);
    expect(d.body.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'email', 'phone', 'producer']));
    expect(d.body.end_session_endpoint).toBeTruthy();
    const jwks = await request(idp.server).get('/jwks');
    expect(jwks.body.keys.map((k: { alg: string }) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    expect(jwks.body.keys.every((k: Record<string, unknown>) => !('d' in k))).toBe(true);
  });

  it('an authorization code is redeemed once, even by two parallel requests (RFC 6749 §4.1.2)', async () => {
    const { code, verifier } = await codeForPortal();
    const [a, b] = await Promise.all([redeem(code, verifier), redeem(code, verifier)]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([200, 400]);
    const failed = a.status === 400 ? a : b;
    expect(failed.body.error).toBe('invalid_grant');
    const ok = a.status === 200 ? a : b;
    expect(ok.body.id_token).toBeTruthy();
    expect(ok.body.refresh_token).toBeTruthy();
  });

  it('rejects a wrong PKCE verifier and a redirect URI that is not an exact match', async () => {
    const { code } = await codeForPortal();
    const bad = await redeem(code, pkce().verifier);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_grant');
    const auth = await request(idp.server).get('/auth').query({
      client_id: idp.config.PORTAL_CLIENT_ID, redirect_uri: portalRedirect(idp) + '/', response_type: 'code', scope: 'openid',
      code_challenge: pkce().challenge, code_challenge_method: 'S256',
    });
    expect(auth.status).toBe(400);
    expect(auth.text).toContain('redirect_uri');
  });

  it('releases producer claims under the producer scope at userinfo', async () => {
    const { code, verifier } = await codeForPortal();
    const tokens = await redeem(code, verifier);
    const info = await request(idp.server).get('/me').set('authorization', `Bearer ${tokens.body.access_token}`);
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({
      name: 'Avery Quinlan', given_name: 'Avery', family_name: 'Quinlan', email: 'avery.quinlan@example.com', email_verified: true,
      phone_number: '+13125550101', producer_number: '000104201', npn: '19000001', agency_name: 'Lakeside Insurance Group',
    });
  });

  it('a public client must use PKCE', async () => {
    const client = await registerClient(idp.services.db, idp.provider, { name: 'Mobile app', redirectUris: ['https://app.example.com/cb'], public: true, firstParty: true });
    expect(client.client_secret).toBeUndefined();
    const res = await request(idp.server).get('/auth').query({ client_id: client.client_id, redirect_uri: 'https://app.example.com/cb', response_type: 'code', scope: 'openid', state: 'x' });
    expect(res.status).toBe(303);
    const loc = new URL(res.headers.location);
    expect(loc.searchParams.get('error')).toBe('invalid_request');
    expect(loc.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  it('refuses invalid client metadata', async () => {
    await expect(registerClient(idp.services.db, idp.provider, { name: 'Bad', redirectUris: ['https://app.example.com/cb#frag'] })).rejects.toBeInstanceOf(InvalidClientError);
  });

  it('third-party clients get a consent page; first-party clients do not', async () => {
    const client = await registerClient(idp.services.db, idp.provider, { name: 'Agency CRM', redirectUris: ['https://crm.example.com/cb'] });
    const agent = request.agent(idp.server);
    const { challenge } = pkce();
    const auth = await agent.get('/auth').query({ client_id: client.client_id, redirect_uri: 'https://crm.example.com/cb', response_type: 'code', scope: 'openid producer', code_challenge: challenge, code_challenge_method: 'S256', state: 's1' });
    const uid = auth.headers.location.split('/').pop();
    const login = await signIn(idp, agent, uid!, 'AveryOidc1');
    const { page } = await followToClient(idp, agent, login.headers.location);
    expect(page!.text).toContain('Allow access?');
    expect(page!.text).toContain('Agency CRM');
    expect(page!.text).toContain('Your producer number, NPN and agency');
    const consentUid = /action="\/interaction\/([^/]+)\/consent"/.exec(page!.text)![1];
    const deny = await agent.post(`/interaction/${consentUid}/consent`).type('form').send({ _csrf: csrf(page!.text), decision: 'deny' });
    const denied = await followToClient(idp, agent, deny.headers.location);
    expect(denied.redirect!.origin).toBe('https://crm.example.com');
    expect(denied.redirect!.searchParams.get('error')).toBe('access_denied');
  });

  it('NUL characters in protocol parameters get the OAuth error format with a 4xx, never a 500', async () => {
    const auth = await request(idp.server).get('/auth').query({ client_id: 'a\u0000b', redirect_uri: portalRedirect(idp), response_type: 'code', scope: 'openid' });
    expect(auth.status).toBeGreaterThanOrEqual(400);
    expect(auth.status).toBeLessThan(500);
    const state = await request(idp.server).get('/auth').query({
      client_id: idp.config.PORTAL_CLIENT_ID, redirect_uri: portalRedirect(idp), response_type: 'code', scope: 'openid', state: '\u0000',
      code_challenge: pkce().challenge, code_challenge_method: 'S256',
    });
    expect(state.status).toBeLessThan(500);
    const token = await request(idp.server).post('/token').set('authorization', basic(idp.config.PORTAL_CLIENT_ID, idp.config.PORTAL_CLIENT_SECRET))
      .type('form').send({ grant_type: 'authorization_code', code: 'abc\u0000', redirect_uri: portalRedirect(idp), code_verifier: pkce().verifier });
    expect(token.status).toBe(400);
    expect(token.body.error).toBe('invalid_grant');
    const badClient = await request(idp.server).post('/token').set('authorization', basic('x\u0000y', 'secret')).type('form').send({ grant_type: 'refresh_token', refresh_token: 'r' });
    expect([400, 401]).toContain(badClient.status);
    expect(['invalid_client', 'invalid_request']).toContain(badClient.body.error);
  });

  it('response_mode=form_post works under the CSP: its inline script is allowed by hash, and it may post to the client', async () => {
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent, { response_mode: 'form_post' });
    const res = await signIn(idp, agent, uid, 'AveryOidc1');
    const resume = await agent.get(new URL(res.headers.location, idp.url).pathname);
    expect(resume.status).toBe(200);
    expect(resume.text).toContain('Submitting Callback');
    const csp = resume.headers['content-security-policy'];
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toContain('form-action');
    expect(csp).toContain("frame-ancestors 'none'");
  });

  it('refuses wildcard and plain-http redirect URIs at registration', async () => {
    await expect(registerClient(idp.services.db, idp.provider, { name: 'Wild', redirectUris: ['https://*.example.com/cb'] })).rejects.toThrow(/wildcards/);
    await expect(registerClient(idp.services.db, idp.provider, { name: 'Plain', redirectUris: ['http://crm.example.com/cb'] })).rejects.toThrow(/https/);
    await expect(registerClient(idp.services.db, idp.provider, { name: 'x'.repeat(101), redirectUris: ['https://crm.example.com/cb'] })).rejects.toThrow(/client_name/);
  });

  it('reloading the URL of a submitted step (a GET) shows the current step', async () => {
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent);
    const r = await agent.get(`/interaction/${uid}/login`);
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe(`/interaction/${uid}`);
  });

  it('a POST for a step that is not current goes back to the current step', async () => {
    const agent = request.agent(idp.server);
    const { uid, page } = await beginSignIn(idp, agent);
    const r = await agent.post(`/interaction/${uid}/terms`).type('form').send({ _csrf: csrf(page.text), decision: 'accept' });
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe(`/interaction/${uid}`);
  });
});
