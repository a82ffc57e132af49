import { createHash, randomBytes } from 'node:crypto';
import request from 'supertest';
import { insertAccount } from '../../src/db/repositories/accounts.ts';
import { activeTerms } from '../../src/db/repositories/terms.ts';
import type { TestIdp } from './idp.ts';

/** A valid password under the guide's policy (slide 4). */
export const GOOD_PASSWORD = 'Qz7!kR9{mW';

/**
 * Creates an account directly (not through the pages) for tests that start at sign-in:
 * producer record must exist (demo producers are seeded). Email verified unless `verified: false`.
 */
export async function createAccount(idp: TestIdp, opts: { producerNumber: string; username: string; password?: string; verified?: boolean }): Promise<string> {
  const { services } = idp;
  const id = randomBytes(16).toString('base64url');
  const terms = await activeTerms(services.db);
  await insertAccount(services.db, {
    id,
    username: opts.username,
    producerNumber: opts.producerNumber,
    passwordHash: await services.hasher.hash(opts.password ?? GOOD_PASSWORD),
    termsVersion: terms!.version,
    now: idp.clock.now(),
  });
  if (opts.verified !== false) await services.db.updateTable('accounts').set({ email_verified_at: idp.clock.now() }).where('id', '=', id).execute();
  return id;
}

/** PKCE S256 pair (RFC 7636 §4.1-4.2). */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The portal client's redirect URI in tests (from PORTAL_URL). */
export function portalRedirect(idp: TestIdp): string {
  return new URL('/callback', idp.config.PORTAL_URL).href;
}

/**
 * Starts an authorization request as the portal would (code + PKCE + state + nonce) and follows it
 * to the interaction page.
 * @returns the interaction uid, the login page HTML and the PKCE verifier.
 */
export async function beginSignIn(idp: TestIdp, agent: ReturnType<typeof request.agent>, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkce();
  const params = new URLSearchParams({
    client_id: idp.config.PORTAL_CLIENT_ID,
    redirect_uri: portalRedirect(idp),
    response_type: 'code',
    scope: 'openid profile email phone producer',
    state: 'st-' + randomBytes(6).toString('hex'),
    nonce: 'n-' + randomBytes(6).toString('hex'),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  const auth = await agent.get(`/auth?${params}`);
  if (auth.status !== 303 || !auth.headers.location?.includes('/interaction/')) throw new Error(`auth did not start an interaction: ${auth.status} ${auth.headers.location ?? ''} ${auth.text.slice(0, 300)}`);
  const uid = new URL(auth.headers.location, idp.url).pathname.split('/')[2];
  const page = await agent.get(`/interaction/${uid}`);
  return { uid, page, verifier, state: params.get('state')! };
}

/** The hidden `_csrf` value of a page. */
export function csrf(html: string): string {
  const m = html.match(/name="_csrf" value="([^"]+)"/);
  if (!m) throw new Error(`no CSRF token in page:\n${html.slice(0, 500)}`);
  return m[1];
}

/**
 * The page a sign-in sub-step's POST leads to: the sub-steps answer a POST that moves on with 303
 * to the interaction's own page (GET-after-POST), which this follows (the GET shows the current
 * sub-step, 200). Any other answer (a retry's 4xx page, the 303 that leaves the interaction) is
 * returned as it is.
 */
export async function followInteraction(agent: ReturnType<typeof request.agent>, uid: string, res: request.Response): Promise<request.Response> {
  if (res.status === 303 && res.headers.location === `/interaction/${uid}`) return agent.get(res.headers.location);
  return res;
}

/**
 * Submits `form` (with the page's CSRF token) to the login prompt of interaction `uid`, as the
 * sub-step shown now; returns the page it leads to ({@link followInteraction}).
 */
export async function postLoginStep(agent: ReturnType<typeof request.agent>, uid: string, form: Record<string, string>, userAgent = 'journey-test') {
  const page = await agent.get(`/interaction/${uid}`);
  return followInteraction(agent, uid, await agent.post(`/interaction/${uid}/login`).set('user-agent', userAgent).type('form').send({ _csrf: csrf(page.text), ...form }));
}

/** Submits Username/Password on the login page of interaction `uid`; the page it leads to ({@link followInteraction}). */
export async function submitLogin(agent: ReturnType<typeof request.agent>, uid: string, username: string, password: string, page?: string) {
  const html = page ?? (await agent.get(`/interaction/${uid}`)).text;
  return followInteraction(agent, uid, await agent.post(`/interaction/${uid}/login`).set('user-agent', 'journey-test').type('form').send({ _csrf: csrf(html), username, password }));
}

/** Follows a 303 chain on the IdP until it leaves it (the client's redirect_uri) or shows a page. */
export async function followToClient(idp: TestIdp, agent: ReturnType<typeof request.agent>, location: string) {
  let loc = location;
  for (let i = 0; i < 10; i++) {
    const u = new URL(loc, idp.url);
    if (u.origin !== new URL(idp.url).origin) return { redirect: u, page: undefined };
    const res = await agent.get(u.pathname + u.search);
    if (res.status >= 300 && res.status < 400 && res.headers.location) {
      loc = res.headers.location;
      continue;
    }
    return { redirect: undefined, page: res };
  }
  throw new Error('redirect loop');
}

/** The 8-character code in a verification message. */
export function codeIn(text: string): string {
  const m = /\b([A-HJ-NP-Z2-9]{8})\b/.exec(text);
  if (!m) throw new Error(`no code in message:\n${text}`);
  return m[1];
}

/**
 * "Verify your Account" by email code (guide slide 9) on interaction `uid`, whose password step
 * already passed: chooses email, reads the code from the SMTP receiver, submits it.
 * @returns the page the code submission leads to ({@link followInteraction}; 303 onwards when it passed).
 */
export async function passEmailFactor(idp: TestIdp, agent: ReturnType<typeof request.agent>, uid: string, email: string, opts: { remember?: boolean } = {}) {
  const before = idp.smtp.to(email).length;
  const page = await agent.get(`/interaction/${uid}`);
  const posted = await agent.post(`/interaction/${uid}/login`).set('user-agent', 'journey-test').type('form').send({ _csrf: csrf(page.text), action: 'choose', factor: 'email' });
  if (posted.status !== 303 || posted.headers.location !== `/interaction/${uid}`) throw new Error(`choosing email failed: ${posted.status} ${posted.text.slice(0, 400)}`);
  const chosen = await agent.get(`/interaction/${uid}`);
  const mails = idp.smtp.to(email);
  if (mails.length <= before) await idp.smtp.waitFor(email, /verification code/);
  const code = codeIn(idp.smtp.to(email).at(-1)!.text);
  const form: Record<string, string> = { _csrf: csrf(chosen.text), action: 'verify', code };
  if (opts.remember) form.remember = 'yes';
  return followInteraction(agent, uid, await agent.post(`/interaction/${uid}/login`).set('user-agent', 'journey-test').type('form').send(form));
}

/**
 * Username/Password, then "Verify your Account" by email when it is asked for (a remembered device
 * skips it). Returns the final response of the login prompt (303 towards the client when done).
 */
export async function signIn(idp: TestIdp, agent: ReturnType<typeof request.agent>, uid: string, username: string, password = GOOD_PASSWORD, opts: { remember?: boolean } = {}) {
  const res = await submitLogin(agent, uid, username, password);
  if (res.status !== 200 || !res.text.includes('Verify your Account')) return res;
  const acc = await idp.services.db
    .selectFrom('accounts as a')
    .leftJoin('producer_records as p', 'p.producer_number', 'a.producer_number')
    .select(['p.email', 'a.email as own_email'])
    .where('a.username_normalized', '=', username.toLowerCase())
    .executeTakeFirstOrThrow();
  // A delegate's account (issue 14) has its own email and no producer record.
  return passEmailFactor(idp, agent, uid, (acc.email ?? acc.own_email)!, opts);
}

/**
 * Opens `path`, a page of the IdP for the signed-in person (My Account, View/Add My Delegates),
 * follows its redirects to Log In, signs `username` in with the password and the email code sent
 * to `email`, and returns the page it comes back to. Advances the test clock 31 s first (codes are
 * at least 30 s apart).
 */
export async function signInAtIdpPage(idp: TestIdp, agent: ReturnType<typeof request.agent>, path: string, username: string, email: string) {
  idp.clock.advance(31);
  let loc = path;
  let uid = '';
  for (let i = 0; i < 6 && !uid; i++) {
    const r = await agent.get(loc);
    loc = r.headers.location as string;
    if (loc.includes('/interaction/')) uid = new URL(loc, idp.url).pathname.split('/')[2]!;
  }
  const login = await agent.get(`/interaction/${uid}`);
  const verify = await followInteraction(agent, uid, await agent.post(`/interaction/${uid}/login`).type('form').send({ _csrf: csrf(login.text), username, password: GOOD_PASSWORD }));
  if (!verify.text.includes('Verify your Account')) throw new Error(`expected Verify your Account: ${verify.status} ${verify.text.slice(0, 300)}`);
  const before = idp.smtp.to(email).length;
  const chosen = await followInteraction(agent, uid, await agent.post(`/interaction/${uid}/login`).type('form').send({ _csrf: csrf(verify.text), action: 'choose', factor: 'email' }));
  if (idp.smtp.to(email).length <= before) await idp.smtp.waitFor(email, /verification code/);
  const done = await agent.post(`/interaction/${uid}/login`).type('form').send({ _csrf: csrf(chosen.text), action: 'verify', code: codeIn(idp.smtp.to(email).at(-1)!.text) });
  return (await followToClient(idp, agent, done.headers.location as string)).page!;
}
