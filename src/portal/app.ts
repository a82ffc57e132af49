/**
 * The producer portal: a Koa application that is only a relying party of the producer IdP.
 *
 * It signs people in with the OpenID Connect authorization code flow (PKCE S256, state, nonce;
 * OpenID Connect Core 1.0 §3.1), shows what the IdP releases about the producer (guide slide 18,
 * "Home Page") and logs out through RP-Initiated Logout 1.0. It never reads the IdP's database and
 * never sees a password. Sign-in, sessions and logout are the shared plumbing of src/portal/sign-in.ts.
 *
 * Routes:
 *   GET  /health                 200 {"status":"ok"} (public)
 *   GET  /css/portal.css         the stylesheet (public)
 *   GET  /callback               authorization response (public; 303 on success, 400 page otherwise)
 *   GET  /logged-out             "You have been logged out" (public)
 *   POST /logout                 CSRF-checked; ends the portal session, 303 to the IdP end_session_endpoint
 *   POST /backchannel-logout     logout token from the IdP (Back-Channel Logout 1.0); ends the matching sessions
 *   GET  /                       Home: navigation + My Information panel (signed-in)
 *   GET  /my-information         My Information panel and "Manage sign-in and security" (the IdP's /account) (signed-in)
 *   GET  /my-hierarchy           upline and downline from the IdP's producer API (signed-in)
 *   GET  /quote-enroll, /commissions-reporting   the downstream application's link (signed-in)
 *   GET  /resources              the configured resources, by group (signed-in)
 *   GET|POST /report-issue       "How to report an Issue" (slide 19): form, mailed with its screenshot (signed-in)
 *   GET  /my-delegates           302 to the IdP's View/Add My Delegates (ISSUER/delegates) (signed-in producer; a delegate: 403 page)
 * Any other request without a signed-in session starts sign-in (302 to the IdP).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import type { Context, Next } from 'koa';
import { Router } from '@koa/router';

import { RelyingParty } from './relying-party.ts';
import { MemorySessionStore } from './session.ts';
import type { SessionStore, SignedInUser } from './session.ts';
import { describeError, SignIn, type MessagePage, type PortalLogger } from './sign-in.ts';
import { constantTimeEqual, securityHeaders } from './security.ts';
import { baseModel, groupResources, mayUse, myInformation, NAV_ITEMS, renderView, reportingAgent, usableLinks, workingFor } from './views.ts';
import type { Branding, HomeLink, NavItem, ResourceLink } from './views.ts';
import { agentLine, BadFormError, checkReport, echoValues, PRODUCT_TYPES, readMultipart, referenceNumber, reportMail, STATES, type Attachment, type FieldErrors } from './issue-report.ts';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { pm } from './messages.ts';
import type { PortalMessageCode } from './messages.ts';

export type { PortalLogger } from './sign-in.ts';

/** What the IdP's hierarchy API answers (src/api/hierarchy.ts), as the page uses it. */
interface HierarchyView {
  producer: { producer_number: string; npn: string; name: string; agency_name: string | null; status: string };
  upline: HierarchyView['producer'][];
  downline: { total: number; offset: number; limit: number; items: (HierarchyView['producer'] & { depth: number; parent_producer_number: string | null })[] };
}

/** Options every relying party of this repository takes (the portal, the example application). */
export interface RelyingPartyAppOptions {
  /** Public base URL, origin only (e.g. `http://localhost:3001`); redirect URIs are built from it, never from request headers. */
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
  /**
   * Where sessions are kept. Default: in this process's memory (one replica only); `npm start`
   * passes a {@link PgSessionStore} so that replicas share them.
   */
  sessions?: SessionStore;
  /** Clock, epoch milliseconds (tests). Default `Date.now`. Used by the default session store. */
  now?: () => number;
  /** Where to log sign-in failures and unexpected errors. Default: console. */
  logger?: PortalLogger;
}

export interface PortalOptions extends RelyingPartyAppOptions {
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

/** Placeholder sections (guide slide 18) that are not built yet: path → title. */
const NOT_BUILT: ReadonlyArray<readonly [string, string]> = [];

/** Navigation entries that lead to a downstream application (a Home link of the same label). */
const APP_PAGES: ReadonlyArray<readonly [string, string]> = [
  ['/quote-enroll', 'Quote & Enroll'],
  ['/commissions-reporting', 'Commissions & Reporting'],
];

const STYLESHEET_PATH = fileURLToPath(new URL('../../public/css/portal.css', import.meta.url));

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

/** A relying party's Koa app, sign-in plumbing and page renderers: what {@link createRelyingPartyApp} gives an application. */
export interface RelyingPartyApp {
  app: Koa;
  rp: RelyingParty;
  signIn: SignIn;
  store: SessionStore;
  logger: PortalLogger;
  renderMessage(ctx: Context, page: MessagePage): Promise<void>;
  renderPage(ctx: Context, view: string, title: string, extra?: object): Promise<void>;
  /**
   * Adds the middleware stack around the application's routes: security headers, error pages,
   * sessions, the public routes (health, stylesheet, sign-in and logout routes), then
   * `requireUser` (unless `open`) before `privateRoutes`, then the 404 page.
   */
  mount(privateRoutes: Router, open?: boolean): void;
}

/**
 * The part every relying party of this repository shares: option checks, the relying party
 * (openid-client), the session store, the sign-in plumbing and the views of views/portal/.
 * @param nav the navigation shown to signed-in people (the portal's by default; none for an application without one).
 * @param cookieName base name of the session cookie (`__Host-` is prefixed with secureCookies).
 * @throws TypeError when portalUrl or issuer is not an absolute http(s) URL, portalUrl has a path,
 *   the issuer is http: without `allowInsecureRequests`, or `cookieKeys` is empty.
 */
export function createRelyingPartyApp(opts: RelyingPartyAppOptions & { api?: { resource: string; scope: string }; scope?: string }, nav: readonly NavItem[], cookieName: string): RelyingPartyApp {
  const base = parseOrigin(opts.portalUrl, 'portalUrl');
  if (base.pathname !== '/') throw new TypeError('portalUrl must be an origin without a path (the application is served at /)');
  const issuer = parseOrigin(opts.issuer, 'issuer');
  const allowInsecure = issuer.protocol === 'http:';
  if (allowInsecure && !opts.allowInsecureRequests) throw new TypeError('issuer is http: — set allowInsecureRequests (development and tests only) or use https');
  if (!Array.isArray(opts.cookieKeys) || opts.cookieKeys.length === 0 || opts.cookieKeys.some((k) => !k)) throw new TypeError('cookieKeys must be a non-empty array of non-empty strings');

  const branding: Branding = { productName: opts.productName, organizationName: opts.organizationName };
  const logger = opts.logger ?? { warn: (obj, msg) => console.warn(`[${opts.clientId}] ${msg}`, obj), error: (obj, msg) => console.error(`[${opts.clientId}] ${msg}`, obj) };
  const store = opts.sessions ?? new MemorySessionStore({ idleTimeoutMs: opts.sessionIdleTimeoutMs, absoluteTimeoutMs: opts.sessionAbsoluteTimeoutMs, now: opts.now });
  const rp = new RelyingParty({
    issuer, clientId: opts.clientId, clientSecret: opts.clientSecret, redirectUri: `${base.origin}/callback`, postLogoutRedirectUri: `${base.origin}/logged-out`,
    allowInsecureRequests: allowInsecure, ...(opts.api ? { api: opts.api } : {}), ...(opts.scope ? { scope: opts.scope } : {}),
  });
  const page = async (ctx: Context, status: number, view: string, title: string, extra: object) => {
    const session = signIn.sessionOf(ctx);
    ctx.body = await renderView(view, { ...baseModel(branding, title, session?.data.user, session?.data.csrfToken, ctx.path, nav), ...extra });
    ctx.status = status;
    ctx.type = 'html';
  };
  const renderMessage = (ctx: Context, m: MessagePage) =>
    page(ctx, m.status, 'message', pm(m.title), { message: pm(m.message), tone: m.tone, errorCode: m.errorCode ?? null, link: m.link ? { href: m.link.href, label: pm(m.link.label) } : null });
  // `__Host-` binds the cookie to this exact origin (needs Secure, Path=/, no Domain). Without it,
  // the name still differs from the IdP's cookies, which matters when both run on localhost.
  const signIn = new SignIn({ rp, store, baseUrl: base.origin, cookieName: opts.secureCookies ? `__Host-${cookieName}` : cookieName, secureCookies: opts.secureCookies, logger, renderMessage });
  const app = new Koa();
  app.keys = [...opts.cookieKeys];

  let stylesheet: Buffer | undefined;
  const publicRoutes = new Router();
  publicRoutes.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  publicRoutes.get('/css/portal.css', async (ctx) => {
    stylesheet ??= await readFile(STYLESHEET_PATH);
    ctx.type = 'text/css; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = stylesheet;
  });

  return {
    app, rp, signIn, store, logger, renderMessage,
    renderPage: (ctx, view, title, extra = {}) => page(ctx, 200, view, title, extra),
    mount(privateRoutes, open = false) {
      app.use(securityHeaders(rp.issuerOrigin));
      app.use(signIn.errors);
      app.use(signIn.sessions);
      app.use(publicRoutes.routes());
      app.use(signIn.routes.routes());
      app.use(async (ctx: Context, next: Next) => {
        // Other stylesheets and the browser's automatic favicon request: answer without starting a sign-in.
        if (ctx.path.startsWith('/css/') || ctx.path === '/favicon.ico') {
          ctx.status = 404;
          return;
        }
        await next();
      });
      if (!open) app.use(signIn.requireUser);
      app.use(privateRoutes.routes());
      app.use(async (ctx: Context) => {
        if (ctx.status === 404 && ctx.body == null) {
          await renderMessage(ctx, { status: 404, title: 'portal.not_found.title', message: 'portal.not_found.message', tone: 'error', link: { href: '/', label: 'portal.link.home' } });
        }
      });
    },
  };
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
 * @throws TypeError as {@link createRelyingPartyApp}.
 *
 * Sources: OpenID Connect Core 1.0 §3.1 (code flow), RFC 7636 (PKCE), OpenID Connect
 * RP-Initiated Logout 1.0 §2, user guide slide 18 (Home Page).
 */
export function createPortalApp(opts: PortalOptions): Koa {
  const rpApp = createRelyingPartyApp(
    { ...opts, ...(opts.hierarchyApi ? { api: { resource: opts.hierarchyApi.resource, scope: 'hierarchy:read' } } : {}) },
    NAV_ITEMS,
    'portal_sid',
  );
  const { renderPage, signIn } = rpApp;
  const user = (ctx: Context) => signIn.sessionOf(ctx)!.data.user!;
  const routes = new Router();

  const homeLinks = opts.homeLinks ?? [];
  // Issue 14: a delegate's Home says for whom they work ("Working for NAME (producer number)").
  // A delegate sees only the applications their permissions allow.
  routes.get('/', (ctx) => renderPage(ctx, 'home', 'Home', { info: myInformation(user(ctx)), homeLinks: usableLinks(user(ctx), homeLinks), workingFor: workingFor(user(ctx)) }));
  // "Manage sign-in and security": the IdP's own account pages (issue 14 item 6; src/account).
  const accountUrl = new URL('/account', opts.issuer).href;
  routes.get('/my-information', (ctx) => renderPage(ctx, 'my-information', 'My Information', { info: myInformation(user(ctx)), accountUrl }));
  // View/Add My Delegates lives at the IdP (issue 14), like the sign-in pages; it is for producers
  // only (the IdP answers a delegate 403), so a delegate is told here and the entry is not in their navigation.
  routes.get('/my-delegates', async (ctx) => {
    if (!workingFor(user(ctx))) return ctx.redirect(new URL('/delegates', opts.issuer).href);
    await rpApp.renderMessage(ctx, { status: 403, title: 'portal.delegates_for_producers.title', message: 'portal.delegates_for_producers.message', tone: 'error', link: { href: '/', label: 'portal.link.home' } });
  });
  for (const [path, title] of APP_PAGES) {
    routes.get(path, async (ctx) => {
      const permission = NAV_ITEMS.find((n) => n.href === path)?.permission;
      if (!mayUse(user(ctx), permission)) return rpApp.renderMessage(ctx, { status: 403, title: 'portal.permission_missing.title', message: 'portal.permission_missing.message', tone: 'error', link: { href: '/', label: 'portal.link.home' } });
      return renderPage(ctx, 'app-link', title, { link: homeLinks.find((l) => l.label === title) ?? null });
    });
  }
  const resourceGroups = groupResources(opts.resources ?? []);
  routes.get('/resources', (ctx) => renderPage(ctx, 'resources', 'Resources', { groups: resourceGroups }));
  for (const [path, title] of NOT_BUILT) routes.get(path, (ctx) => renderPage(ctx, 'not-built', title));
  hierarchyRoutes(routes, rpApp, opts.hierarchyApi);
  reportRoutes(routes, rpApp, opts);

  rpApp.mount(routes);
  return rpApp.app;
}

/** My Hierarchy (guide slide 18): from the IdP's API with the signed-in producer's token. */
function hierarchyRoutes(routes: Router, { rp, store, signIn, renderPage, logger }: RelyingPartyApp, api: PortalOptions['hierarchyApi']): void {
  /**
   * Calls the hierarchy API with the user's API access token, renewing it once (refresh grant with
   * `resource`) when it expired or was refused. `refused` when the API answered 403
   * `insufficient_scope` (RFC 6750 §3.1; for a delegate: no View My Hierarchy permission);
   * undefined when no token can be had or the API failed otherwise.
   */
  async function fetchHierarchy(user: SignedInUser, url: string, offset: number, limit: number): Promise<HierarchyView | 'refused' | undefined> {
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
      if (res.status === 403 && /error="insufficient_scope"/.test(res.headers.get('www-authenticate') ?? '')) {
        await res.body?.cancel();
        return 'refused';
      }
      if (!res.ok) {
        logger.warn({ status: res.status }, 'the hierarchy API refused');
        await res.body?.cancel();
        return undefined;
      }
      return (await res.json()) as HierarchyView;
    }
    return undefined;
  }

  routes.get('/my-hierarchy', async (ctx) => {
    const user = signIn.sessionOf(ctx)!.data.user!;
    const pageSize = 25;
    const requested = Number(ctx.query.page ?? 1);
    const page = Number.isInteger(requested) && requested >= 1 && requested <= 10_000 ? requested : 1;
    const result = api ? await fetchHierarchy(user, api.url, (page - 1) * pageSize, pageSize) : undefined;
    const hierarchy = typeof result === 'object' ? result : null;
    // A delegate sees the hierarchy of the producer they work for (issue 14), worded for that producer.
    const forWhom = workingFor(user) ?? null;
    await renderPage(ctx, 'my-hierarchy', 'My Hierarchy', {
      hierarchy,
      forWhom,
      refused: result === 'refused',
      page,
      pages: hierarchy ? Math.max(1, Math.ceil(hierarchy.downline.total / pageSize)) : 1,
    });
  });
}

/** Report an Issue (guide slide 19): the form, its checks, the rate limit and the mail. */
function reportRoutes(routes: Router, { store, signIn, renderPage, renderMessage, logger }: RelyingPartyApp, opts: PortalOptions): void {
  const reports = opts.issueReports;
  const reportLimiter = new RateLimiterMemory({ points: reports?.perHour ?? 5, duration: 3600 });
  // Slide 19's "Agent Name / Producer ID": the producer (for a delegate, the one they work for), never `sub`.
  const agentOf = reportingAgent;
  const localNow = () => new Date(store.now()).toISOString().slice(0, 16);
  async function reportForm(ctx: Context, status: number, values: Record<string, string>, errors: FieldErrors, formError: string | null): Promise<void> {
    const agent = agentOf(signIn.sessionOf(ctx)!.data.user!);
    const messages = Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, pm(v as PortalMessageCode)]));
    await renderPage(ctx, 'report-issue', 'Report an Issue', {
      values, errors: messages, formError, agent: agentLine(agent),
      productTypes: PRODUCT_TYPES, states: STATES, supportEmail: reports?.to ?? null,
    });
    ctx.status = status;
  }

  routes.get('/report-issue', (ctx) => reportForm(ctx, 200, { ...echoValues({}), observedAt: localNow() }, {}, null));

  routes.post('/report-issue', async (ctx) => {
    const session = signIn.sessionOf(ctx)!;
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
}
