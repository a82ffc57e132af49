import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { findAccountById, isActive, type Account } from '../db/repositories/accounts.ts';
import { render } from '../http/render.ts';
import { ACCOUNT_CLIENT_ID, ACCOUNT_CALLBACK_PATH } from '../oidc/provider.ts';
import type { Services } from '../services.ts';
import { hashToken, randomToken, safeEqual } from '../security/tokens.ts';
import { createHash } from 'node:crypto';
import { touchSession } from './activity.ts';

/**
 * The session guard of the IdP's own pages (My Account under `/account`, and any page of the
 * signed-in person such as View/Add My Delegates; issue 14).
 *
 * The pages are protected by the IdP session itself (oidc-provider's `Session` model, cookie
 * `_session`, read with `provider.Session.get(ctx)`): whoever signed in at the portal is signed in
 * here. The guard gives the signed-in account and the time of its last authentication (`loginTs`,
 * the `auth_time` of OIDC Core §2). It never creates a session by itself:
 *
 * - **anonymous** visitor → 303 to `GET /account/signin?return=<path>`, which starts an
 *   authorization request (code + PKCE S256, `state`) of the IdP's own first-party client
 *   `idp-account` (a static client, src/oidc/provider.ts) with redirect URI
 *   `<ISSUER>/account/callback`. The person signs in with the usual Log In steps (password, typing
 *   page, Verify your Account); the callback checks `state`, throws the authorization code away
 *   (the IdP session is the proof; no token is ever issued for these pages) and answers 303 to
 *   the page it came from;
 * - **a change** (remove a device, change the password…) needs a recent authentication:
 *   {@link AccountGuard.requireRecentAuth} compares the age of `loginTs` (by the injectable clock)
 *   with ACCOUNT_REAUTH_SECONDS (default 300) — `max_age` semantics (OIDC Core §3.1.2.1) — and
 *   when older, 303 to `/account/signin?reauth=1&return=<path>`, an authorization request with
 *   `prompt=login` and `login_hint=<username>`: the password again (and "Verify your Account"
 *   unless the device is remembered). The sign-in's `loginTs` comes from the same clock
 *   (interactions/steps/login/account.ts `finishLogin`), so tests cross the limit with the
 *   manual clock.
 *
 * Return paths are same-origin paths only (`/…`, never `//…`), at most 200 characters.
 */

/** The signed-in person of an IdP page. */
export interface AccountSession {
  /** The account (OIDC `sub`). */
  accountId: string;
  /** The account, active (a disabled account or inactive producer reads as no session). */
  account: Account;
  /** oidc-provider's session id (`jti`, the `oidc_payloads` row id; changes at each sign-in). */
  sessionId: string;
  /** oidc-provider's session uid (stable for the browser's session; keys per-session records). */
  sessionUid: string;
  /** When the person last authenticated (OIDC `auth_time`), seconds since the epoch. */
  loginTs: number;
}

/** Cookie carrying the state and return path of a sign-in started by /account/signin (signed, 10 minutes). */
const SIGNIN_COOKIE = 'pidp.account.signin';
/** Lifetime of that cookie, seconds. */
const SIGNIN_COOKIE_SECONDS = 600;

/**
 * The path to come back to: a same-origin path (`/x…`, not `//` or `/\`), at most 200 characters;
 * anything else gives `/account`.
 */
export function safeReturnPath(value: unknown): string {
  if (typeof value !== 'string' || value.length > 200 || !/^\/(?![/\\])[\x21-\x7e]*$/.test(value)) return '/account';
  return value;
}

/**
 * The session guard (see the module comment): `new AccountGuard(services, provider)`. It keeps no
 * state of its own, so other pages may make their own instance (e.g. View/Add My Delegates:
 * `const s = await guard.require(ctx); if (!s) return;` then, before a change,
 * `if (!guard.requireRecentAuth(ctx, s, '/their/page')) return;`); its sign-in routes are mounted
 * once, by src/account/index.ts.
 */
export class AccountGuard {
  readonly #services: Services;
  readonly #provider: Provider;

  constructor(services: Services, provider: Provider) {
    this.#services = services;
    this.#provider = provider;
  }

  /**
   * The browser's IdP session and its account, or undefined when there is none (no cookie, an
   * expired or ended session, a session without a signed-in account, or an account that can no
   * longer sign in: disabled, or its producer inactive). A session found counts as activity of it
   * ("Signed-in sessions": browser and last activity, src/account/activity.ts).
   */
  async current(ctx: Context): Promise<AccountSession | undefined> {
    const session = await this.#provider.Session.get(ctx as never);
    const accountId = session.accountId;
    if (!accountId || typeof session.loginTs !== 'number' || (session as { new?: boolean }).new) return undefined;
    const account = await findAccountById(this.#services.db, accountId);
    if (!account || !isActive(account)) return undefined;
    const found = { accountId, account, sessionId: session.jti as string, sessionUid: session.uid as string, loginTs: session.loginTs };
    // An account page is activity of the session ("Signed-in sessions", src/account/activity.ts).
    await touchSession(this.#services.db, this.#services.clock, { sessionUid: found.sessionUid, accountId, userAgent: ctx.get('user-agent') || null, ip: ctx.ip });
    return found;
  }

  /**
   * The signed-in person, or — for an anonymous visitor — undefined after answering 303 to the
   * sign-in that returns to `returnTo` (default: the request's own path and query, for a GET).
   */
  async require(ctx: Context, returnTo?: string): Promise<AccountSession | undefined> {
    const s = await this.current(ctx);
    if (s) return s;
    this.#redirect(ctx, signInPath(returnTo ?? (ctx.method === 'GET' ? ctx.originalUrl : '/account'), false));
    return undefined;
  }

  /**
   * Age of the session's last authentication, seconds (by the injectable clock; never negative).
   */
  authAgeSeconds(s: AccountSession): number {
    return Math.max(0, Math.floor(this.#services.clock.now().getTime() / 1000) - s.loginTs);
  }

  /**
   * True when the last authentication is at most `maxAgeSeconds` old (default
   * ACCOUNT_REAUTH_SECONDS; OIDC Core §3.1.2.1 `max_age`). Otherwise answers 303 to the sign-in
   * again (`prompt=login`, the username pre-filled) that returns to `returnTo` (default: the
   * request's path for a GET, else `/account`) and returns false: the caller stops there.
   */
  requireRecentAuth(ctx: Context, s: AccountSession, returnTo?: string, maxAgeSeconds = this.#services.config.ACCOUNT_REAUTH_SECONDS): boolean {
    if (this.authAgeSeconds(s) <= maxAgeSeconds) return true;
    this.#redirect(ctx, signInPath(returnTo ?? (ctx.method === 'GET' ? ctx.originalUrl : '/account'), true));
    return false;
  }

  /**
   * Where to send a browser whose last authentication is older than `maxAgeSeconds` (default
   * ACCOUNT_REAUTH_SECONDS) before a change: `/account/signin?return=<returnTo>&reauth=1`; undefined
   * when it is recent enough. For steps that answer with a result rather than on `ctx` (the same
   * rule as {@link requireRecentAuth}).
   */
  reauthPathIfStale(s: AccountSession, returnTo: string, maxAgeSeconds = this.#services.config.ACCOUNT_REAUTH_SECONDS): string | undefined {
    return this.authAgeSeconds(s) <= maxAgeSeconds ? undefined : signInPath(returnTo, true);
  }

  #redirect(ctx: Context, to: string): void {
    ctx.status = 303;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(to);
  }

  /**
   * Mounts the sign-in of the IdP's pages:
   * - `GET /account/signin?return=<path>[&reauth=1]` → 303 to `/auth` of the `idp-account` client
   *   (response_type=code, scope=openid, state, PKCE S256; `prompt=login` and `login_hint` with
   *   `reauth=1` and a signed-in session);
   * - `GET /account/callback?code|error&state` → checks `state` against the browser's cookie
   *   (constant time), destroys the unused authorization code and answers 303 to the return path;
   *   `error` (the person cancelled or could not sign in) shows a page with a link to the portal.
   */
  routes(router: Router): void {
    const { config } = this.#services;
    const secure = config.NODE_ENV === 'production';
    router.get('/account/signin', async (ctx) => {
      const returnTo = safeReturnPath(ctx.query.return);
      const reauth = ctx.query.reauth === '1' ? await this.current(ctx) : undefined;
      const state = randomToken(24);
      const challenge = createHash('sha256').update(randomToken(32)).digest('base64url');
      ctx.cookies.set(SIGNIN_COOKIE, `${hashToken(state)}.${returnTo}`, { signed: true, httpOnly: true, sameSite: 'lax', secure, path: '/account', maxAge: SIGNIN_COOKIE_SECONDS * 1000, overwrite: true });
      const url = new URL('/auth', config.ISSUER);
      url.search = new URLSearchParams({
        client_id: ACCOUNT_CLIENT_ID,
        redirect_uri: new URL(ACCOUNT_CALLBACK_PATH, config.ISSUER).href,
        response_type: 'code',
        scope: 'openid',
        state,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        ...(reauth ? { prompt: 'login', login_hint: reauth.account.username } : {}),
      }).toString();
      this.#redirect(ctx, url.pathname + url.search);
    });
    router.get(ACCOUNT_CALLBACK_PATH, async (ctx) => {
      const raw = ctx.cookies.get(SIGNIN_COOKIE, { signed: true }) ?? '';
      ctx.cookies.set(SIGNIN_COOKIE, null, { path: '/account', signed: true, overwrite: true });
      const dot = raw.indexOf('.');
      const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
      const matches = dot > 0 && state.length > 0 && state.length <= 100 && safeEqual(raw.slice(0, dot), hashToken(state));
      const code = typeof ctx.query.code === 'string' && ctx.query.code.length <= 200 ? ctx.query.code : undefined;
      if (code) await (await this.#provider.AuthorizationCode.find(code))?.destroy();
      if (!matches || !code) {
        await render(ctx, 'idp/notice', { title: 'Sign-in not completed', formError: 'account.signin_incomplete', loginUrl: config.PORTAL_URL }, 400);
        return;
      }
      this.#redirect(ctx, safeReturnPath(raw.slice(dot + 1)));
    });
  }
}

/** `/account/signin?return=…[&reauth=1]`. */
function signInPath(returnTo: string, reauth: boolean): string {
  const q = new URLSearchParams({ return: safeReturnPath(returnTo) });
  if (reauth) q.set('reauth', '1');
  return `/account/signin?${q.toString()}`;
}
