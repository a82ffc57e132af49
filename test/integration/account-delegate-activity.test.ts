import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit } from '../../src/audit.ts';
import { createAccount, csrf, followToClient, GOOD_PASSWORD, signIn } from '../helpers/accounts.ts';
import { startIdp, type TestIdp } from '../helpers/idp.ts';

/**
 * My Account → Recent activity shows the delegate events (issue 14; src/audit.ts records them for
 * both people) in plain words, each as its reader sees it: the producer reads about their delegate,
 * the delegate about the producer. Invitation, resend, acceptance (with a new delegate account) and
 * removal go through the IdP's pages; "working for" and the deactivation by a producer import are
 * recorded here with the details their sources (src/interactions/steps/working-for.ts,
 * src/cli/commands/producers-import.ts) give them.
 */
type Agent = ReturnType<typeof request.agent>;

let idp: TestIdp;
let averyId: string;
const CASEY_EMAIL = 'casey.activity@example.test';

beforeAll(async () => {
  idp = await startIdp();
  averyId = await createAccount(idp, { producerNumber: '000104201', username: 'ActAvery01' });
});
afterAll(async () => {
  await idp?.stop();
});

/** Signs in from one of the IdP's own pages (the guard's sign-in, Log In, Verify your Account); returns the page reached. */
async function signInAt(agent: Agent, path: string, username: string) {
  idp.clock.advance(31); // codes are at least 30 s apart
  let loc = path;
  let uid: string | undefined;
  for (let i = 0; i < 6 && !uid; i++) {
    const r = await agent.get(loc);
    expect(r.status).toBe(303);
    loc = r.headers.location as string;
    if (loc.includes('/interaction/')) uid = new URL(loc, idp.url).pathname.split('/')[2];
  }
  const done = await signIn(idp, agent, uid!, username);
  expect(done.status).toBe(303);
  return (await followToClient(idp, agent, done.headers.location as string)).page!;
}

/** The "What happened" cells of the Recent activity page, newest first. */
async function activity(agent: Agent): Promise<string[]> {
  const page = await agent.get('/account/activity');
  expect(page.status).toBe(200);
  return [...page.text.matchAll(/<tr><td>[^<]*<\/td><td>([^<]*)<\/td>/g)].map((m) => m[1]!.replace(/&#39;/g, "'"));
}

describe('Recent activity: delegate events for both people', () => {
  it('the producer reads about Casey, Casey about Avery Quinlan, in plain words', async () => {
    const avery = request.agent(idp.server);
    expect((await signInAt(avery, '/delegates', 'ActAvery01')).status).toBe(200);
    const form = await avery.get('/delegates/add');
    const added = await avery.post('/delegates/add').type('form').send({ _csrf: csrf(form.text), first_name: 'Casey', last_name: 'Activity', email: CASEY_EMAIL, permissions: 'quote_enroll' });
    expect(added.status).toBe(303);
    await expect.poll(() => idp.smtp.to(CASEY_EMAIL).length).toBe(1);
    idp.clock.advance(31);
    const listed = await avery.get('/delegates');
    const delegationId = /action="\/delegates\/([^/]+)\/resend"/.exec(listed.text)![1]!;
    expect((await avery.post(`/delegates/${delegationId}/resend`).type('form').send({ _csrf: csrf(listed.text) })).headers.location).toBe('/delegates?done=resent');
    await expect.poll(() => idp.smtp.to(CASEY_EMAIL).length).toBe(2);

    // Casey accepts with a new delegate account.
    const link = new URL(/(http:\/\/\S+\/delegates\/accept\?token=[A-Za-z0-9_-]+)/.exec(idp.smtp.to(CASEY_EMAIL).at(-1)!.text)![1]!);
    const casey = request.agent(idp.server);
    const invitation = await casey.get(link.pathname + link.search);
    expect((await casey.post('/delegates/accept').type('form').send({ _csrf: csrf(invitation.text), token: link.searchParams.get('token') })).status).toBe(303);
    const terms = await casey.get('/delegates/register');
    const version = /name="version" value="([^"]+)"/.exec(terms.text)![1];
    await casey.post('/delegates/register/terms').type('form').send({ _csrf: csrf(terms.text), decision: 'accept', version });
    const loginPage = await casey.get('/delegates/register/login');
    const created = await casey.post('/delegates/register/login').type('form').send({ _csrf: csrf(loginPage.text), username: 'ActCasey01', password: GOOD_PASSWORD });
    expect(created.text).toContain('you are now a delegate of Avery Quinlan');
    const caseyId = (await idp.services.db.selectFrom('accounts').select('id').where('username', '=', 'ActCasey01').executeTakeFirstOrThrow()).id;

    // Working for Avery (the choice page), and a producer import that made the delegation inactive.
    const working = { producerNumber: '000104201', delegationId };
    await audit(idp.services.db, idp.services.clock, 'delegate.working_for', caseyId, {}, working);
    await audit(idp.services.db, idp.services.clock, 'delegate.working_for', averyId, {}, { ...working, delegateAccountId: caseyId });
    await audit(idp.services.db, idp.services.clock, 'delegate.working_for', averyId, {}, { producerNumber: '000104201', self: true });
    const imported = { delegationId, producerNumber: '000104201', by: 'producers import' };
    await audit(idp.services.db, idp.services.clock, 'delegate.deactivated', averyId, {}, imported);
    await audit(idp.services.db, idp.services.clock, 'delegate.deactivated', caseyId, {}, imported);

    // The producer removes Casey (the real page).
    const list = await avery.get('/delegates');
    expect((await avery.post(`/delegates/${delegationId}/remove`).type('form').send({ _csrf: csrf(list.text), confirm: 'yes' })).headers.location).toBe('/delegates?done=removed');

    const forAvery = await activity(avery);
    expect(forAvery).toEqual(expect.arrayContaining([
      'You invited Casey Activity to be your delegate',
      'You sent Casey Activity a new delegate invitation',
      'Casey Activity accepted your invitation and is now your delegate',
      'Your delegate Casey Activity signed in working for you',
      'Signed in working for yourself',
      'Your delegate Casey Activity can no longer work for you: your producer record is inactive',
      'You removed Casey Activity as your delegate',
    ]));
    expect(forAvery.filter((w) => w.startsWith('activity.'))).toEqual([]);

    // Casey, signed in on their own account pages, reads the same story from their side.
    const caseyAgain = request.agent(idp.server);
    expect((await signInAt(caseyAgain, '/account/activity', 'ActCasey01')).status).toBe(200);
    const forCasey = await activity(caseyAgain);
    expect(forCasey).toEqual(expect.arrayContaining([
      'Delegate account created (invited by Avery Quinlan)',
      'You accepted the invitation of Avery Quinlan and are now their delegate',
      'Signed in working for Avery Quinlan, as their delegate',
      'You can no longer work for Avery Quinlan: their producer record is inactive',
      'Avery Quinlan removed you as their delegate',
    ]));
    expect(forCasey.filter((w) => w.startsWith('activity.') || w.includes('Casey Activity'))).toEqual([]);
    // The import has no browser: the page says where it came from.
    expect((await caseyAgain.get('/account/activity')).text).toContain('Producer records update');
  });
});
