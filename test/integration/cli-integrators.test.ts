/**
 * The integrator commands of the CLI (issue 10) run as child processes against PostgreSQL, in a
 * fresh schema for this file: clients add (client_credentials, private_key_jwt, back-channel
 * logout), rotate-secret, initial-access-token, first-party, resources, keys.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliHarness } from '../helpers/cli.ts';
import { TEST_DATABASE_URL } from '../helpers/idp.ts';

const { schema, tmp, cli } = cliHarness('t_clii');
let db: pg.Client;

beforeAll(async () => {
  db = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await db.connect();
});
afterAll(async () => {
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.end();
  rmSync(tmp, { recursive: true, force: true });
});

async function storedClient(id: string): Promise<Record<string, unknown>> {
  const { rows } = await db.query(`SELECT payload FROM "${schema}".oidc_payloads WHERE model = 'Client' AND id = $1`, [id]);
  return rows[0].payload;
}

describe('cli for integrators', () => {
  it('resources add registers an API and resources list shows it', async () => {
    const added = await cli(['resources', 'add', '--identifier', 'https://api.example.test/claims', '--scope', 'claims:read claims:write', '--access-token-ttl', '600']);
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ identifier: 'https://api.example.test/claims', scope: 'claims:read claims:write', access_token_ttl: 600 });
    const list = JSON.parse((await cli(['resources', 'list'])).stdout) as { identifier: string }[];
    expect(list.map((r) => r.identifier)).toEqual(['https://api.example.test/claims']);
  });

  it('resources add refuses an OpenID Connect scope, a fragment or a bad lifetime; remove of an unknown resource exits 1', async () => {
    const [openid, fragment, ttl, remove] = await Promise.all([
      cli(['resources', 'add', '--identifier', 'https://api.example.test/other', '--scope', 'openid other:read']),
      cli(['resources', 'add', '--identifier', 'https://api.example.test/x#y', '--scope', 'x:read']),
      cli(['resources', 'add', '--identifier', 'https://api.example.test/x', '--scope', 'x:read', '--access-token-ttl', 'soon']),
      cli(['resources', 'remove', 'https://api.example.test/nothing']),
    ]);
    expect(openid.code).toBe(1);
    expect(openid.stderr).toMatch(/openid is an OpenID Connect scope/);
    expect(fragment.code).toBe(1);
    expect(fragment.stderr).toMatch(/fragment/);
    expect(ttl.code).toBe(2);
    expect(remove.code).toBe(1);
    const list = JSON.parse((await cli(['resources', 'list'])).stdout) as { identifier: string }[];
    expect(list.map((r) => r.identifier)).toEqual(['https://api.example.test/claims']); // nothing stored
  });

  it('clients add --grant client_credentials needs API scopes and refuses openid; the secret is stored hashed', async () => {
    const cc = await cli(['clients', 'add', '--name', 'Claims Sync', '--grant', 'client_credentials', '--scope', 'claims:read']);
    expect(cc.code, cc.stderr).toBe(0);
    const c = JSON.parse(cc.stdout);
    expect(c).toMatchObject({ grant_types: ['client_credentials'], scope: 'claims:read', redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic', registered_by: 'cli', first_party: false });
    expect(c.client_secret).toMatch(/^[\w-]{43}$/);
    const stored = await storedClient(c.client_id);
    expect(stored.client_secret).toMatch(/^\$sha256\$[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(c.client_secret);

    const oidcScope = await cli(['clients', 'add', '--name', 'Bad Sync', '--grant', 'client_credentials', '--scope', 'openid claims:read']);
    expect(oidcScope.code).toBe(1);
    expect(oidcScope.stderr).toMatch(/openid/);
    const noScope = await cli(['clients', 'add', '--name', 'Bad Sync', '--grant', 'client_credentials']);
    expect(noScope.code).toBe(2);
    expect(noScope.stderr).toContain('--scope');
  });

  it('clients rotate-secret prints a new secret once; the stored hash changes', async () => {
    const c = JSON.parse((await cli(['clients', 'add', '--name', 'Rotating App', '--redirect-uri', 'https://rot.example.test/cb'])).stdout);
    const before = (await storedClient(c.client_id)).client_secret;
    const rotated = await cli(['clients', 'rotate-secret', c.client_id]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const out = JSON.parse(rotated.stdout);
    expect(out.client_id).toBe(c.client_id);
    expect(out.client_secret).toMatch(/^[\w-]{43}$/);
    expect(out.client_secret).not.toBe(c.client_secret);
    expect((await storedClient(c.client_id)).client_secret).not.toBe(before);
    expect((await cli(['clients', 'rotate-secret', 'no-such-client'])).code).toBe(1);
    const list = await cli(['clients', 'list']);
    expect(list.stdout).not.toContain(out.client_secret);
  });

  it('clients add --token-endpoint-auth-method private_key_jwt with --jwks, and --backchannel-logout-uri', async () => {
    const { publicKey } = await generateKeyPair('ES256');
    const file = path.join(tmp, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }));
    const res = await cli(['clients', 'add', '--name', 'Key App', '--redirect-uri', 'https://key.example.test/cb', '--token-endpoint-auth-method', 'private_key_jwt', '--jwks', file, '--backchannel-logout-uri', 'https://key.example.test/backchannel']);
    expect(res.code, res.stderr).toBe(0);
    const c = JSON.parse(res.stdout);
    expect(c).not.toHaveProperty('client_secret');
    expect(c).toMatchObject({ token_endpoint_auth_method: 'private_key_jwt', backchannel_logout_uri: 'https://key.example.test/backchannel', id_token_signed_response_alg: 'ES256' });
    const noKeys = await cli(['clients', 'add', '--name', 'Keyless', '--redirect-uri', 'https://key.example.test/cb', '--token-endpoint-auth-method', 'private_key_jwt']);
    expect(noKeys.code).toBe(1);
    expect(noKeys.stderr).toMatch(/jwks/);
    const badMethod = await cli(['clients', 'add', '--name', 'Jwt', '--redirect-uri', 'https://key.example.test/cb', '--token-endpoint-auth-method', 'client_secret_jwt']);
    expect(badMethod.code).toBe(2);
  });

  it('clients initial-access-token prints the token and its expiry; --expires-in must be positive', async () => {
    const res = await cli(['clients', 'initial-access-token', '--expires-in', '90']);
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout);
    expect(Object.keys(out)).toEqual(['initial_access_token', 'expires_at']);
    expect(out.initial_access_token).toMatch(/^[\w-]{20,}$/);
    const seconds = (new Date(out.expires_at).getTime() - Date.now()) / 1000;
    expect(seconds).toBeGreaterThan(30);
    expect(seconds).toBeLessThanOrEqual(91);
    const revoked = await cli(['clients', 'revoke-initial-access-token', out.initial_access_token]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await cli(['clients', 'revoke-initial-access-token', out.initial_access_token])).code).toBe(1);
  });

  it('clients initial-access-token --expires-in takes any positive number of seconds', async () => {
    const fractional = await cli(['clients', 'initial-access-token', '--expires-in', '1.5']);
    expect(fractional.code, fractional.stderr).toBe(0);
    const results = await Promise.all(['0', '-5', 'soon'].map((bad) => cli(['clients', 'initial-access-token', '--expires-in', bad])));
    for (const r of results) expect(r.code).toBe(2);
    expect(results[0]!.stderr).toContain('--expires-in must be a positive number of seconds');
    expect(results[2]!.stderr).toContain('--expires-in must be a positive number of seconds');
  });

  it('clients first-party marks a client first-party and back', async () => {
    const c = JSON.parse((await cli(['clients', 'add', '--name', 'Marked App', '--redirect-uri', 'https://marked.example.test/cb'])).stdout);
    expect((await cli(['clients', 'first-party', c.client_id])).code).toBe(0);
    expect((await storedClient(c.client_id)).first_party).toBe(true);
    expect((await cli(['clients', 'first-party', c.client_id, '--off'])).code).toBe(0);
    expect((await storedClient(c.client_id)).first_party).toBe(false);
  });

  it('keys list shows states without key material; keys rotate --alg makes a new current key', async () => {
    const first = JSON.parse((await cli(['keys', 'list'])).stdout) as { kid: string; alg: string; state: string }[];
    expect(first.map((k) => `${k.alg}:${k.state}`).sort()).toEqual(['ES256:current', 'RS256:current']);
    const rotated = await cli(['keys', 'rotate', '--alg', 'ES256']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const [created] = JSON.parse(rotated.stdout) as { kid: string; alg: string }[];
    expect(created!.alg).toBe('ES256');
    const listed = await cli(['keys', 'list']);
    const keys = JSON.parse(listed.stdout) as { kid: string; alg: string; state: string; use: string; created_at: string }[];
    expect(keys.find((k) => k.kid === created!.kid)!.state).toBe('current');
    expect(keys.find((k) => k.kid === first.find((f) => f.alg === 'ES256')!.kid)!.state).toBe('previous');
    expect(keys.find((k) => k.alg === 'RS256')!.state).toBe('current');
    expect(listed.stdout).not.toMatch(/"(d|p|q|dp|dq|qi)"\s*:/);
    expect((await cli(['keys', 'rotate', '--alg', 'HS256'])).code).toBe(2);
  });

  it('keys are stored encrypted when SIGNING_KEYS_ENCRYPTION_KEY is set', async () => {
    const env = { SIGNING_KEYS_ENCRYPTION_KEY: 'cli-signing-keys-secret-0123456789abcdef' };
    expect((await cli(['keys', 'list'], env)).code).toBe(0);
    const { rows } = await db.query(`SELECT private_jwk FROM "${schema}".signing_keys`);
    for (const r of rows) expect(r.private_jwk.enc).toBe('A256GCM');
    const without = await cli(['keys', 'list']);
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(/SIGNING_KEYS_ENCRYPTION_KEY/);
  });
});
