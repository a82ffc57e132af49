import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeAccountStatus as setAccountStatus, endAccessAfterPasswordReset } from '../../src/oidc/revocation.ts';
import { endProducerSessions } from '../../src/oidc/revocation.ts';
import { registerClient, rotateClientSecret } from '../../src/oidc/clients.ts';
import { createInitialAccessToken, revokeInitialAccessToken } from '../../src/oidc/registration.ts';
import { addResource } from '../../src/oidc/resources.ts';
import { KEY_RETIRE_AFTER_SECONDS, listSigningKeys, refreshProviderKeys, rotateSigningKeys } from '../../src/oidc/keys.ts';
import { createAccount, csrf, followToClient, pkce, signIn } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';

let idp: TestIdp;
let accountId: string;
const insecure = { execute: [oidc.allowInsecureRequests] };

/** A real HTTP receiver for back-channel logout tokens (and a JWKS for private_key_jwt). */
interface Receiver {
  url: string;
  server: Server;
  tokens: string[];
  /** Status answered to the next POSTs, in order (then 204). */
  failFirst: number[];
  jwks?: unknown;
  waitForTokens(n: number): Promise<string[]>;
}
let rp: Receiver;

async function startReceiver(): Promise<Receiver> {
  const r: Receiver = {
    url: '', server: createServer(), tokens: [], failFirst: [],
    async waitForTokens(n) {
      for (let i = 0; i < 200 && r.tokens.length < n; i++) await new Promise((res) => setTimeout(res, 50));
      return r.tokens;
    },
  };
  r.server.on('request', (req, res) => {
    if (req.method === 'GET' && req.url === '/jwks') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(r.jwks));
      return;
    }
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => {
      const status = r.failFirst.shift();
      if (status) {
        res.statusCode = status;
        res.end();
        return;
      }
      r.tokens.push(new URLSearchParams(body).get('logout_token') ?? '');
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', () => resolve()));
  r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}`;
  return r;
}

beforeAll(async () => {
  idp = await startIdp({ BACKCHANNEL_LOGOUT_BACKOFF_SECONDS: 1, BACKCHANNEL_LOGOUT_ATTEMPTS: 3 });
  accountId = await createAccount(idp, { producerNumber: '000104201', username: 'AveryIntegr1' });
  rp = await startReceiver();
});
afterAll(async () => {
  await idp?.stop();
  await new Promise((resolve) => rp?.server.close(resolve));
});

async function discover(clientId: string, metadata: Partial<oidc.ClientMetadata> = {}, auth?: oidc.ClientAuth): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(idp.url), clientId, metadata, auth, insecure);
}

/** The status and OAuth error of a refused openid-client call (body or WWW-Authenticate challenge). */
async function refusal(p: Promise<unknown>): Promise<{ status: number; error: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { status?: number; error?: string; cause?: { parameters?: { error?: string } }[] };
    return { status: err.status ?? 0, error: err.error ?? err.cause?.[0]?.parameters?.error ?? String(e) };
  }
  throw new Error('expected the request to be refused');
}

async function clientPayload(clientId: string): Promise<Record<string, unknown> | undefined> {
  const row = await idp.services.db.selectFrom('oidc_payloads').select('payload').where('model', '=', 'Client').where('id', '=', clientId).executeTakeFirst();
  return row?.payload as Record<string, unknown> | undefined;
}

/** Signs AveryIntegr1 in for `config`'s client through the real pages; returns the token response. */
async function signInWith(config: oidc.Configuration, redirectUri: string, extra: Record<string, string> = {}, tokenParams: Record<string, string> = {}) {
  const agent = request.agent(idp.server);
  idp.clock.advance(3600); // a new hour: the per-hour limit of verification codes does not apply
  const { verifier, challenge } = pkce();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, { redirect_uri: redirectUri, scope: 'openid profile', code_challenge: challenge, code_challenge_method: 'S256', state, ...extra });
  const auth = await agent.get(url.pathname + url.search);
  const uid = new URL(auth.headers.location, idp.url).pathname.split('/')[2]!;
  const login = await signIn(idp, agent, uid, 'AveryIntegr1');
  let { redirect, page } = await followToClient(idp, agent, login.headers.location);
  if (!redirect && page?.text.includes('/consent')) {
    const consentUid = /action="\/interaction\/([^/]+)\/consent"/.exec(page.text)![1];
    const allow = await agent.post(`/interaction/${consentUid}/consent`).type('form').send({ _csrf: csrf(page.text), decision: 'allow' });
    ({ redirect, page } = await followToClient(idp, agent, allow.headers.location));
  }
  if (!redirect) throw new Error(`no redirect: ${page?.status} ${page?.text.slice(0, 300)}`);
  const tokens = await oidc.authorizationCodeGrant(config, redirect, { pkceCodeVerifier: verifier, expectedState: state }, tokenParams);
  return { tokens, agent };
}

describe('discovery tells the truth (issue 10 item 10)', () => {
  it('lists only usable client authentication methods and the integrator endpoints', async () => {
    const d = (await request(idp.server).get('/.well-known/openid-configuration')).body;
    expect(d.token_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']);
    // No *_supported list names anything symmetric (HS*): every secret is stored hashed.
    for (const [key, value] of Object.entries(d)) {
      if (key.endsWith('_alg_values_supported')) expect((value as string[]).filter((a) => a.startsWith('HS')), key).toEqual([]);
    }
    expect(d.token_endpoint_auth_signing_alg_values_supported.some((a: string) => a.startsWith('HS'))).toBe(false);
    expect(d.id_token_signing_alg_values_supported).toEqual(['ES256', 'RS256']);
    expect(d.registration_endpoint).toBe(`${idp.url}/reg`);
    expect(d.introspection_endpoint).toBe(`${idp.url}/token/introspection`);
    expect(d.revocation_endpoint).toBe(`${idp.url}/token/revocation`);
    expect(d.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials']));
    expect(d.backchannel_logout_supported).toBe(true);
    expect(d.backchannel_logout_session_supported).toBe(true);
  });
});

describe('client authentication as registered (item 7)', () => {
  it('client_secret_basic only with Basic, client_secret_post only in the body; the secret is stored hashed', async () => {
    await addResource(idp.services.db, 'https://api.example.com/quotes', ['quotes:read']);
    const basic = await registerClient(idp.services.db, idp.provider, { name: 'Quotes batch', redirectUris: [], grant: 'client_credentials', scope: 'quotes:read' });
    const post = await registerClient(idp.services.db, idp.provider, { name: 'Quotes batch (post)', redirectUris: [], grant: 'client_credentials', scope: 'quotes:read', tokenEndpointAuthMethod: 'client_secret_post' });
    const secret = basic.client_secret as string;
    const stored = await clientPayload(basic.client_id as string);
    expect(stored!.client_secret).toMatch(/^\$sha256\$[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(secret);

    const ok = await oidc.clientCredentialsGrant(await discover(basic.client_id as string, {}, oidc.ClientSecretBasic(secret)), { scope: 'quotes:read' });
    expect(ok.access_token).toBeTruthy();
    const wrongWay = discover(basic.client_id as string, {}, oidc.ClientSecretPost(secret)).then((c) => oidc.clientCredentialsGrant(c, { scope: 'quotes:read' }));
    expect(await refusal(wrongWay)).toEqual({ status: 401, error: 'invalid_client' });

    const postOk = await oidc.clientCredentialsGrant(await discover(post.client_id as string, {}, oidc.ClientSecretPost(post.client_secret as string)), { scope: 'quotes:read' });
    expect(postOk.access_token).toBeTruthy();
    const postAsBasic = discover(post.client_id as string, {}, oidc.ClientSecretBasic(post.client_secret as string)).then((c) => oidc.clientCredentialsGrant(c, { scope: 'quotes:read' }));
    expect(await refusal(postAsBasic)).toEqual({ status: 401, error: 'invalid_client' });
    // The stored hash itself is not a secret that works.
    const hashAsSecret = discover(basic.client_id as string, {}, oidc.ClientSecretBasic(stored!.client_secret as string)).then((c) => oidc.clientCredentialsGrant(c, { scope: 'quotes:read' }));
    expect(await refusal(hashAsSecret)).toEqual({ status: 401, error: 'invalid_client' });
  });

  it('rotate-secret gives a new secret; the old one stops working', async () => {
    const c = await registerClient(idp.services.db, idp.provider, { name: 'Rotating batch', redirectUris: [], grant: 'client_credentials', scope: 'quotes:read' });
    const fresh = await rotateClientSecret(idp.services.db, c.client_id as string);
    expect(fresh).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(fresh).not.toBe(c.client_secret);
    expect(await refusal(discover(c.client_id as string, {}, oidc.ClientSecretBasic(c.client_secret as string)).then((cfg) => oidc.clientCredentialsGrant(cfg, { scope: 'quotes:read' })))).toEqual({ status: 401, error: 'invalid_client' });
    const ok = await oidc.clientCredentialsGrant(await discover(c.client_id as string, {}, oidc.ClientSecretBasic(fresh!)), { scope: 'quotes:read' });
    expect(ok.access_token).toBeTruthy();
  });

  it('private_key_jwt with a registered jwks, and with a jwks_uri', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const inline = await registerClient(idp.services.db, idp.provider, { name: 'Key batch', redirectUris: [], grant: 'client_credentials', scope: 'quotes:read', tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [jwk] } });
    expect(inline.client_secret).toBeUndefined();
    const tokens = await oidc.clientCredentialsGrant(await discover(inline.client_id as string, {}, oidc.PrivateKeyJwt({ key: privateKey, kid: 'k1' })), { scope: 'quotes:read' });
    expect(tokens.access_token).toBeTruthy();

    rp.jwks = { keys: [jwk] };
    const remote = await registerClient(idp.services.db, idp.provider, { name: 'Key batch (uri)', redirectUris: [], grant: 'client_credentials', scope: 'quotes:read', tokenEndpointAuthMethod: 'private_key_jwt', jwksUri: `${rp.url}/jwks` });
    const viaUri = await oidc.clientCredentialsGrant(await discover(remote.client_id as string, {}, oidc.PrivateKeyJwt({ key: privateKey, kid: 'k1' })), { scope: 'quotes:read' });
    expect(viaUri.access_token).toBeTruthy();
    // A secret is no way in for a private_key_jwt client.
    expect(await refusal(discover(inline.client_id as string, {}, oidc.ClientSecretBasic('x'.repeat(43))).then((c) => oidc.clientCredentialsGrant(c, { scope: 'quotes:read' })))).toEqual({ status: 401, error: 'invalid_client' });
  });

  it('ID tokens of a new client are ES256-signed; a client registered for RS256 gets RS256', async () => {
    const es = await registerClient(idp.services.db, idp.provider, { name: 'ES app', redirectUris: ['https://es.example.com/cb'], firstParty: true });
    expect(es.id_token_signed_response_alg).toBe('ES256');
    const { tokens } = await signInWith(await discover(es.client_id as string, {}, oidc.ClientSecretBasic(es.client_secret as string)), 'https://es.example.com/cb');
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('ES256');
    const rs = await registerClient(idp.services.db, idp.provider, { name: 'RS app', redirectUris: ['https://rs.example.com/cb'], firstParty: true, idTokenSignedResponseAlg: 'RS256' });
    const rsTokens = await signInWith(await discover(rs.client_id as string, { id_token_signed_response_alg: 'RS256' }, oidc.ClientSecretBasic(rs.client_secret as string)), 'https://rs.example.com/cb');
    expect(decodeProtectedHeader(rsTokens.tokens.id_token!).alg).toBe('RS256');
  });
});

describe('dynamic client registration (RFC 7591) and management (RFC 7592) (item 1)', () => {
  it('registers with an initial access token, reads, updates and deletes with the registration access token', async () => {
    const { initial_access_token: iat, expires_at } = await createInitialAccessToken(idp.provider, 600);
    expect(new Date(expires_at).getTime()).toBeGreaterThan(Date.now() + 590_000);
    const config = await oidc.dynamicClientRegistration(new URL(idp.url), {
      client_name: 'Agency Mobile', redirect_uris: ['https://mobile.example.com/cb'], grant_types: ['authorization_code', 'refresh_token'],
    }, undefined, { ...insecure, initialAccessToken: iat });
    const meta = config.clientMetadata();
    expect(meta.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(meta.registration_access_token).toBeTruthy();
    expect(meta.registration_client_uri).toBe(`${idp.url}/reg/${meta.client_id}`);
    expect(meta.first_party).toBe(false);
    expect(meta.registered_by).toBe('dynamic_registration');
    expect(meta.id_token_signed_response_alg).toBe('ES256');
    expect((await clientPayload(meta.client_id))!.client_secret).toMatch(/^\$sha256\$/);

    // RFC 7592 read: the record, never the stored hash.
    const read = await request(idp.server).get(new URL(meta.registration_client_uri as string).pathname).set('authorization', `Bearer ${meta.registration_access_token}`);
    expect(read.status).toBe(200);
    expect(read.body.client_id).toBe(meta.client_id);
    expect(read.body.client_secret).toBeUndefined();

    // RFC 7592 update (with its own client_secret, §2.2): rotates the registration access token.
    const put = await request(idp.server).put(`/reg/${meta.client_id}`).set('authorization', `Bearer ${meta.registration_access_token}`)
      .send({ client_id: meta.client_id, client_secret: meta.client_secret, client_name: 'Agency Mobile 2', redirect_uris: ['https://mobile.example.com/cb2'] });
    expect(put.status).toBe(200);
    expect(put.body.client_name).toBe('Agency Mobile 2');
    expect(put.body.client_secret).toBeUndefined();
    const rat2 = put.body.registration_access_token as string;
    expect(rat2).not.toBe(meta.registration_access_token);
    const badPut = await request(idp.server).put(`/reg/${meta.client_id}`).set('authorization', `Bearer ${rat2}`)
      .send({ client_id: meta.client_id, client_secret: 'not-the-secret', redirect_uris: ['https://mobile.example.com/cb2'] });
    expect(badPut.status).toBe(400);
    const firstParty = await request(idp.server).put(`/reg/${meta.client_id}`).set('authorization', `Bearer ${rat2}`)
      .send({ client_id: meta.client_id, first_party: true, redirect_uris: ['https://mobile.example.com/cb2'] });
    expect(firstParty.status).toBe(400);
    expect(firstParty.body.error).toBe('invalid_client_metadata');

    // The secret still works at the token endpoint after the update.
    const cfg = await discover(meta.client_id, {}, oidc.ClientSecretBasic(meta.client_secret as string));
    const { tokens } = await signInWith(cfg, 'https://mobile.example.com/cb2');
    expect(tokens.access_token).toBeTruthy();

    const del = await request(idp.server).delete(`/reg/${meta.client_id}`).set('authorization', `Bearer ${rat2}`);
    expect(del.status).toBe(204);
    expect(await clientPayload(meta.client_id)).toBeUndefined();
  });

  it('a dynamically registered client is third-party: the consent page is shown', async () => {
    const { initial_access_token: iat } = await createInitialAccessToken(idp.provider, 600);
    const res = await request(idp.server).post('/reg').set('authorization', `Bearer ${iat}`).send({ redirect_uris: ['https://thirdparty.example.com/cb'], client_name: 'Third Party CRM' });
    expect(res.status).toBe(201);
    const agent = request.agent(idp.server);
    const { challenge } = pkce();
    const auth = await agent.get('/auth').query({ client_id: res.body.client_id, redirect_uri: 'https://thirdparty.example.com/cb', response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' });
    const uid = auth.headers.location.split('/').pop();
    const login = await signIn(idp, agent, uid!, 'AveryIntegr1');
    const { page } = await followToClient(idp, agent, login.headers.location);
    expect(page!.text).toContain('Allow access?');
    expect(page!.text).toContain('Third Party CRM');
  });

  it('refuses bad metadata in the RFC 7591 format and stores nothing; first_party cannot be registered', async () => {
    const count = async () => (await idp.services.db.selectFrom('oidc_payloads').select(({ fn }) => fn.countAll<string>().as('n')).where('model', '=', 'Client').executeTakeFirstOrThrow()).n;
    const before = await count();
    const { initial_access_token: iat } = await createInitialAccessToken(idp.provider, 600);
    const post = (body: unknown) => request(idp.server).post('/reg').set('authorization', `Bearer ${iat}`).send(body as object);
    for (const uri of ['https://a.example.com/cb#x', 'http://a.example.com/cb', 'javascript:alert(1)', 'https://*.example.com/cb']) {
      const res = await post({ redirect_uris: [uri] });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_redirect_uri');
      expect(res.body.error_description).toBeTruthy();
    }
    const fp = await post({ redirect_uris: ['https://a.example.com/cb'], first_party: true });
    expect(fp.status).toBe(400);
    expect(fp.body.error).toBe('invalid_client_metadata');
    const cc = await post({ grant_types: ['client_credentials'], scope: 'openid quotes:read' });
    expect(cc.body.error).toBe('invalid_client_metadata');
    const notJson = await request(idp.server).post('/reg').set('authorization', `Bearer ${iat}`).set('content-type', 'application/json').send('{"redirect_uris": [');
    expect(notJson.status).toBe(400);
    expect(await count()).toBe(before);
  });

  it('an expired, used or revoked initial access token gets 401', async () => {
    const body = { redirect_uris: ['https://b.example.com/cb'] };
    const short = await createInitialAccessToken(idp.provider, 1);
    await new Promise((r) => setTimeout(r, 2100));
    const expired = await request(idp.server).post('/reg').set('authorization', `Bearer ${short.initial_access_token}`).send(body);
    expect(expired.status).toBe(401);
    expect(expired.body.error).toBe('invalid_token');

    const revoked = await createInitialAccessToken(idp.provider, 600);
    expect(await revokeInitialAccessToken(idp.provider, revoked.initial_access_token)).toBe(true);
    expect((await request(idp.server).post('/reg').set('authorization', `Bearer ${revoked.initial_access_token}`).send(body)).status).toBe(401);

    const once = await createInitialAccessToken(idp.provider, 600);
    expect((await request(idp.server).post('/reg').set('authorization', `Bearer ${once.initial_access_token}`).send(body)).status).toBe(201);
    await idp.services.settle();
    expect((await request(idp.server).post('/reg').set('authorization', `Bearer ${once.initial_access_token}`).send(body)).status).toBe(401);
    expect((await request(idp.server).post('/reg').send(body)).status).toBe(401);
  });
});

describe('machine-to-machine and JWT access tokens for APIs (items 2 and 3)', () => {
  it('client_credentials with a resource gets an RFC 9068 JWT verified against /jwks; without one an opaque token', async () => {
    // Registered while the IdP runs: served at once.
    await addResource(idp.services.db, 'https://api.example.com/claims', ['claims:read', 'claims:write'], 600);
    const c = await registerClient(idp.services.db, idp.provider, { name: 'Claims sync', redirectUris: [], grant: 'client_credentials', scope: 'claims:read claims:write' });
    const config = await discover(c.client_id as string, {}, oidc.ClientSecretBasic(c.client_secret as string));
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'claims:read', resource: 'https://api.example.com/claims' });
    const jwks = createRemoteJWKSet(new URL(`${idp.url}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, { issuer: idp.url, audience: 'https://api.example.com/claims', typ: 'at+jwt' });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload).toMatchObject({ client_id: c.client_id, scope: 'claims:read', sub: c.client_id });
    expect(payload.exp! - payload.iat!).toBe(600);
    expect(tokens.expires_in).toBe(600);

    const opaque = await oidc.clientCredentialsGrant(config, { scope: 'claims:read' });
    expect(opaque.access_token.split('.')).toHaveLength(1);
    await expect(oidc.clientCredentialsGrant(config, { scope: 'claims:read', resource: 'https://api.example.com/unknown' })).rejects.toMatchObject({ error: 'invalid_target' });
    await expect(oidc.clientCredentialsGrant(config, { scope: 'openid' })).rejects.toMatchObject({ error: 'invalid_scope' });
  });

  it('a person\'s token for a resource carries sub, aud, scope and client_id', async () => {
    await addResource(idp.services.db, 'https://api.example.com/commissions', ['commissions:read']);
    const c = await registerClient(idp.services.db, idp.provider, { name: 'Commissions app', redirectUris: ['https://commissions.example.com/cb'], firstParty: true });
    const config = await discover(c.client_id as string, {}, oidc.ClientSecretBasic(c.client_secret as string));
    const resource = 'https://api.example.com/commissions';
    const { tokens } = await signInWith(config, 'https://commissions.example.com/cb', { scope: 'openid commissions:read', resource }, { resource });
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${idp.url}/jwks`)), { issuer: idp.url, audience: resource, typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: accountId, client_id: c.client_id, scope: 'commissions:read' });
  });
});

describe('introspection (RFC 7662) and revocation (RFC 7009) (item 4)', () => {
  it('introspects active tokens; revoking a refresh token ends the access tokens of its grant; disabling the account ends all', async () => {
    const c = await registerClient(idp.services.db, idp.provider, { name: 'Introspecting app', redirectUris: ['https://intro.example.com/cb'], firstParty: true });
    const config = await discover(c.client_id as string, {}, oidc.ClientSecretBasic(c.client_secret as string));
    const { tokens } = await signInWith(config, 'https://intro.example.com/cb');
    const active = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(active).toMatchObject({ active: true, client_id: c.client_id, sub: accountId, token_type: 'Bearer' });
    expect((await oidc.tokenIntrospection(config, tokens.refresh_token!)).active).toBe(true);

    await oidc.tokenRevocation(config, tokens.refresh_token!);
    expect((await oidc.tokenIntrospection(config, tokens.refresh_token!)).active).toBe(false);
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

    // Unauthenticated introspection is refused.
    const anon = await request(idp.server).post('/token/introspection').type('form').send({ token: tokens.access_token });
    expect(anon.status).toBe(400);

    const second = await signInWith(config, 'https://intro.example.com/cb');
    expect((await oidc.tokenIntrospection(config, second.tokens.access_token)).active).toBe(true);
    await setAccountStatus(idp.services.db, accountId, 'disabled');
    try {
      expect((await oidc.tokenIntrospection(config, second.tokens.access_token)).active).toBe(false);
      expect((await oidc.tokenIntrospection(config, second.tokens.refresh_token!)).active).toBe(false);
    } finally {
      await setAccountStatus(idp.services.db, accountId, 'active');
    }
  });
});

describe('back-channel logout (item 5)', () => {
  async function logoutTokenClaims(token: string, clientId: string) {
    const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(`${idp.url}/jwks`)), { issuer: idp.url, audience: clientId, typ: 'logout+jwt' });
    expect(protectedHeader.alg).toBe('ES256');
    return payload;
  }

  it('RP-initiated logout: every relying party of the session gets a logout token (events, sid, no nonce)', async () => {
    rp.tokens.length = 0;
    const c = await registerClient(idp.services.db, idp.provider, {
      name: 'Logout app', redirectUris: ['https://logout.example.com/cb'], postLogoutRedirectUris: ['https://logout.example.com/bye'], firstParty: true, backchannelLogoutUri: `${rp.url}/backchannel`,
    });
    const config = await discover(c.client_id as string, {}, oidc.ClientSecretBasic(c.client_secret as string));
    const { tokens, agent } = await signInWith(config, 'https://logout.example.com/cb');
    const sid = tokens.claims()!.sid as string;
    expect(sid).toBeTruthy();

    const page = await agent.get('/session/end').query({ id_token_hint: tokens.id_token, post_logout_redirect_uri: 'https://logout.example.com/bye' });
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.text)![1];
    const done = await agent.post('/session/end/confirm').type('form').send({ xsrf, logout: 'yes' });
    expect(done.status).toBe(303);
    expect(done.headers.location).toMatch(/^https:\/\/logout\.example\.com\/bye/);

    const [token] = await rp.waitForTokens(1);
    const claims = await logoutTokenClaims(token!, c.client_id as string);
    expect(claims.events).toEqual({ 'http://schemas.openid.net/event/backchannel-logout': {} });
    expect(claims.sid).toBe(sid);
    expect(claims.sub).toBe(accountId);
    expect(claims.nonce).toBeUndefined();
    expect(claims.jti).toBeTruthy();
    // The delivery is audited once the relying party's answer is back (after it received the token).
    const delivered = () => idp.services.db.selectFrom('audit_events').select(['type', 'client_id']).where('type', '=', 'backchannel_logout.delivered').where('client_id', '=', c.client_id as string).execute();
    for (let i = 0; i < 100 && (await delivered()).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await delivered()).toEqual([{ type: 'backchannel_logout.delivered', client_id: c.client_id }]);
  });

  it('ending the account\'s sessions (deactivation) sends logout tokens; a failing relying party is retried with back-off', async () => {
    rp.tokens.length = 0;
    const c = await registerClient(idp.services.db, idp.provider, {
      name: 'Deactivation app', redirectUris: ['https://deact.example.com/cb'], firstParty: true, backchannelLogoutUri: `${rp.url}/backchannel2`,
    });
    const config = await discover(c.client_id as string, {}, oidc.ClientSecretBasic(c.client_secret as string));
    const { tokens } = await signInWith(config, 'https://deact.example.com/cb');
    rp.failFirst.push(503);
    await setAccountStatus(idp.services.db, accountId, 'disabled');
    await setAccountStatus(idp.services.db, accountId, 'active');
    const [token] = await rp.waitForTokens(1);
    const claims = await logoutTokenClaims(token!, c.client_id as string);
    expect(claims.sid).toBe(tokens.claims()!.sid);
    const audited = () => idp.services.db.selectFrom('audit_events').select(['type', 'details']).where('client_id', '=', c.client_id as string).where('type', 'like', 'backchannel_logout.%').orderBy('id').execute();
    for (let i = 0; i < 100 && (await audited()).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const types = await audited();
    expect(types.map((t) => t.type)).toEqual(['backchannel_logout.retrying', 'backchannel_logout.delivered']);
    expect(types[0]!.details).toMatchObject({ reason: 'account_disabled', attempt: 1 });
  });

  it('a password reset (endAccessAfterPasswordReset) and a producer made inactive (endProducerSessions) send logout tokens too', async () => {
    const c = await registerClient(idp.services.db, idp.provider, {
      name: 'Reset app', redirectUris: ['https://reset.example.com/cb'], firstParty: true, backchannelLogoutUri: `${rp.url}/backchannel3`,
    });
    const config = await discover(c.client_id as string, {}, oidc.ClientSecretBasic(c.client_secret as string));
    const reasons = async () => (await idp.services.db.selectFrom('audit_events').select('details').where('client_id', '=', c.client_id as string).where('type', '=', 'backchannel_logout.delivered').orderBy('id').execute()).map((e) => (e.details as { reason: string }).reason);
    const waitFor = async (n: number) => {
      for (let i = 0; i < 100 && (await reasons()).length < n; i++) await new Promise((r) => setTimeout(r, 100));
      return reasons();
    };
    rp.tokens.length = 0;
    const first = await signInWith(config, 'https://reset.example.com/cb');
    await idp.services.db.transaction().execute((trx) => endAccessAfterPasswordReset(trx, accountId, new Date()));
    expect(await waitFor(1)).toEqual(['password_reset']);
    expect((await logoutTokenClaims(rp.tokens.at(-1)!, c.client_id as string)).sid).toBe(first.tokens.claims()!.sid);

    await signInWith(config, 'https://reset.example.com/cb');
    await endProducerSessions(idp.services.db, ['000104201']);
    expect(await waitFor(2)).toEqual(['password_reset', 'producer_inactive']);
  });

  it('a relying party that never answers does not hold up the logout; it is given up after the attempts', async () => {
    const dead = createServer(() => { /* never answers */ });
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', () => resolve()));
    try {
      const c = await registerClient(idp.services.db, idp.provider, {
        name: 'Dead app', redirectUris: ['https://dead.example.com/cb'], firstParty: true, backchannelLogoutUri: `http://127.0.0.1:${(dead.address() as AddressInfo).port}/bc`,
      });
      const config = await discover(c.client_id as string, {}, oidc.ClientSecretBasic(c.client_secret as string));
      const { tokens, agent } = await signInWith(config, 'https://dead.example.com/cb');
      const page = await agent.get('/session/end').query({ id_token_hint: tokens.id_token });
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.text)![1];
      const done = await agent.post('/session/end/confirm').type('form').send({ xsrf, logout: 'yes' });
      expect([200, 303]).toContain(done.status); // the "logged out" page
      // Answered while the delivery is still pending: the logout did not wait for the relying party.
      const pending = await idp.services.db.selectFrom('backchannel_logouts').select('attempts').where('client_id', '=', c.client_id as string).execute();
      expect(pending).toHaveLength(1);
      let types: string[] = [];
      for (let i = 0; i < 300 && !types.includes('backchannel_logout.failed'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        types = (await idp.services.db.selectFrom('audit_events').select('type').where('client_id', '=', c.client_id as string).where('type', 'like', 'backchannel_logout.%').orderBy('id').execute()).map((t) => t.type);
      }
      expect(types).toEqual(['backchannel_logout.retrying', 'backchannel_logout.retrying', 'backchannel_logout.failed']);
    } finally {
      dead.closeAllConnections();
      await new Promise((resolve) => dead.close(resolve));
    }
  }, 60_000);
});

describe('key rotation (item 6)', () => {
  it('after keys rotate, new tokens use the new key, a token signed before still verifies, and the old key is retired later', async () => {
    await addResource(idp.services.db, 'https://api.example.com/rotation', ['rotation:read']);
    const c = await registerClient(idp.services.db, idp.provider, { name: 'Rotation batch', redirectUris: [], grant: 'client_credentials', scope: 'rotation:read' });
    const config = await discover(c.client_id as string, {}, oidc.ClientSecretBasic(c.client_secret as string));
    const params = { scope: 'rotation:read', resource: 'https://api.example.com/rotation' };
    const before = (await oidc.clientCredentialsGrant(config, params)).access_token;
    const oldKid = decodeProtectedHeader(before).kid!;

    const created = await rotateSigningKeys(idp.services.db);
    expect(created.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    // What the replica's 30-second refresh does:
    expect(await refreshProviderKeys(idp.provider, idp.services)).toBe(true);
    const listed = await listSigningKeys(idp.services.db);
    expect(listed.find((k) => k.kid === oldKid)!.state).toBe('previous');
    expect(listed.filter((k) => k.state === 'current').map((k) => k.kid).sort()).toEqual(created.map((k) => k.kid).sort());
    expect(JSON.stringify(listed)).not.toMatch(/"d"|private/);

    const after = (await oidc.clientCredentialsGrant(config, params)).access_token;
    expect(decodeProtectedHeader(after).kid).toBe(created.find((k) => k.alg === 'ES256')!.kid);
    const jwks = (await request(idp.server).get('/jwks')).body.keys.map((k: { kid: string }) => k.kid);
    expect(jwks).toEqual(expect.arrayContaining([oldKid, ...created.map((k) => k.kid)]));
    const verify = (t: string) => jwtVerify(t, createRemoteJWKSet(new URL(`${idp.url}/jwks`)), { issuer: idp.url, typ: 'at+jwt' });
    await expect(verify(before)).resolves.toBeTruthy();
    await expect(verify(after)).resolves.toBeTruthy();

    // Once everything it signed has expired, the previous key is retired and leaves /jwks.
    await idp.services.db.updateTable('signing_keys').set({ superseded_at: new Date(Date.now() - (KEY_RETIRE_AFTER_SECONDS + 60) * 1000) }).where('kid', '=', oldKid).execute();
    expect(await refreshProviderKeys(idp.provider, idp.services)).toBe(true);
    expect((await listSigningKeys(idp.services.db)).find((k) => k.kid === oldKid)!.state).toBe('retired');
    const jwksAfter = (await request(idp.server).get('/jwks')).body.keys.map((k: { kid: string }) => k.kid);
    expect(jwksAfter).not.toContain(oldKid);
  });
});

describe('POST at the authorization and end-session endpoints (item 8)', () => {
  it('a form POST to /auth gets a 303 to the same request as a GET, which signs in as usual', async () => {
    const c = await registerClient(idp.services.db, idp.provider, { name: 'Post app', redirectUris: ['https://post.example.com/cb'], firstParty: true });
    const { challenge } = pkce();
    const params = { client_id: c.client_id as string, redirect_uri: 'https://post.example.com/cb', response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', state: 'st-post' };
    const agent = request.agent(idp.server);
    const posted = await agent.post('/auth').type('form').send(params);
    expect(posted.status).toBe(303);
    const target = new URL(posted.headers.location);
    expect(`${target.origin}${target.pathname}`).toBe(`${idp.url}/auth`);
    expect(Object.fromEntries(target.searchParams)).toEqual(params);
    const auth = await agent.get(target.pathname + target.search);
    expect(auth.status).toBe(303);
    expect(auth.headers.location).toMatch(/\/interaction\//);
  });

  it('a form POST to /session/end gets a 303 to the logout page request', async () => {
    const posted = await request(idp.server).post('/session/end').type('form').send({ client_id: idp.config.PORTAL_CLIENT_ID });
    expect(posted.status).toBe(303);
    expect(posted.headers.location).toBe(`${idp.url}/session/end?client_id=${idp.config.PORTAL_CLIENT_ID}`);
    const page = await request(idp.server).get(new URL(posted.headers.location).pathname + new URL(posted.headers.location).search);
    expect(page.status).toBe(200);
    expect(page.text).toContain(`${idp.url}/session/end/confirm`); // the logout form, as for a GET
  });
});
