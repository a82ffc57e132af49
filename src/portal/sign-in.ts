/**
 * The sign-in plumbing every relying party of this repository shares (the portal and the example
 * downstream application): the session cookie, loading and saving the session around each request,
 * starting sign-in, the authorization response, RP-Initiated Logout, Back-Channel Logout and the
 * error pages. Each application adds only its own pages.
 */
import type { Context, Next } from 'koa';
import { Router } from '@koa/router';

import { IdpUnavailableError, type RelyingParty } from './relying-party.ts';
import { addPendingSignIn, guardedStore, SessionStoreUnavailableError, takePendingSignIn } from './session.ts';
import type { Session, SessionStore, SignedInUser } from './session.ts';
import { constantTimeEqual, readUrlEncodedForm, safeReturnTo } from './security.ts';
import { pm, type PortalMessageCode } from './messages.ts';

/** Minimal logger shape (pino-compatible: `logger.warn(obj, msg)`). */
export interface PortalLogger {
  info?(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** A message page (sign-in failed, logged out, not found, …), rendered by the application. */
export interface MessagePage {
  status: number;
  title: PortalMessageCode;
  message: PortalMessageCode;
  tone: 'info' | 'error';
  errorCode?: string;
  link?: { href: string; label: PortalMessageCode };
}

export interface SignInOptions {
  rp: RelyingParty;
  store: SessionStore;
  /** Public origin of the application, e.g. `http://localhost:3001`; the callback URL is rebuilt from it. */
  baseUrl: string;
  /** Name of the session cookie (signed with the Koa app's keys). */
  cookieName: string;
  /** Mark the cookie Secure (the application is reached over https). */
  secureCookies: boolean;
  logger: PortalLogger;
  /** Renders a message page with the application's layout. */
  renderMessage(ctx: Context, page: MessagePage): Promise<void>;
}

/** An OAuth error code fit for display (RFC 6749 §4.1.2.1 codes are short ASCII words). */
function displayableErrorCode(value: unknown): string {
  return typeof value === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(value) ? value : 'invalid_response';
}

function single(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** True for failures to reach the IdP (network, timeout), as opposed to a refused or invalid response. */
function isTransportFailure(err: unknown): boolean {
  if (err instanceof IdpUnavailableError) return true;
  if (err instanceof TypeError && !('code' in err)) return true; // undici "fetch failed"
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
}

/** A loggable summary of an error (never the stack of a token or a secret). */
export function describeError(err: unknown): object {
  if (!(err instanceof Error)) return { error: String(err) };
  const e = err as Error & { code?: unknown; error?: unknown; status?: unknown };
  return { name: e.name, message: e.message, code: e.code, oauthError: e.error, status: e.status };
}

interface State {
  session?: Session;
  /** JSON of the session's data as loaded (saved again only when it changed). */
  loaded?: string;
  /** A cookie named a session that no longer exists. */
  ended?: boolean;
}

/**
 * The sign-in plumbing of one relying party. Its members are bound (usable as Koa middleware as
 * they are).
 * Sources: OpenID Connect Core 1.0 §3.1 (code flow, with PKCE per RFC 7636), OpenID Connect
 * RP-Initiated Logout 1.0 §2, OpenID Connect Back-Channel Logout 1.0 §2.5–§2.8.
 */
export class SignIn {
  readonly #o: SignInOptions;
  /** GET /callback, GET /logged-out, POST /logout, POST /backchannel-logout. */
  readonly routes = new Router();

  constructor(options: SignInOptions) {
    this.#o = { ...options, store: guardedStore(options.store) };
    this.routes.get('/callback', this.#callback);
    this.routes.get('/logged-out', this.#loggedOut);
    this.routes.post('/backchannel-logout', this.#backchannelLogout);
    this.routes.post('/logout', this.#logout);
  }

  #state(ctx: Context): State {
    return (ctx.state.rpSession ??= {}) as State;
  }

  #use(ctx: Context, session: Session | undefined): void {
    const s = this.#state(ctx);
    s.session = session;
    s.loaded = session ? JSON.stringify(session.data) : undefined;
  }

  #setCookie(ctx: Context, id: string | null): void {
    // The application is reached over https whenever secureCookies is set (a TLS-terminating proxy
    // may sit in front), so tell the cookie library the connection is secure rather than trusting
    // X-Forwarded-Proto.
    if (this.#o.secureCookies) ctx.cookies.secure = true;
    ctx.cookies.set(this.#o.cookieName, id, { signed: true, httpOnly: true, sameSite: 'lax', secure: this.#o.secureCookies, path: '/', overwrite: true });
  }

  /** The request's session, if any. */
  readonly sessionOf = (ctx: Context): Session | undefined => this.#state(ctx).session;

  /** True when the browser sent a session cookie whose session no longer exists (ended or expired). */
  readonly sessionEnded = (ctx: Context): boolean => this.#state(ctx).ended === true;

  /** Clears the session cookie (after telling the person their session ended). */
  readonly forget = (ctx: Context): void => this.#setCookie(ctx, null);

  /** Middleware: loads the session named by the cookie before, and saves it (when changed) after, the rest of the request. */
  readonly sessions = async (ctx: Context, next: Next): Promise<void> => {
    const id = ctx.cookies.get(this.#o.cookieName, { signed: true });
    if (id) {
      const session = await this.#o.store.get(id);
      this.#use(ctx, session);
      if (!session) this.#state(ctx).ended = true;
    }
    await next();
    const s = this.#state(ctx);
    if (s.session && JSON.stringify(s.session.data) !== s.loaded) await this.#o.store.save(s.session);
  };

  /** Middleware: continues for a signed-in session, starts sign-in otherwise. */
  readonly requireUser = async (ctx: Context, next: Next): Promise<void> => {
    if (this.sessionOf(ctx)?.data.user) return next();
    return this.startSignIn(ctx);
  };

  /** Renders the "IdP could not be reached" page (503) with a retry link. */
  readonly idpUnavailable = async (ctx: Context, err: unknown, retryHref: string): Promise<void> => {
    this.#o.logger.error({ err: describeError(err) }, 'the IdP could not be reached');
    await this.#o.renderMessage(ctx, { status: 503, title: 'portal.idp_unavailable.title', message: 'portal.idp_unavailable.message', tone: 'error', link: { href: retryHref, label: 'portal.link.try_again' } });
  };

  /**
   * Sends the browser to the IdP's authorization endpoint (code flow, PKCE S256, state, nonce),
   * remembering in the session where to return: `returnTo` when given (checked by safeReturnTo),
   * else the requested path for GET/HEAD, else `/`.
   */
  readonly startSignIn = async (ctx: Context, returnTo?: string): Promise<void> => {
    const { rp, store } = this.#o;
    const wantsPage = ctx.method === 'GET' || ctx.method === 'HEAD';
    const target = safeReturnTo(returnTo ?? (wantsPage ? ctx.originalUrl : '/'));
    let start;
    try {
      start = await rp.startSignIn(target, store.now());
    } catch (err) {
      if (err instanceof IdpUnavailableError) return this.idpUnavailable(ctx, err, target);
      throw err;
    }
    let session = this.sessionOf(ctx);
    if (!session) {
      session = await store.create();
      this.#use(ctx, session);
      this.#setCookie(ctx, session.id);
    }
    addPendingSignIn(session.data, start.pending, store.now());
    ctx.status = 302;
    ctx.redirect(start.url.href);
  };

  /** Middleware: turns exceptions into the 500 page (exposed 4xx errors into short text answers). */
  readonly errors = async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (err) {
      const status = (err as { status?: unknown }).status;
      if (typeof status === 'number' && status >= 400 && status < 500 && (err as { expose?: unknown }).expose === true) {
        ctx.status = status;
        ctx.type = 'text';
        ctx.body = (err as Error).message;
        return;
      }
      const storeDown = err instanceof SessionStoreUnavailableError;
      this.#o.logger.error({ err: describeError(storeDown ? err.cause : err), path: ctx.path }, storeDown ? 'the session store could not be reached' : 'unexpected error');
      try {
        if (storeDown) {
          // The database is down (or failing): not the person's fault, and worth trying again.
          ctx.set('Retry-After', '30');
          const retry = ctx.method === 'GET' ? safeReturnTo(ctx.originalUrl) : '/';
          return await this.#o.renderMessage(ctx, { status: 503, title: 'portal.unavailable.title', message: 'portal.unavailable.message', tone: 'error', link: { href: retry, label: 'portal.link.try_again' } });
        }
        await this.#o.renderMessage(ctx, { status: 500, title: 'portal.server_error.title', message: 'portal.server_error.message', tone: 'error', link: { href: '/', label: 'portal.link.home' } });
      } catch {
        ctx.status = 500;
        ctx.type = 'text';
        ctx.body = pm('portal.server_error.message');
      }
    }
  };

  // Authorization response (OpenID Connect Core 1.0 §3.1.2.5 / §3.1.2.6).
  readonly #callback = async (ctx: Context): Promise<void> => {
    const { rp, store, logger } = this.#o;
    const session = this.sessionOf(ctx);
    const stateParam = single(ctx.query.state);
    const pending = session && stateParam ? takePendingSignIn(session.data, stateParam, store.now()) : undefined;
    const retryHref = pending?.returnTo ?? '/';
    const incomplete = (message: PortalMessageCode, errorCode?: string) =>
      this.#o.renderMessage(ctx, { status: 400, title: 'portal.signin_incomplete.title', message, tone: 'error', errorCode, link: { href: retryHref, label: 'portal.link.try_again' } });

    if (ctx.query.error !== undefined) {
      // e.g. access_denied when the person rejected the terms of use. Only the code is shown:
      // error_description is attacker-controllable text in a link and is not echoed.
      const errorCode = displayableErrorCode(ctx.query.error);
      logger.warn({ oauthError: errorCode, knownState: Boolean(pending) }, 'the IdP returned an error to /callback');
      if (errorCode === 'temporarily_unavailable') {
        // RFC 6749 §4.1.2.1: the IdP could not answer (e.g. its database is down): a 503, not a fault of the person.
        ctx.set('Retry-After', '30');
        return this.#o.renderMessage(ctx, { status: 503, title: 'portal.idp_unavailable.title', message: 'portal.idp_unavailable.message', tone: 'error', link: { href: retryHref, label: 'portal.link.try_again' } });
      }
      return incomplete('portal.signin_incomplete.idp_error', errorCode);
    }
    if (!session || !pending) {
      logger.warn({ hasSession: Boolean(session), hasState: Boolean(stateParam) }, 'callback without a matching sign-in (wrong, stale or replayed state)');
      return incomplete('portal.signin_incomplete.bad_callback');
    }
    // Rebuilt from the configured URL, never from Host / X-Forwarded-* headers.
    const callbackUrl = new URL(`${this.#o.baseUrl}/callback`);
    callbackUrl.search = ctx.querystring;
    let user: SignedInUser;
    try {
      user = await rp.completeSignIn(callbackUrl, pending, store.now());
    } catch (err) {
      if (isTransportFailure(err)) return this.idpUnavailable(ctx, err, retryHref);
      logger.warn({ err: describeError(err) }, 'sign-in callback rejected');
      return incomplete('portal.signin_incomplete.bad_callback');
    }
    const fresh = await store.rotate(session, user);
    this.#use(ctx, fresh);
    this.#setCookie(ctx, fresh.id);
    ctx.status = 303;
    ctx.redirect(pending.returnTo);
  };

  readonly #loggedOut = async (ctx: Context): Promise<void> => {
    await this.#o.renderMessage(ctx, { status: 200, title: 'portal.logged_out.title', message: 'portal.logged_out.message', tone: 'info', link: { href: '/', label: 'portal.link.log_in_again' } });
  };

  // OpenID Connect Back-Channel Logout 1.0 §2.5: the IdP POSTs a logout token (server to server,
  // no cookie, no CSRF token); the sessions of its sub/sid end in the shared store (every replica),
  // answered 200, or 400 {"error":"invalid_request"} for a token that does not validate (§2.8).
  readonly #backchannelLogout = async (ctx: Context): Promise<void> => {
    const form = await readUrlEncodedForm(ctx, 16384);
    const token = form.get('logout_token');
    ctx.set('Cache-Control', 'no-store');
    let claims;
    try {
      if (!token) throw new Error('logout_token is missing');
      claims = await this.#o.rp.validateLogoutToken(token, this.#o.store.now());
    } catch (err) {
      this.#o.logger.warn({ err: describeError(err) }, 'back-channel logout token refused');
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: 'the logout token is not valid' };
      return;
    }
    // A store failure is a 500 (§2.8: the IdP retries), not a refused token.
    await this.#o.store.endForIdpSession(claims.sub, claims.sid);
    ctx.status = 200;
    ctx.body = '';
  };

  // RP-Initiated Logout 1.0 §2.
  readonly #logout = async (ctx: Context): Promise<void> => {
    const session = this.sessionOf(ctx);
    const form = await readUrlEncodedForm(ctx);
    if (session && !constantTimeEqual(form.get('_csrf') ?? undefined, session.data.csrfToken)) {
      return this.#o.renderMessage(ctx, { status: 403, title: 'portal.csrf.title', message: 'portal.csrf.message', tone: 'error', link: { href: '/', label: 'portal.link.home' } });
    }
    const idToken = session?.data.user?.idToken;
    if (session) await this.#o.store.destroy(session.id);
    this.#use(ctx, undefined);
    this.#setCookie(ctx, null);
    // Without a session (expired, or a cross-site POST, which SameSite=Lax strips of the cookie)
    // the IdP is still asked to end its session, without a hint: it then asks the person to
    // confirm, so this cannot be abused to log anyone out silently.
    let target = `${this.#o.baseUrl}/logged-out`;
    try {
      const url = await this.#o.rp.endSessionUrl(idToken);
      if (url) target = url.href;
    } catch (err) {
      this.#o.logger.warn({ err: describeError(err) }, 'could not build the end-session URL; logging out of this application only');
    }
    ctx.status = 303;
    ctx.redirect(target);
  };
}
