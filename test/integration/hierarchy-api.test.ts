import { registerClient } from '../../src/oidc/clients.ts';
import { randomBytes } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertProducers } from '../../src/db/repositories/producers.ts';
import { changeAccountStatus, endAccountSessions } from '../../src/oidc/revocation.ts';
import type { ProducerRecord } from '../../src/producers/records.ts';
import { beginSignIn, createAccount, followToClient, signIn } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';

/**
 * My Hierarchy's API (issue 13): `GET /api/producers/me/hierarchy` with an RFC 9068 JWT access
 * token for the producer API resource (RFC 8707), obtained with openid-client as the portal does.
 */
let idp: TestIdp;
let resource: string;

const producer = (n: string, first: string, parent: string | null, status: 'active' | 'inactive' = 'active'): ProducerRecord => ({
  producerNumber: n, npn: String(Number(n.slice(-6)) + 40000000), firstName: first, lastName: 'Hier', agencyName: 'Tree Agency',
  email: `${first.toLowerCase()}@example.test`, mobilePhone: null, businessZip: '60601', bapZip: null, parentProducerNumber: parent, status,
});

beforeAll(async () => {
  idp = await startIdp();
  resource = idp.config.PRODUCER_API_RESOURCE;
  // Three levels: Top ← Mid ← (Leaf One, Leaf Two ← Leaf Deep); and Solo, with no parent and no children.
  await upsertProducers(idp.services.db, [
    producer('000700001', 'Top', null),
    producer('000700002', 'Mid', '000700001'),
    producer('000700003', 'LeafOne', '000700002'),
    producer('000700004', 'LeafTwo', '000700002', 'inactive'),
    producer('000700005', 'LeafDeep', '000700004'),
    producer('000700009', 'Solo', null),
  ]);
  await createAccount(idp, { producerNumber: '000700002', username: 'HierMid01' });
  await createAccount(idp, { producerNumber: '000700009', username: 'HierSolo01' });
});
afterAll(async () => {
  await idp?.stop();
});

/** The portal's way: sign in asking for the API resource, redeem the code, then a JWT access token by refresh (RFC 8707 §2.2). */
async function apiToken(username: string): Promise<{ api: string; userinfo: string }> {
  const config = await oidc.discovery(new URL(idp.url), idp.config.PORTAL_CLIENT_ID, undefined, oidc.ClientSecretBasic(idp.config.PORTAL_CLIENT_SECRET), { execute: [oidc.allowInsecureRequests] });
  const agent = request.agent(idp.server);
  const state = `s-${randomBytes(6).toString('hex')}`;
  const nonce = `n-${randomBytes(6).toString('hex')}`;
  const { uid, verifier } = await beginSignIn(idp, agent, { resource, scope: 'openid profile producer hierarchy:read', state, nonce });
  const res = await signIn(idp, agent, uid, username);
  const { redirect } = await followToClient(idp, agent, res.headers.location);
  const tokens = await oidc.authorizationCodeGrant(config, redirect!, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  const api = await oidc.refreshTokenGrant(config, tokens.refresh_token!, { resource });
  return { api: api.access_token, userinfo: tokens.access_token };
}

const hierarchy = (token?: string, query = '') => {
  const r = request(idp.server).get(`/api/producers/me/hierarchy${query}`);
  return token ? r.set('authorization', `Bearer ${token}`) : r;
};

describe('GET /api/producers/me/hierarchy', () => {
  it('answers the upline and downline of a producer in the middle, for an RFC 9068 JWT access token verified against /jwks', async () => {
    const { api } = await apiToken('HierMid01');
    const jwks = createRemoteJWKSet(new URL(`${idp.url}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(api, jwks, { issuer: idp.url, audience: resource, typ: 'at+jwt' });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload.scope).toContain('hierarchy:read');
    expect(payload.client_id).toBe(idp.config.PORTAL_CLIENT_ID);
    expect(typeof payload.sub).toBe('string');

    const res = await hierarchy(api);
    expect(res.status).toBe(200);
    expect(res.body.producer).toMatchObject({ producer_number: '000700002', name: 'Mid Hier', agency_name: 'Tree Agency', status: 'active' });
    expect(res.body.upline.map((p: { producer_number: string }) => p.producer_number)).toEqual(['000700001']);
    expect(res.body.downline.total).toBe(3);
    expect(res.body.downline.items.map((p: { producer_number: string; depth: number }) => [p.producer_number, p.depth])).toEqual([
      ['000700003', 1], ['000700004', 1], ['000700005', 2],
    ]);
    expect(res.body.downline.items[1]).toMatchObject({ name: 'LeafTwo Hier', npn: '40700004', status: 'inactive', parent_producer_number: '000700002' });
    // Paging.
    const page = await hierarchy(api, '?offset=2&limit=1');
    expect(page.body.downline).toMatchObject({ total: 3, offset: 2, limit: 1 });
    expect(page.body.downline.items.map((p: { producer_number: string }) => p.producer_number)).toEqual(['000700005']);
  });

  it('answers a producer with no parent and no children with an empty upline and downline', async () => {
    const { api } = await apiToken('HierSolo01');
    const res = await hierarchy(api);
    expect(res.status).toBe(200);
    expect(res.body.producer.producer_number).toBe('000700009');
    expect(res.body.upline).toEqual([]);
    expect(res.body.downline).toEqual({ total: 0, offset: 0, limit: 50, items: [] });
  });

  it('refuses requests without a valid token for this API (RFC 6750), bad paging, and an account that may no longer sign in', async () => {
    const none = await hierarchy();
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    const { api, userinfo } = await apiToken('HierSolo01');
    const opaque = await hierarchy(userinfo);
    expect(opaque.status).toBe(401);
    expect(opaque.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    const [h, p, s] = api.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), sub: 'someone-else' })).toString('base64url')}.${s}`;
    expect((await hierarchy(forged)).status).toBe(401);
    const bad = await hierarchy(api, '?limit=0');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_request');
    const account = await idp.services.db.selectFrom('accounts').select('id').where('username', '=', 'HierSolo01').executeTakeFirstOrThrow();
    await changeAccountStatus(idp.services.db, account.id, 'disabled');
    const disabled = await hierarchy(api);
    expect(disabled.status).toBe(401);
    // Disabling ends the account's grants too: the token is refused as revoked.
    expect(disabled.body).toEqual({ error: 'invalid_token', error_description: 'the access token was revoked' });
    await changeAccountStatus(idp.services.db, account.id, 'active');
  });

  it('refuses a JWT whose grant was ended (Service Desk sign-out, password reset: endAccountSessions) before its expiry', async () => {
    const { api } = await apiToken('HierMid01');
    const claims = decodeJwt(api);
    expect(typeof claims.gid).toBe('string');
    expect((await hierarchy(api)).status).toBe(200);
    await endAccountSessions(idp.services.db, claims.sub!, 'signed_out');
    const ended = await hierarchy(api);
    expect(ended.status).toBe(401);
    expect(ended.body).toEqual({ error: 'invalid_token', error_description: 'the access token was revoked' });
    expect(ended.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
  });

  it("refuses a client's own token (client_credentials: no signed-in person) with invalid_token saying so", async () => {
    const machine = await registerClient(idp.services.db, idp.provider, { name: 'Batch', redirectUris: [], grant: 'client_credentials', scope: 'hierarchy:read' });
    const token = await request(idp.server).post('/token').auth(machine.client_id as string, machine.client_secret as string).type('form').send({ grant_type: 'client_credentials', scope: 'hierarchy:read', resource });
    expect(token.status, token.text).toBe(200);
    const res = await hierarchy(token.body.access_token);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_token', error_description: 'the access token names no signed-in person' });
  });

  // Last in this file: it retires the key the IdP signs with.
  it('refuses a JWT at once when its signing key is retired in the database by any process (no 30-second key cache)', async () => {
    const { api } = await apiToken('HierMid01');
    expect((await hierarchy(api)).status).toBe(200); // the key set is now cached
    const kid = JSON.parse(Buffer.from(api.split('.')[0]!, 'base64url').toString()).kid as string;
    await idp.services.db.updateTable('signing_keys').set({ retired_at: new Date() }).where('kid', '=', kid).execute();
    let status = 0;
    for (let i = 0; i < 50 && status !== 401; i++) {
      status = (await hierarchy(api)).status;
      if (status !== 401) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(401);
  });
});
