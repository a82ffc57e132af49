import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { findAccountById } from '../../src/db/repositories/accounts.ts';
import { inviteDelegate } from '../../src/delegates/service.ts';
import { createAccount, csrf, GOOD_PASSWORD } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';

/**
 * "Create Your Secure Login" tells whether a username is taken ("This username is not available"):
 * both a producer's registration (guide slide 4) and an invited delegate's (issue 14 item 2) ask it
 * only within the per-client-address limit RATE_LIMIT_REGISTER_POINTS per
 * RATE_LIMIT_WINDOW_SECONDS (shared with Enter Producer Information); beyond it, 429 with
 * Retry-After (RFC 6585 §4, RFC 9110 §10.2.3) and no answer about the username.
 */
const POINTS = 4;

type Agent = ReturnType<typeof request.agent>;

/** Posts taken usernames to `path` until refused; returns the answers. */
async function askUntilLimited(agent: Agent, path: string, page: string): Promise<request.Response[]> {
  const answers: request.Response[] = [];
  for (let i = 0; i < POINTS + 1; i++) {
    const res = await agent.post(path).type('form').send({ _csrf: csrf(page), username: 'TakenUser01', password: GOOD_PASSWORD });
    answers.push(res);
    if (res.status === 429) break;
  }
  return answers;
}

function expectLimited(answers: request.Response[]): void {
  const last = answers.at(-1)!;
  expect(last.status).toBe(429);
  expect(Number(last.headers['retry-after'])).toBeGreaterThan(0);
  expect(last.text).not.toContain('This username is not available');
  // Before the limit, the answers were the field message (422).
  expect(answers.slice(0, -1).every((a) => a.status === 422 && a.text.includes('This username is not available'))).toBe(true);
}

async function withIdp(run: (idp: TestIdp) => Promise<void>): Promise<void> {
  const idp = await startIdp({ RATE_LIMIT_REGISTER_POINTS: POINTS });
  try {
    await createAccount(idp, { producerNumber: '000104201', username: 'TakenUser01' });
    await run(idp);
  } finally {
    await idp.stop();
  }
}

describe('Create Your Secure Login: whether a username is taken is rate-limited per client address', () => {
  it('producer registration: 429 with Retry-After beyond RATE_LIMIT_REGISTER_POINTS', async () => {
    await withIdp(async (idp) => {
      const agent = request.agent(idp.server);
      const terms = await agent.get('/register');
      const version = /name="version" value="([^"]+)"/.exec(terms.text)![1];
      await agent.post('/register/terms').type('form').send({ _csrf: csrf(terms.text), decision: 'accept', version });
      const step1 = await agent.get('/register/producer');
      const matched = await agent.post('/register/producer').type('form').send({ _csrf: csrf(step1.text), producerNumber: '000104203', npn: '19000003', zip: '60614' });
      expect(matched.headers.location).toBe('/register/login');
      const page = await agent.get('/register/login');
      const answers = await askUntilLimited(agent, '/register/login', page.text);
      expectLimited(answers);
      expect(answers.length).toBe(POINTS); // Enter Producer Information took one point of the same limit
    });
  });

  it('delegate registration (the invitation\'s Create Your Secure Login): the same limit', async () => {
    await withIdp(async (idp) => {
      const producerId = await createAccount(idp, { producerNumber: '000104202', username: 'LimitJordan1' });
      const producer = (await findAccountById(idp.services.db, producerId))!;
      const invited = await inviteDelegate(idp.services, producer, { firstName: 'Lee', lastName: 'Helper', email: 'lee.helper@example.test', permissions: ['quote_enroll'] }, { ip: '127.0.0.1', userAgent: 'test' });
      expect(invited.ok).toBe(true);
      const mail = await idp.smtp.waitFor('lee.helper@example.test', /invited you/);
      const link = new URL(/(http:\/\/\S+\/delegates\/accept\?token=[A-Za-z0-9_-]+)/.exec(mail.text)![1]!);
      const agent = request.agent(idp.server);
      const invitation = await agent.get(link.pathname + link.search);
      const accepted = await agent.post('/delegates/accept').type('form').send({ _csrf: csrf(invitation.text), token: link.searchParams.get('token') });
      expect(accepted.headers.location).toBe('/delegates/register');
      const terms = await agent.get('/delegates/register');
      const version = /name="version" value="([^"]+)"/.exec(terms.text)![1];
      await agent.post('/delegates/register/terms').type('form').send({ _csrf: csrf(terms.text), decision: 'accept', version });
      const page = await agent.get('/delegates/register/login');
      expect(page.text).toContain('Create Your Secure Login');
      const answers = await askUntilLimited(agent, '/delegates/register/login', page.text);
      expectLimited(answers);
      expect(answers.length).toBe(POINTS + 1);
      expect(await idp.services.db.selectFrom('accounts').select('id').where('email', '=', 'lee.helper@example.test').execute()).toEqual([]);
    });
  });
});
