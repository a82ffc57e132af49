import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/db/database.ts';
import { publishTerms } from '../../src/db/repositories/terms.ts';
import { removeClient } from '../../src/oidc/clients.ts';
import { beginSignIn, createAccount, followToClient, signIn } from '../helpers/accounts.ts';
import { startIdp, TEST_DATABASE_URL, type TestIdp } from '../helpers/idp.ts';

/**
 * Issue 12: clients and the active Terms of Use are read from memory during sign-ins, yet a change
 * made by another process (the CLI, another replica: here a connection of its own) takes effect at
 * once — well before the caches' 60-second bound — because PostgreSQL notifies the running IdP.
 */
let idp: TestIdp;
let other: Db;

beforeAll(async () => {
  idp = await startIdp();
  other = await openDatabase({ DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: idp.config.DATABASE_SCHEMA, DATA_DIR: '' });
  for (let i = 0; i < 100 && !idp.services.changes.live; i++) await new Promise((r) => setTimeout(r, 50));
  expect(idp.services.changes.live).toBe(true);
});

afterAll(async () => {
  await other?.close();
  await idp?.stop();
});

/** Polls `check` for up to 5 s (notifications arrive in milliseconds; the caches keep entries 60 s). */
async function eventually(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe('caches kept exact by database notifications', () => {
  it('a client removed by another process is refused at once, though it was just read from memory', async () => {
    const auth = () => request(idp.server).get(`/auth?${new URLSearchParams({ client_id: 'demo-removable', redirect_uri: 'https://rp.example.test/cb', response_type: 'code', scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`);
    await other.db.insertInto('oidc_payloads').values({
      model: 'Client', id: 'demo-removable', expires_at: null,
      payload: JSON.stringify({ client_id: 'demo-removable', redirect_uris: ['https://rp.example.test/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'] }),
    }).execute();
    expect(await eventually(async () => (await auth()).status === 303)).toBe(true);
    expect((await auth()).status).toBe(303);

    expect(await removeClient(other.db, 'demo-removable')).toBe(true);
    expect(await eventually(async () => {
      const res = await auth();
      return res.status === 400 && /invalid_client/.test(res.text);
    })).toBe(true);
  });

  it('Terms of Use published by another process are asked for at the next sign-in', async () => {
    await createAccount(idp, { producerNumber: '000104201', username: 'FeedTerms01' });
    const agent = request.agent(idp.server);
    const first = await beginSignIn(idp, agent);
    const done = await signIn(idp, agent, first.uid, 'FeedTerms01');
    expect((await followToClient(idp, agent, done.headers.location)).redirect?.searchParams.get('code')).toBeTruthy();

    await publishTerms(other.db, '9.0', 'Terms published elsewhere', new Date());
    expect(await eventually(async () => {
      const a = request.agent(idp.server);
      const s = await beginSignIn(idp, a);
      const r = await signIn(idp, a, s.uid, 'FeedTerms01');
      const { page } = await followToClient(idp, a, r.headers.location);
      return Boolean(page?.text.includes('Terms published elsewhere'));
    })).toBe(true);
  });

  // Last: it truncates oidc_payloads (the portal's client too).
  it('a client renamed, turned into another model, or truncated away by plain SQL is refused at once', async () => {
    const add = (id: string) => other.db.insertInto('oidc_payloads').values({
      model: 'Client', id, expires_at: null,
      payload: JSON.stringify({ client_id: id, redirect_uris: ['https://rp.example.test/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'] }),
    }).execute();
    const auth = (id: string) => request(idp.server).get(`/auth?${new URLSearchParams({ client_id: id, redirect_uri: 'https://rp.example.test/cb', response_type: 'code', scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`);
    const refused = (id: string) => eventually(async () => (await auth(id)).status === 400);
    for (const id of ['feed-renamed', 'feed-remodelled', 'feed-truncated']) {
      await add(id);
      expect(await eventually(async () => (await auth(id)).status === 303)).toBe(true); // now cached
    }
    await other.db.updateTable('oidc_payloads').set({ id: 'feed-renamed-2' }).where('model', '=', 'Client').where('id', '=', 'feed-renamed').execute();
    expect(await refused('feed-renamed')).toBe(true);
    await other.db.updateTable('oidc_payloads').set({ model: 'NotAClient' }).where('model', '=', 'Client').where('id', '=', 'feed-remodelled').execute();
    expect(await refused('feed-remodelled')).toBe(true);
    await sql`TRUNCATE oidc_payloads`.execute(other.db);
    expect(await refused('feed-truncated')).toBe(true);
  });
});
