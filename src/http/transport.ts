import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { render } from './render.ts';

/**
 * Pins every URL the IdP builds from a request to ISSUER (issue 9, item 13).
 *
 * oidc-provider builds discovery, `Location` headers and form actions from `ctx.href`
 * (`ctx.origin` + path), and Koa builds those from the `Host` header (or `X-Forwarded-Host` /
 * `X-Forwarded-Proto` with TRUST_PROXY). A request with `Host: evil.example` would then publish
 * `http://evil.example/token`. This middleware, first on the app, overwrites for each request:
 * the `Host` header (to the issuer's host), removes `X-Forwarded-Host`, and fixes `ctx.origin`
 * and `ctx.href` to the issuer's origin. `ctx.protocol` / `ctx.secure` keep telling how the request
 * really arrived (see {@link insecureTransportGuard}).
 * @param issuer the ISSUER URL (its origin is used; a path is kept by oidc-provider's mount).
 */
export function pinToIssuer(issuer: string) {
  const { origin, host } = new URL(issuer);
  return async (ctx: Context, next: Next) => {
    const req = ctx.request;
    req.header.host = host;
    delete req.header['x-forwarded-host'];
    // An absolute-form request target (`GET http://evil.example/x HTTP/1.1`) keeps only its path.
    const target = /^[a-z][a-z0-9+.-]*:\/\//i.test(ctx.originalUrl) ? (() => { const u = new URL(ctx.originalUrl); return u.pathname + u.search; })() : ctx.originalUrl;
    Object.defineProperty(req, 'origin', { value: origin, configurable: true });
    Object.defineProperty(req, 'href', { value: origin + target, configurable: true });
    await next();
  };
}

/** Health and readiness probes: answered whatever the transport (they report it). */
const HEALTH_PATHS = new Set(['/health', '/healthz', '/readyz']);

/** What the IdP saw of the last request that was not a health check (production transport check). */
export interface TransportState {
  /** Last request over plain http while cookies are Secure (ms since epoch), with what it carried. */
  lastInsecure?: { at: number; path: string; forwardedProto: string | null };
  /** Last request over https (directly, or via X-Forwarded-Proto with TRUST_PROXY), ms since epoch. */
  lastSecureAt?: number;
}

/** The text that names the setting; shown on the page, in the log and by /health. */
export function insecureTransportProblem(trustProxy: boolean, forwardedProto: string | null): string {
  if (!trustProxy && forwardedProto) {
    return `requests arrive through a proxy (X-Forwarded-Proto: ${forwardedProto}) but TRUST_PROXY is not set: set TRUST_PROXY=true (and TRUST_PROXY_HOPS to the number of proxies) so that the IdP sees https and can set its Secure cookies`;
  }
  if (trustProxy) {
    return 'requests arrive over plain http: TRUST_PROXY=true is set but the proxy does not send X-Forwarded-Proto: https; configure the proxy to terminate TLS and set X-Forwarded-Proto';
  }
  return 'requests arrive over plain http: in production the IdP must be reached over https; behind a TLS-terminating proxy set TRUST_PROXY=true (the proxy must send X-Forwarded-Proto: https)';
}

/**
 * Production only (cookies are Secure): a request that arrived over plain http cannot get a
 * session or CSRF cookie. Instead of the plain-text 500 Koa would give, every such request
 * (except `/health`) gets a 503 that names the setting: an HTML page for browsers, the OAuth error
 * format (`server_error`) for other clients; a log line (at most one a minute) says the same, and
 * `state` remembers it for `/health` (issue 9, item 11).
 * @param opts.enabled true in production; otherwise the middleware only records https requests.
 */
export function insecureTransportGuard(opts: { enabled: boolean; trustProxy: boolean; state: TransportState; logger: () => Logger; portalUrl: string }) {
  let lastLogAt = 0;
  return async (ctx: Context, next: Next) => {
    if (HEALTH_PATHS.has(ctx.path)) return next();
    if (ctx.secure || !opts.enabled) {
      if (ctx.secure) opts.state.lastSecureAt = Date.now();
      return next();
    }
    const forwardedProto = ctx.get('x-forwarded-proto') || null;
    opts.state.lastInsecure = { at: Date.now(), path: ctx.path, forwardedProto };
    const problem = insecureTransportProblem(opts.trustProxy, forwardedProto);
    if (Date.now() - lastLogAt >= 60_000) {
      lastLogAt = Date.now();
      opts.logger().error({ setting: 'TRUST_PROXY', requestId: ctx.state.requestId, forwardedProto }, `misconfigured transport: ${problem}`);
    }
    // A page only for a client that asks for HTML (browsers); protocol clients (Accept */*) get JSON.
    if (ctx.accepts('json', 'html') === 'html') {
      await render(ctx, 'idp/error', { title: 'Service misconfigured', error: null, description: null, message: 'http.insecure_transport', messageParams: { problem }, portalUrl: opts.portalUrl }, 503);
    } else {
      ctx.status = 503;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: 'server_error', error_description: `the identity provider is misconfigured: ${problem}` };
    }
  };
}

/**
 * The transport problem `/health` reports, or null: in production, when the most recent request
 * (health checks excluded) arrived over plain http, later than any https one.
 */
export function transportHealth(enabled: boolean, trustProxy: boolean, state: TransportState): string | null {
  if (!enabled || !state.lastInsecure) return null;
  if (state.lastSecureAt && state.lastSecureAt >= state.lastInsecure.at) return null;
  return insecureTransportProblem(trustProxy, state.lastInsecure.forwardedProto);
}
