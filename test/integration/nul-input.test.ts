import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, csrf, signInAtIdpPage } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';

/**
 * A NUL character (U+0000) in any id, query or form field of the IdP's pages and API is answered
 * with a 4xx (ids and queries: 400 "characters that are not allowed"; form fields: the field's
 * or the form's message, 422, or the sign-in it needs first), never 500: PostgreSQL refuses text holding one
 * ("invalid byte sequence for encoding UTF8: 0x00"), so no such value may reach a query. The tester
 * found `/delegates/%00/remove` and My Account's device removal answering 500; this covers the kind.
 */
let idp: TestIdp;
beforeAll(async () => {
  idp = await startIdp();
  await createAccount(idp, { producerNumber: '000104201', username: 'NulAvery01' });
});
afterAll(async () => {
  await idp?.stop();
});

const POSTS: [string, Record<string, string>][] = [
  ['/delegates/%00/remove', { confirm: 'yes' }],
  ['/delegates/%00/resend', {}],
  ['/delegates/add', { first_name: 'A\u0000', last_name: 'B', email: 'a@example.test', permissions: 'quote_enroll' }],
  ['/delegates/accept', { token: 'abc\u0000' }],
  ['/account/devices/remove', { device: '\u0000' }],
  ['/account/mobile', { mobile: '312\u0000' }],
  ['/forgot-username', { email: 'a\u0000@example.com' }],
  ['/forgot-password', { username: 'Avery\u0000' }],
  ['/register/producer', { producerNumber: '104201\u0000', npn: '19000001', zip: '60601' }],
  ['/unlock', { token: '\u0000' }],
  ['/verify-email', { token: '\u0000' }],
  ['/login/resend-verification', { ticket: '\u0000' }],
  ['/interaction/%00/login', { username: 'a', password: 'b' }],
];
const GETS = ['/unlock?token=%00', '/verify-email?token=%00', '/delegates/accept?token=%00', '/account/mobile?confirm=%00', '/interaction/%00', '/api/producers/me/hierarchy?page=%00', '/account/signin?return=%2F%00'];

describe('NUL characters in input', () => {
  it('every form, id and query holding one is answered 400 with a message, never 500', async () => {
    for (const [path, form] of POSTS) {
      const res = await request(idp.server).post(path).type('form').set('accept', 'text/html').send({ _csrf: 'x', ...form });
      expect(res.status, `${path}: ${res.status}`).toBeLessThan(500); // anonymous: 303 to sign in, or 4xx
    }
    for (const path of GETS) {
      const res = await request(idp.server).get(path).set('accept', 'text/html');
      expect([path, res.status]).toEqual([path, 400]);
    }
    for (const path of ['/delegates/%00/remove', '/delegates/%00/resend', '/interaction/%00/login']) {
      const res = await request(idp.server).post(path).type('form').set('accept', 'text/html').send({ _csrf: 'x' });
      expect([path, res.status]).toEqual([path, 400]);
      expect(res.text).toContain('characters that are not allowed');
    }
  });

  it('signed in, a form field the page reads as any text answers 422 with the message, and nothing changes', async () => {
    const agent = request.agent(idp.server);
    await signInAtIdpPage(idp, agent, '/account/devices', 'NulAvery01', 'avery.quinlan@example.com');
    const token = csrf((await agent.get('/forgot-username')).text); // this browser's CSRF token
    const removed = await agent.post('/account/devices/remove').type('form').send({ _csrf: token, device: '\u0000' });
    expect(removed.status).toBe(422);
    expect(removed.text).toContain('characters that are not allowed');
    const form = await agent.get('/delegates/add');
    const added = await agent.post('/delegates/add').type('form').send(`_csrf=${encodeURIComponent(csrf(form.text))}&first_name=Nul%00&last_name=B&email=nul%40example.test&permissions=quote_enroll`);
    expect(added.status).toBe(422);
    expect(await idp.services.db.selectFrom('delegations').select('id').execute()).toEqual([]);
  });

  it('at the OAuth endpoints: invalid_client, and the refusal is still audited (the NUL kept as U+FFFD)', async () => {
    for (const path of ['/token', '/token/introspection', '/token/revocation']) {
      const res = await request(idp.server).post(path).type('form').send('grant_type=client_credentials&token=x&client_id=evil%00nul&client_secret=x');
      expect([path, res.status, res.body.error]).toEqual([path, 401, 'invalid_client']);
    }
    await idp.services.settle();
    const rows = await idp.services.db.selectFrom('audit_events').select(['client_id', 'details']).where('type', '=', 'client.auth_failed').execute();
    expect(rows.filter((r) => r.client_id === 'evil\ufffdnul')).toHaveLength(3);
  });
});
