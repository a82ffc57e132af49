/**
 * The producer portal: a Koa application that is only a relying party of the producer IdP.
 *
 * It signs people in with the OpenID Connect authorization code flow (PKCE S256, state, nonce;
 * OpenID Connect Core 1.0 §3.1), shows what the IdP releases about the producer (guide slide 18,
 * "Home Page") and logs out through RP-Initiated Logout 1.0. It never reads the IdP's database and
 * never sees a password.
 *
 * Routes:
 *   GET  /health                 200 {"status":"ok"} (public)
 *   GET  /css/portal.css         the stylesheet (public)
 *   GET  /callback               authorization response (public; 303 on success, 400 page otherwise)
 *   GET  /logged-out             "You have been logged out" (public)
 *   POST /logout                 CSRF-checked; ends the portal session, 303 to the IdP end_session_endpoint
 *   POST /backchannel-logout     logout token from the IdP (Back-Channel Logout 1.0); ends the matching sessions
 *   GET  /                       Home: navigation + My Information panel (signed-in)
 *   GET  /my-information         My Information panel (signed-in)
 *   GET  /quote-enroll, /commissions-reporting   the downstream application's link (signed-in)
 *   GET  /resources              the configured resources, by group (signed-in)
 *   GET|POST /report-issue       "How to report an Issue" (slide 19): form, mailed with its screenshot (signed-in)
 *   GET  /my-hierarchy, /my-delegates   placeholder pages, 200 (signed-in)
 * Any other request without a signed-in session starts sign-in (302 to the IdP).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import type { Context, Next } from 'koa';
import { Router } from '@koa/router';

import { IdpUnavailableError, RelyingParty } from './relying-party.ts';
import { addPendingSignIn, SessionStore, takePendingSignIn } from './session.ts';
import type { Session, SignedInUser } from './session.ts';
import { displayName } from './views.ts';
import { constantTimeEqual, readUrlEncodedForm, safeReturnTo, securityHeaders } from './security.ts';
import { baseModel, groupResources, myInformation, renderView } from './views.ts';
import type { Branding, HomeLink, ResourceLink } from './views.ts';
import { BadFormError, checkReport, echoValues, PRODUCT_TYPES, readMultipart, referenceNumber, reportMail, STATES, type Attachment, type FieldErrors } from './issue-report.ts';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { pm } from './messages.ts';
import type { PortalMessageCode } from './messages.ts';

/** What the IdP's hierarchy API answers (src/api/hierarchy.ts), as the page uses it. */
interface HierarchyView {
  producer: { producer_number: string; npn: string; name: string; agency_name: string | null; status: string };
  upline: HierarchyView['producer'][];
  downline: { total: number; offset: number; limit: number; items: (HierarchyView['producer'] & { depth: number; parent_producer_number: string | null })[] };
}

/** Minimal logger shape (pino-compatible: `logger.warn(obj, msg)`). */
export interface PortalLogger {
  info?(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface PortalOptions {
  /**
   * Public base URL of the portal, origin only (e.g. `http://localhost:3001`). Redirect URIs are
   * built from it, never from request headers: `<portalUrl>/callback` and `<portalUrl>/logged-out`.
   */
  portalUrl: string;
  /**
   * IdP issuer identifier (e.g. `http://localhost:3000`). Discovery at
   * `issuer + /.well-known/openid-configuration` happens on first need and is cached; a failure is
   * retried on the next request.
   */
  issuer: string;
  clientId: string;
  /** Secret of this confidential client, sent with client_secret_basic. */
  clientSecret: string;
  /** Koa keys for the signed session cookie (first key signs; all verify, for rotation). */
  cookieKeys: string[];
  /** Mark cookies Secure (and use the `__Host-` prefix). True in production (https). */
  secureCookies: boolean;
  /** Product name shown in the header and titles, e.g. "Producer Experience Portal". */
  productName: string;
  /** Organization name shown in the header, e.g. "Example Mutual". */
  organizationName: string;
  /** Allow an http: issuer (development and tests only). Ignored for https: issuers. */
  allowInsecureRequests?: boolean;
  /** Idle timeout of a signed-in session, milliseconds. Default 8 hours. */
  sessionIdleTimeoutMs?: number;
  /** Absolute lifetime of a session, milliseconds. Default 12 hours. */
  sessionAbsoluteTimeoutMs?: number;
  /** Clock, epoch milliseconds (tests). Default `Date.now`. */
  now?: () => number;
  /** Where to log sign-in failures and unexpected errors. Default: console. */
  logger?: PortalLogger;
  /**
   * The IdP's producer API for My Hierarchy: its resource indicator (RFC 8707) and the URL of
   * `GET /api/producers/me/hierarchy`. Without it My Hierarchy says it is not available.
   */
  hierarchyApi?: { resource: string; url: string };
  /** Downstream applications shown on Home (guide slide 18: Quote & Enroll, Commissions & Reporting). Default none. */
  homeLinks?: HomeLink[];
  /** The Resources page's entries. Default none. */
  resources?: ResourceLink[];
  /**
   * Report an Issue (guide slide 19): where reports are mailed and how. Without it the page shows
   * the guide's text and the support address only.
   */
  issueReports?: {
    to: string;
    send(mail: { to: string; subject: string; text: string; attachments: Attachment[] }): Promise<void>;
    /** Reports one signed-in person may send per hour. Default 5. */
    perHour?: number;
  };
}

const consoleLogger: PortalLogger = {
  warn: (obj, msg) => console.warn(`[portal] ${msg}`, obj),
  error: (obj, msg) => console.error(`[portal] ${msg}`, obj),
};

/** Placeholder sections (guide slide 18) that are not built yet: path → title. */
const NOT_BUILT: ReadonlyArray<readonly [string, string]> = [
  ['/my-delegates', 'View/Add My Delegates'],
];

/** Navigation entries that lead to a downstream application (a Home link of the same label). */
const APP_PAGES: ReadonlyArray<readonly [string, string]> = [
  ['/quote-enroll', 'Quote & Enroll'],
  ['/commissions-reporting', 'Commissions & Reporting'],
];

const STYLESHEET_PATH = fileURLToPath(new URL('../../public/css/portal.css', import.meta.url));

interface MessagePage {
  status: number;
  title: PortalMessageCode;
  message: PortalMessageCode;
  tone: 'info' | 'error';
  errorCode?: string;
  link?: { href: string; label: PortalMessageCode };
}

function parseOrigin(value: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${what} must be an absolute URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`${what} must be an http(s) URL`);
  if (url.search || url.hash || url.username || url.password) {
    throw new TypeError(`${what} must not carry a query, fragment or credentials`);
  }
  return url;
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

function describeError(err: unknown): object {
  if (!(err instanceof Error)) return { error: String(err) };
  const e = err as Error & { code?: unknown; error?: unknown; status?: unknown };
  return { name: e.name, message: e.message, code: e.code, oauthError: e.error, status: e.status };
}

/**
 * Creates the portal application (a Koa app; call `.listen()` or use `.callback()` yourself).
 *
 * @param opts see {@link PortalOptions}. The IdP must have this client registered with
 *   redirect_uris `[portalUrl + '/callback']`, post_logout_redirect_uris
 *   `[portalUrl + '/logged-out']`, grant type authorization_code, response type code and
 *   token_endpoint_auth_method client_secret_basic, and must support the scopes
 *   `openid profile email phone producer`.
 * @returns the Koa application. Nothing is fetched from the IdP until the first request needs it.
 * @throws TypeError when portalUrl or issuer is not an absolute http(s) URL, portalUrl has a path,
 *   the issuer is http: without `allowInsecureRequests`, or `cookieKeys` is empty.
 *
 * Sources: OpenID Connect Core 1.0 §3.1 (code flow), RFC 7636 (PKCE), OpenID Connect
 * RP-Initiated Logout 1.0 §2, user guide slide 18 (Home Page).
 */
// long-function: the relying party's composition root: every route of the portal, in one place (a split is a follow-up of issue 8).
export function createPortalApp(opts: PortalOptions): Koa {
  const portalUrl = parseOrigin(opts.portalUrl, 'portalUrl');
  if (portalUrl.pathname !== '/') throw new TypeError('portalUrl must be an origin without a path (the portal is served at /)');
  const issuer = parseOrigin(opts.issuer, 'issuer');
  const allowInsecure = issuer.protocol === 'http:';
  if (allowInsecure && !opts.allowInsecureRequests) {
    throw new TypeError('issuer is http: — set allowInsecureRequests (development and tests only) or use https');
  }
  if (!Array.isArray(opts.cookieKeys) || opts.cookieKeys.length === 0 || opts.cookieKeys.some((k) => !k)) {
    throw new TypeError('cookieKeys must be a non-empty array of non-empty strings');
  }

  const base = portalUrl.origin;
  const redirectUri = `${base}/callback`;
  const branding: Branding = { productName: opts.productName, organizationName: opts.organizationName };
  const logger = opts.logger ?? consoleLogger;
  const store = new SessionStore({
    idleTimeoutMs: opts.sessionIdleTimeoutMs,
    absoluteTimeoutMs: opts.sessionAbsoluteTimeoutMs,
    now: opts.now,
  });
  const rp = new RelyingParty({
    issuer,
    clientId: opts.clientId,
    clientSecret: opts.clientSecret,
    redirectUri,
    postLogoutRedirectUri: `${base}/logged-out`,
    allowInsecureRequests: allowInsecure,
    ...(opts.hierarchyApi ? { api: { resource: opts.hierarchyApi.resource, scope: 'hierarchy:read' } } : {}),
  });
  // `__Host-` binds the cookie to this exact origin (needs Secure, Path=/, no Domain). Without it,
  // the name still differs from the IdP's cookies, which matters when both run on localhost.
  const cookieName = opts.secureCookies ? '__Host-portal_sid' : 'portal_sid';

  const app = new Koa();
  app.keys = [...opts.cookieKeys];

  // ---- session plumbing -------------------------------------------------------------------

  function sessionOf(ctx: Context): Session | undefined {
    return ctx.state.portalSession as Session | undefined;
  }

  function setSessionCookie(ctx: Context, id: string | null): void {
    // The portal is reached over https whenever secureCookies is set (a TLS-terminating proxy may
    // sit in front), so tell the cookie library the connection is secure rather than trusting
    // X-Forwarded-Proto.
    if (opts.secureCookies) ctx.cookies.secure = true;
    ctx.cookies.set(cookieName, id, {
      signed: true,
      httpOnly: true,
      sameSite: 'lax',
      secure: opts.secureCookies,
      path: '/',
      overwrite: true,
    });
  }

  function ensureSession(ctx: Context): Session {
    let session = sessionOf(ctx);
    if (!session) {
      session = store.create();
      ctx.state.portalSession = session;
      setSessionCookie(ctx, session.id);
    }
    return session;
  }

  async function loadSession(ctx: Context, next: Next): Promise<void> {
    const id = ctx.cookies.get(cookieName, { signed: true });
    if (id) ctx.state.portalSession = store.get(id);
    await next();
  }

  // ---- rendering -----------------------------------------------------------------------------

  async function renderMessage(ctx: Context, page: MessagePage): Promise<void> {
    const session = sessionOf(ctx);
    const model = {
      ...baseModel(branding, pm(page.title), session?.data.user, session?.data.csrfToken, ctx.path),
      message: pm(page.message),
      tone: page.tone,
      errorCode: page.errorCode ?? null,
      link: page.link ? { href: page.link.href, label: pm(page.link.label) } : null,
    };
    ctx.status = page.status;
    ctx.type = 'html';
    ctx.body = await renderView('message', model);
  }

  async function renderPage(ctx: Context, view: string, title: string, extra: object = {}): Promise<void> {
    const session = sessionOf(ctx);
    ctx.status = 200;
    ctx.type = 'html';
    ctx.body = await renderView(view, {
      ...baseModel(branding, title, session?.data.user, session?.data.csrfToken, ctx.path),
      ...extra,
    });
  }

  async function idpUnavailable(ctx: Context, err: unknown, retryHref: string): Promise<void> {
    logger.error({ err: describeError(err), issuer: issuer.href }, 'the IdP could not be reached');
    await renderMessage(ctx, {
      status: 503,
      title: 'portal.idp_unavailable.title',
      message: 'portal.idp_unavailable.message',
      tone: 'error',
      link: { href: retryHref, label: 'portal.link.try_again' },
    });
  }

  // ---- sign-in ---------------------------------------------------------------------------------

  /** Sends the browser to the IdP's authorization endpoint, remembering where it wanted to go. */
  async function startSignIn(ctx: Context): Promise<void> {
    const wantsPage = ctx.method === 'GET' || ctx.method === 'HEAD';
    const returnTo = wantsPage ? safeReturnTo(ctx.originalUrl) : '/';
    let start;
    try {
      start = await rp.startSignIn(returnTo, store.now());
    } catch (err) {
      if (err instanceof IdpUnavailableError) return idpUnavailable(ctx, err, returnTo);
      throw err;
    }
    const session = ensureSession(ctx);
    addPendingSignIn(session.data, start.pending, store.now());
    ctx.status = 302;
    ctx.redirect(start.url.href);
  }

  async function requireUser(ctx: Context, next: Next): Promise<void> {
    if (sessionOf(ctx)?.data.user) return next();
    return startSignIn(ctx);
  }

  // ---- routes -----------------------------------------------------------------------------

  const publicRoutes = new Router();

  publicRoutes.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  let stylesheet: Buffer | undefined;
  publicRoutes.get('/css/portal.css', async (ctx) => {
    stylesheet ??= await readFile(STYLESHEET_PATH);
    ctx.type = 'text/css; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = stylesheet;
  });

  publicRoutes.get('/logged-out', async (ctx) => {
    await renderMessage(ctx, {
      status: 200,
      title: 'portal.logged_out.title',
      message: 'portal.logged_out.message',
      tone: 'info',
      link: { href: '/', label: 'portal.link.log_in_again' },
    });
  });

  // Authorization response (OpenID Connect Core 1.0 §3.1.2.5 / §3.1.2.6).
  publicRoutes.get('/callback', async (ctx) => {
    const session = sessionOf(ctx);
    const state = single(ctx.query.state);
    const pending = session && state ? takePendingSignIn(session.data, state, store.now()) : undefined;
    const retryHref = pending?.returnTo ?? '/';

    const idpError = ctx.query.error;
    if (idpError !== undefined) {
      // e.g. access_denied when the person rejected the terms of use. Only the code is shown:
      // error_description is attacker-controllable text in a link and is not echoed.
      const errorCode = displayableErrorCode(idpError);
      logger.warn({ oauthError: errorCode, knownState: Boolean(pending) }, 'the IdP returned an error to /callback');
      if (errorCode === 'temporarily_unavailable') {
        // RFC 6749 §4.1.2.1: the IdP could not answer (e.g. its database is down): a 503, not a fault of the person.
        ctx.set('Retry-After', '30');
        return renderMessage(ctx, {
          status: 503,
          title: 'portal.idp_unavailable.title',
          message: 'portal.idp_unavailable.message',
          tone: 'error',
          link: { href: retryHref, label: 'portal.link.try_again' },
        });
      }
      return renderMessage(ctx, {
        status: 400,
        title: 'portal.signin_incomplete.title',
        message: 'portal.signin_incomplete.idp_error',
        tone: 'error',
        errorCode,
        link: { href: retryHref, label: 'portal.link.try_again' },
      });
    }

    const badCallback = (): Promise<void> =>
      renderMessage(ctx, {
        status: 400,
        title: 'portal.signin_incomplete.title',
        message: 'portal.signin_incomplete.bad_callback',
        tone: 'error',
        link: { href: retryHref, label: 'portal.link.try_again' },
      });

    if (!session || !pending) {
      logger.warn({ hasSession: Boolean(session), hasState: Boolean(state) }, 'callback without a matching sign-in (wrong, stale or replayed state)');
      return badCallback();
    }

    // Rebuilt from the configured portal URL, never from Host / X-Forwarded-* headers.
    const callbackUrl = new URL(redirectUri);
    callbackUrl.search = ctx.querystring;
    let user: SignedInUser;
    try {
      user = await rp.completeSignIn(callbackUrl, pending, store.now());
    } catch (err) {
      if (isTransportFailure(err)) return idpUnavailable(ctx, err, retryHref);
      logger.warn({ err: describeError(err) }, 'sign-in callback rejected');
      return badCallback();
    }

    const fresh = store.rotate(session, user);
    ctx.state.portalSession = fresh;
    setSessionCookie(ctx, fresh.id);
    ctx.status = 303;
    ctx.redirect(pending.returnTo);
  });

  // OpenID Connect Back-Channel Logout 1.0 §2.5: the IdP POSTs a logout token (server to server,
  // no cookie, no CSRF token); the portal ends the matching sessions and answers 200, or 400
  // {"error":"invalid_request"} for a token that does not validate (§2.8).
  publicRoutes.post('/backchannel-logout', async (ctx) => {
    const form = await readUrlEncodedForm(ctx, 16384);
    const token = form.get('logout_token');
    ctx.set('Cache-Control', 'no-store');
    try {
      if (!token) throw new Error('logout_token is missing');
      const { sub, sid } = await rp.validateLogoutToken(token, store.now());
      store.endForIdpSession(sub, sid);
      ctx.status = 200;
      ctx.body = '';
    } catch (err) {
      logger.warn({ err: describeError(err) }, 'back-channel logout token refused');
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: 'the logout token is not valid' };
    }
  });

  // RP-Initiated Logout 1.0 §2.
  publicRoutes.post('/logout', async (ctx) => {
    const session = sessionOf(ctx);
    const form = await readUrlEncodedForm(ctx);
    if (session && !constantTimeEqual(form.get('_csrf') ?? undefined, session.data.csrfToken)) {
      return renderMessage(ctx, {
        status: 403,
        title: 'portal.csrf.title',
        message: 'portal.csrf.message',
        tone: 'error',
        link: { href: '/', label: 'portal.link.home' },
      });
    }
    const idToken = session?.data.user?.idToken;
    if (session) store.destroy(session.id);
    ctx.state.portalSession = undefined;
    setSessionCookie(ctx, null);

    // Without a portal session (expired, or a cross-site POST, which SameSite=Lax strips of the
    // cookie) the IdP is still asked to end its session, without a hint: it then asks the person
    // to confirm, so this cannot be abused to log anyone out silently.
    let target = `${base}/logged-out`;
    try {
      const url = await rp.endSessionUrl(idToken);
      if (url) target = url.href;
    } catch (err) {
      logger.warn({ err: describeError(err) }, 'could not build the end-session URL; logging out of the portal only');
    }
    ctx.status = 303;
    ctx.redirect(target);
  });

  const privateRoutes = new Router();

  const homeLinks = opts.homeLinks ?? [];
  privateRoutes.get('/', async (ctx) => {
    const user = sessionOf(ctx)!.data.user!;
    await renderPage(ctx, 'home', 'Home', { info: myInformation(user), homeLinks });
  });

  for (const [path, title] of APP_PAGES) {
    privateRoutes.get(path, async (ctx) => {
      await renderPage(ctx, 'app-link', title, { link: homeLinks.find((l) => l.label === title) ?? null });
    });
  }

  const resourceGroups = groupResources(opts.resources ?? []);
  privateRoutes.get('/resources', async (ctx) => {
    await renderPage(ctx, 'resources', 'Resources', { groups: resourceGroups });
  });

  // ---- Report an Issue (guide slide 19) ----------------------------------------------------------

  const reports = opts.issueReports;
  const reportLimiter = new RateLimiterMemory({ points: reports?.perHour ?? 5, duration: 3600 });
  const agentOf = (user: SignedInUser) => {
    const producerId = typeof user.claims.producer_number === 'string' ? user.claims.producer_number : user.sub;
    return { name: displayName(user), producerId, email: typeof user.claims.email === 'string' ? user.claims.email : undefined };
  };
  const localNow = () => new Date(store.now()).toISOString().slice(0, 16);
  async function reportForm(ctx: Context, status: number, values: Record<string, string>, errors: FieldErrors, formError: string | null): Promise<void> {
    const user = sessionOf(ctx)!.data.user!;
    const agent = agentOf(user);
    const messages = Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, pm(v as PortalMessageCode)]));
    await renderPage(ctx, 'report-issue', 'Report an Issue', {
      values, errors: messages, formError, agent: `${agent.name} / ${agent.producerId}`,
      productTypes: PRODUCT_TYPES, states: STATES, supportEmail: reports?.to ?? null,
    });
    ctx.status = status;
  }

  privateRoutes.get('/report-issue', async (ctx) => {
    await reportForm(ctx, 200, { ...echoValues({}), observedAt: localNow() }, {}, null);
  });

  privateRoutes.post('/report-issue', async (ctx) => {
    const session = sessionOf(ctx)!;
    const user = session.data.user!;
    let form;
    try {
      form = await readMultipart(ctx.req);
    } catch (err) {
      if (!(err instanceof BadFormError)) throw err;
      return reportForm(ctx, 400, { ...echoValues({}), observedAt: localNow() }, {}, pm('report.form_error'));
    }
    if (!constantTimeEqual(form.fields._csrf, session.data.csrfToken)) {
      return renderMessage(ctx, { status: 403, title: 'portal.csrf.title', message: 'portal.csrf.message', tone: 'error', link: { href: '/report-issue', label: 'portal.link.try_again' } });
    }
    const values = echoValues(form.fields);
    const checked = await checkReport(form, new Date(store.now()));
    if (!checked.ok) return reportForm(ctx, 422, values, checked.errors, pm('report.form_error'));
    if (!reports) return reportForm(ctx, 503, values, {}, pm('report.send_failed'));
    try {
      await reportLimiter.consume(user.sub);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      ctx.set('Retry-After', String(Math.ceil(err.msBeforeNext / 1000)));
      return renderMessage(ctx, { status: 429, title: 'portal.rate_limited.title', message: 'portal.rate_limited.message', tone: 'error', link: { href: '/', label: 'portal.link.home' } });
    }
    const reference = referenceNumber();
    try {
      await reports.send(reportMail(reports.to, reference, checked.report, agentOf(user), opts.productName));
    } catch (err) {
      logger.error({ err: describeError(err) }, 'issue report could not be mailed');
      await reportLimiter.reward(user.sub).catch(() => undefined);
      return reportForm(ctx, 502, values, {}, pm('report.send_failed'));
    }
    (logger.info ?? logger.warn).call(logger, { reference, producerId: agentOf(user).producerId }, 'issue report sent');
    await renderPage(ctx, 'report-sent', 'Report sent', { reference });
  });

  privateRoutes.get('/my-information', async (ctx) => {
    const user = sessionOf(ctx)!.data.user!;
    await renderPage(ctx, 'my-information', 'My Information', { info: myInformation(user) });
  });

  // ---- My Hierarchy (guide slide 18): from the IdP's API with the signed-in producer's token ----
  privateRoutes.get('/my-hierarchy', async (ctx) => {
    const user = sessionOf(ctx)!.data.user!;
    const pageSize = 25;
    const requested = Number(ctx.query.page ?? 1);
    const page = Number.isInteger(requested) && requested >= 1 && requested <= 10_000 ? requested : 1;
    const result = opts.hierarchyApi ? await fetchHierarchy(user, opts.hierarchyApi.url, (page - 1) * pageSize, pageSize) : undefined;
    await renderPage(ctx, 'my-hierarchy', 'My Hierarchy', {
      hierarchy: result ?? null,
      page,
      pages: result ? Math.max(1, Math.ceil(result.downline.total / pageSize)) : 1,
    });
  });

  /**
   * Calls the hierarchy API with the user's API access token, renewing it once (refresh grant with
   * `resource`) when it expired or was refused; undefined when no token can be had.
   */
  async function fetchHierarchy(user: SignedInUser, url: string, offset: number, limit: number): Promise<HierarchyView | undefined> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!user.api) return undefined;
      if (attempt === 1 || user.api.expiresAt <= store.now() + 5_000) {
        try {
          user.api = await rp.apiGrant(user.api.refreshToken, store.now());
        } catch (err) {
          logger.warn({ err: describeError(err) }, 'could not renew the hierarchy API token');
          user.api = undefined;
          return undefined;
        }
        if (!user.api) return undefined;
      }
      const res = await fetch(`${url}?offset=${offset}&limit=${limit}`, { headers: { authorization: `Bearer ${user.api.accessToken}` }, signal: AbortSignal.timeout(5000) });
      if (res.status === 401 && attempt === 0) continue;
      if (!res.ok) {
        logger.warn({ status: res.status }, 'the hierarchy API refused');
        return undefined;
      }
      return (await res.json()) as HierarchyView;
    }
    return undefined;
  }

  for (const [path, title] of NOT_BUILT) {
    privateRoutes.get(path, async (ctx) => {
      await renderPage(ctx, 'not-built', title);
    });
  }

  // ---- middleware stack --------------------------------------------------------------------

  app.use(securityHeaders(rp.issuerOrigin));

  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const status = (err as { status?: unknown }).status;
      const expose = (err as { expose?: unknown }).expose === true;
      if (typeof status === 'number' && status >= 400 && status < 500 && expose) {
        ctx.status = status;
        ctx.type = 'text';
        ctx.body = (err as Error).message;
        return;
      }
      logger.error({ err: describeError(err), path: ctx.path }, 'unexpected error');
      try {
        await renderMessage(ctx, {
          status: 500,
          title: 'portal.server_error.title',
          message: 'portal.server_error.message',
          tone: 'error',
          link: { href: '/', label: 'portal.link.home' },
        });
      } catch {
        ctx.status = 500;
        ctx.type = 'text';
        ctx.body = pm('portal.server_error.message');
      }
    }
  });

  app.use(loadSession);
  app.use(publicRoutes.routes());
  app.use(async (ctx, next) => {
    // Other stylesheets and the browser's automatic favicon request: answer without starting a sign-in.
    if (ctx.path.startsWith('/css/') || ctx.path === '/favicon.ico') {
      ctx.status = 404;
      return;
    }
    await next();
  });
  app.use(requireUser);
  app.use(privateRoutes.routes());
  app.use(async (ctx) => {
    if (ctx.status === 404 && ctx.body == null) {
      await renderMessage(ctx, {
        status: 404,
        title: 'portal.not_found.title',
        message: 'portal.not_found.message',
        tone: 'error',
        link: { href: '/', label: 'portal.link.home' },
      });
    }
  });

  return app;
}
