import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beginSignIn, createAccount, followToClient, GOOD_PASSWORD, portalRedirect, signIn, submitLogin } from '../helpers/accounts.ts';
import { cliHarness } from '../helpers/cli.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';

/** The Service Desk's commands (issue 11 item 8) against a running IdP's database. */
let idp: TestIdp;
const { cli: run } = cliHarness('desk');
const cli = (args: string[]) => run(args, { DATABASE_SCHEMA: idp.config.DATABASE_SCHEMA });

beforeAll(async () => {
  idp = await startIdp();
  await createAccount(idp, { producerNumber: '000104201', username: 'DeskAvery1' });
});
afterAll(async () => {
  await idp?.stop();
});

function basic(): string {
  return `Basic ${Buffer.from(`${idp.config.PORTAL_CLIENT_ID}:${idp.config.PORTAL_CLIENT_SECRET}`).toString('base64')}`;
}

/** Signs DeskAvery1 in (email code, remembered device) and returns its tokens. */
async function tokens(): Promise<{ access_token: string; refresh_token: string }> {
  const agent = request.agent(idp.server);
  const { uid, verifier } = await beginSignIn(idp, agent);
  const res = await signIn(idp, agent, uid, 'DeskAvery1', GOOD_PASSWORD, { remember: true });
  expect(res.status).toBe(303);
  const { redirect } = await followToClient(idp, agent, res.headers.location);
  const t = await request(idp.server).post('/token').set('authorization', basic()).type('form')
    .send({ grant_type: 'authorization_code', code: redirect!.searchParams.get('code'), redirect_uri: portalRedirect(idp), code_verifier: verifier });
  expect(t.status).toBe(200);
  return t.body;
}

const refresh = (rt: string) => request(idp.server).post('/token').set('authorization', basic()).type('form').send({ grant_type: 'refresh_token', refresh_token: rt });

// Each test runs several CLI processes (a Node start and a database connection each): allow time on a busy machine.
describe('Service Desk commands', { timeout: 240_000 }, () => {
  it('accounts show: status, lock, factors, devices, typing pattern and last sign-ins, with no secret', async () => {
    const t = await tokens();
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent);
    for (let i = 0; i < idp.config.LOCKOUT_THRESHOLD; i++) await submitLogin(agent, uid, 'DeskAvery1', `Wrong-pass-${i}!x`);
    const res = await cli(['accounts', 'show', 'DeskAvery1']);
    expect(res.code, res.stderr).toBe(0);
    const shown = JSON.parse(res.stdout);
    expect(shown).toMatchObject({
      username: 'DeskAvery1', kind: 'producer', producer_number: '000104201', status: 'active', producer_status: 'active',
      can_sign_in: false, sign_in_blocked_by: 'locked', failed_attempts: idp.config.LOCKOUT_THRESHOLD,
      factors: ['email', 'sms'], sms_to: 'xxxxxx0101', typing_pattern: { enrolled: false, updated_at: null },
    });
    expect(shown.locked_until).toMatch(/^\d{4}-/);
    expect(shown.email_confirmed_at).toMatch(/^\d{4}-/);
    expect(shown.remembered_devices).toHaveLength(1);
    expect(shown.remembered_devices[0]).toMatchObject({ scope: 'mfa', factor: 'email', user_agent: 'journey-test' });
    const types = shown.recent_sign_ins.map((e: { type: string }) => e.type);
    expect(types).toContain('login.success');
    expect(types).toContain('login.locked');
    for (const secret of ['$argon2', t.access_token, t.refresh_token, GOOD_PASSWORD]) expect(res.stdout).not.toContain(secret);
  });

  it('accounts unlock needs --operator, lifts the lock and is audited with the operator', async () => {
    const missing = await cli(['accounts', 'unlock', 'DeskAvery1']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('missing --operator');
    const res = await cli(['accounts', 'unlock', 'DeskAvery1', '--operator', 'Dana Desk']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.trim()).toBe('unlocked DeskAvery1');
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent);
    expect((await signIn(idp, agent, uid, 'DeskAvery1')).status).toBe(303);
    const again = await cli(['accounts', 'unlock', 'DeskAvery1', '--operator', 'Dana Desk']);
    expect(again.stdout.trim()).toBe('DeskAvery1 was not locked (failed attempts cleared)');
  });

  it('accounts sessions lists sessions and refresh tokens without their values; sign-out ends them', async () => {
    const t = await tokens();
    const listed = await cli(['accounts', 'sessions', 'DeskAvery1']);
    expect(listed.code, listed.stderr).toBe(0);
    const sessions = JSON.parse(listed.stdout) as { kind: string; client_id: string | null }[];
    expect(sessions.some((s) => s.kind === 'session')).toBe(true);
    expect(sessions.some((s) => s.kind === 'refresh_token' && s.client_id === idp.config.PORTAL_CLIENT_ID)).toBe(true);
    expect(listed.stdout).not.toContain(t.refresh_token);
    const out = await cli(['accounts', 'sign-out', 'DeskAvery1', '--operator', 'Dana Desk']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/^signed DeskAvery1 out everywhere \(\d+ session/);
    expect((await refresh(t.refresh_token)).body.error).toBe('invalid_grant');
    expect((await request(idp.server).get('/me').set('authorization', `Bearer ${t.access_token}`)).status).toBe(401);
    expect(JSON.parse((await cli(['accounts', 'sessions', 'DeskAvery1'])).stdout)).toEqual([]);
  });

  it('accounts disable (reason and operator required) refuses sign-in and ends tokens; enable restores sign-in', async () => {
    const t = await tokens();
    expect((await cli(['accounts', 'disable', 'DeskAvery1', '--operator', 'Dana Desk'])).stderr).toContain('missing --reason');
    const res = await cli(['accounts', 'disable', 'DeskAvery1', '--reason', 'reported stolen laptop', '--operator', 'Dana Desk']);
    expect(res.code, res.stderr).toBe(0);
    expect((await refresh(t.refresh_token)).body.error).toBe('invalid_grant');
    const agent = request.agent(idp.server);
    const { uid } = await beginSignIn(idp, agent);
    const refused = await submitLogin(agent, uid, 'DeskAvery1', GOOD_PASSWORD);
    expect(refused.status).toBe(403);
    expect(JSON.parse((await cli(['accounts', 'show', 'DeskAvery1'])).stdout).sign_in_blocked_by).toBe('account_disabled');
    const enabled = await cli(['accounts', 'enable', 'DeskAvery1', '--operator', 'Dana Desk']);
    expect(enabled.stdout.trim()).toBe('enabled DeskAvery1');
    const agent2 = request.agent(idp.server);
    const again = await beginSignIn(idp, agent2);
    expect((await signIn(idp, agent2, again.uid, 'DeskAvery1')).status).toBe(303);
  });

  it('audit list filters by username, type family and time, in JSON or a table; every change names its operator', async () => {
    const res = await cli(['audit', 'list', '--username', 'DeskAvery1', '--type', 'operator.']);
    expect(res.code, res.stderr).toBe(0);
    const rows = JSON.parse(res.stdout) as { type: string; username: string; details: { operator: string; reason?: string } }[];
    expect(rows.map((r) => r.type).sort()).toEqual(['operator.account_disabled', 'operator.account_enabled', 'operator.account_unlocked', 'operator.account_unlocked', 'operator.signed_out']);
    expect(rows.every((r) => r.username === 'DeskAvery1' && r.details.operator === 'Dana Desk')).toBe(true);
    expect(rows.find((r) => r.type === 'operator.account_disabled')!.details.reason).toBe('reported stolen laptop');
    const table = await cli(['audit', 'list', '--username', 'DeskAvery1', '--type', 'login.success', '--format', 'table']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^at\s+type\s+username\s+ip\s+details$/);
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.slice(1).every((l) => /login\.success\s+DeskAvery1/.test(l))).toBe(true);
    const future = await cli(['audit', 'list', '--since', '2999-01-01T00:00:00Z']);
    expect(JSON.parse(future.stdout)).toEqual([]);
  });

  it('refuses bad input with a usage error or a clear failure, and changes nothing', async () => {
    const bad = await cli(['audit', 'list', '--since', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since must be an ISO 8601 time');
    expect((await cli(['audit', 'list', '--format', 'xml'])).code).toBe(2);
    expect((await cli(['audit', 'list', '--limit', '0'])).code).toBe(2);
    const unknown = await cli(['accounts', 'disable', 'Nobody9', '--reason', 'x', '--operator', 'Dana Desk']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe('no such account: Nobody9');
    expect((await cli(['accounts', 'show'])).code).toBe(2);
  });
});
