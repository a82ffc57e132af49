import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, followToClient, signIn } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';

type Agent = ReturnType<typeof request.agent>;

let idp: TestIdp;

beforeAll(async () => {
  idp = await startIdp();
  await createAccount(idp, { producerNumber: '000104201', username: 'AveryAcct1' });
});
afterAll(async () => {
  await idp?.stop();
});

/** Follows the IdP's redirects from `path` to the login page; returns the interaction uid. */
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

/** Signs in from an account page: the guard's sign-in, Log In, Verify your Account; returns the page reached. */
async function signInAt(agent: Agent, path: string, username = 'AveryAcct1') {
  const { uid, authUrl } = await toLogin(agent, path);
  const done = await signIn(idp, agent, uid, username);
  expect(done.status).toBe(303);
  const { page } = await followToClient(idp, agent, done.headers.location as string);
  return { page: page!, authUrl };
}

describe('My Account: the session guard (issue 14 item 6)', () => {
  it('sends an anonymous visitor to sign in and back to the page', async () => {
    const agent = request.agent(idp.server);
    const first = await agent.get('/account');
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/account/signin?return=%2Faccount');
    const { page, authUrl } = await signInAt(agent, '/account');
    expect(authUrl.searchParams.get('client_id')).toBe('idp-account');
    expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authUrl.searchParams.get('prompt')).toBeNull();
    expect(page.status).toBe(200);
    expect(page.text).toContain('Manage how you sign in');
    // Signed in: the pages show at once.
    const again = await agent.get('/account');
    expect(again.status).toBe(200);
    expect(again.text).toContain('My Account');
    expect(again.text).toContain('AveryAcct1');
    // Signing in again (a change after ACCOUNT_REAUTH_SECONDS): prompt=login, the username filled in.
    const re = await agent.get('/account/signin?reauth=1&return=%2Faccount');
    const auth = new URL(re.headers.location as string, idp.url);
    expect(auth.searchParams.get('prompt')).toBe('login');
    expect(auth.searchParams.get('login_hint')).toBe('AveryAcct1');
  });

  it('refuses a return path to another site, and a callback without its state', async () => {
    const agent = request.agent(idp.server);
    const r = await agent.get('/account/signin?return=//evil.example/x');
    expect(r.status).toBe(303);
    const cookie = (r.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('pidp.account.signin='))!;
    expect(decodeURIComponent(cookie)).toContain('./account;');
    const cb = await request(idp.server).get('/account/callback?code=x&state=y');
    expect(cb.status).toBe(400);
    expect(cb.text).toContain('Sign-in was not completed');
  });
});
