import path from 'node:path';
import bodyParser from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import serve from 'koa-static';
import type Provider from 'oidc-provider';
import { registrationRoutes, REGISTER_IP_LIMIT } from './flows/registration.ts';
import { recoveryRoutes } from './flows/recovery/routes.ts';
import { AppError } from './http/errors.ts';
import { render, viewsDir } from './http/render.ts';
import { securityHeaders } from './http/security-headers.ts';
import { insecureTransportGuard, pinToIssuer, transportHealth, type TransportState } from './http/transport.ts';
import { interactionRoutes } from './interactions/router.ts';
import { LOGIN_IP_LIMIT, LOGIN_UNKNOWN_LIMIT } from './interactions/steps/credentials.ts';
import { createProvider, pageGlobals } from './oidc/provider.ts';
import { startBackchannelDelivery, stopWithProvider } from './oidc/backchannel.ts';
import { scheduleKeyRefresh } from './oidc/keys.ts';
import { postToGet } from './oidc/post-to-get.ts';
import { csrf } from './security/csrf.ts';
import { isTemporarilyUnavailable } from './db/availability.ts';
import { readiness } from './observability/health.ts';
import { requestLogging } from './observability/http.ts';
import { watchOidcEvents } from './observability/oidc-events.ts';
import type { Services } from './services.ts';

/** Escapes text for HTML. */
function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Seconds a client is asked to wait (Retry-After) while the database is unreachable. */
const UNAVAILABLE_RETRY_SECONDS = 30;

/**
 * Answers 503 while the database cannot be reached (RFC 9110 §15.6.4, with Retry-After): the OAuth
 * error `temporarily_unavailable` (RFC 6749 §4.1.2.1) as JSON to clients that do not ask for HTML,
 * a "temporarily unavailable" page to browsers; never a stack trace, never "your sign-in expired".
 */
async function answerUnavailable(ctx: Context, portalUrl: string): Promise<void> {
  ctx.set('Retry-After', String(UNAVAILABLE_RETRY_SECONDS));
  if (ctx.accepts('json', 'html') === 'html') {
    await render(ctx, 'idp/error', { title: 'Temporarily unavailable', error: null, description: null, message: 'http.temporarily_unavailable', portalUrl }, 503);
    return;
  }
  ctx.status = 503;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable. Try again later.' };
}

/**
 * Builds the identity provider: oidc-provider (protocol endpoints) with our middleware and routes
 * (interaction pages, registration, dev outbox, health) on its Koa app.
 * @returns the provider; `provider.callback()` or `provider.listen(port)` serves it.
 */
export async function createIdp(services: Services): Promise<Provider> {
  const { config } = services;
  const production = config.NODE_ENV === 'production';
  const window = config.RATE_LIMIT_WINDOW_SECONDS;
  services.rateLimits.define(LOGIN_IP_LIMIT, { points: config.RATE_LIMIT_LOGIN_POINTS, durationSeconds: window });
  services.rateLimits.define(LOGIN_UNKNOWN_LIMIT, { points: config.LOCKOUT_THRESHOLD, durationSeconds: config.LOCKOUT_SECONDS });
  services.rateLimits.define(REGISTER_IP_LIMIT, { points: config.RATE_LIMIT_REGISTER_POINTS, durationSeconds: window });

  const provider = await createProvider(services);
  const globals = pageGlobals(services);
  watchOidcEvents(provider, services);
  // Issue 10: logout tokens queued by any session end are delivered by every running replica.
  startBackchannelDelivery(services, provider);
  // Issue 10: a key rotation (keys rotate, automatic rotation) reaches every replica within a minute.
  stopWithProvider(provider, scheduleKeyRefresh(provider, services));

  provider.use(requestLogging({ logger: services.logger, metrics: services.metrics, trustProxy: config.TRUST_PROXY }));
  provider.use(async (ctx: Context, next: Next) => {
    ctx.state.pageGlobals = globals;
    try {
      await next();
      if (ctx.state.databaseUnavailable) {
        await answerUnavailable(ctx, config.PORTAL_URL);
      } else if (ctx.status === 503 && !ctx.response.get('Retry-After')) {
        ctx.set('Retry-After', String(UNAVAILABLE_RETRY_SECONDS)); // oidc-provider's temporarily_unavailable
      } else if (ctx.status === 404 && !ctx.body) {
        await render(ctx, 'idp/error', { title: 'Not found', error: null, description: null, message: 'http.not_found', portalUrl: config.PORTAL_URL }, 404);
      }
    } catch (err) {
      if (isTemporarilyUnavailable(err)) {
        services.logger.error({ requestId: ctx.state.requestId, path: ctx.path, err: { message: (err as Error).message } }, 'database unavailable');
        await answerUnavailable(ctx, config.PORTAL_URL);
        return;
      }
      const appError = err instanceof AppError ? err : undefined;
      const status = appError?.status ?? (typeof (err as { status?: number }).status === 'number' && (err as { status: number }).status < 500 ? (err as { status: number }).status : 500);
      if (status >= 500) services.logger.error({ err, requestId: ctx.state.requestId, path: ctx.path }, 'request failed');
      const code = appError?.code ?? (status === 413 ? 'form.too_long' : status < 500 ? 'http.bad_request' : 'http.server_error');
      await render(ctx, 'idp/error', { title: 'Something went wrong', error: null, description: null, message: code, messageParams: appError?.params ?? {}, portalUrl: config.PORTAL_URL }, status);
    }
  });
  // Issue 9 items 13 and 11: URLs from ISSUER only; plain http in production answered clearly.
  provider.use(pinToIssuer(config.ISSUER));
  const transport: TransportState = {};
  provider.use(insecureTransportGuard({ enabled: production, trustProxy: config.TRUST_PROXY, state: transport, logger: () => services.logger, portalUrl: config.PORTAL_URL }));
  provider.use(securityHeaders({ production }));
  // Issue 10 item 8: POST at /auth and /session/end answered with a 303 to the equivalent GET.
  provider.use(postToGet(config.ISSUER));
  provider.use(csrf({ secure: production }));
  provider.use(serve(path.resolve(viewsDir, '../public'), { maxage: 3600_000, index: false }));

  const router = new Router();
  router.use(bodyParser({
    enableTypes: ['form'],
    formLimit: '64kb',
    onError: (err: Error & { status?: number }) => {
      throw err.status === 413 ? new AppError('form.too_long', 413) : new AppError('http.bad_request', 400);
    },
  }));
  interactionRoutes(router, services, provider);
  registrationRoutes(router, services, provider);

  recoveryRoutes(router, services, provider);
  router.get('/favicon.ico', async (ctx) => {
    ctx.status = 204; // no icon, and no 404 noise in browser consoles
  });
  // Liveness: the process serves requests (no database call, so a database outage does not get
  // every replica restarted). Readiness: database, migrations, signing keys and, in production, that
  // requests arrive over https (503 naming what is not ready).
  router.get('/healthz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const result = await readiness(services, () => transportHealth(production, config.TRUST_PROXY, transport));
    ctx.set('Cache-Control', 'no-store');
    ctx.status = result.ready ? 200 : 503;
    ctx.body = { status: result.ready ? 'ready' : 'not_ready', checks: result.checks };
  });
  // The health check of earlier versions: the database answers and the transport is right.
  router.get('/health', async (ctx) => {
    await services.db.selectFrom('terms').select('version').limit(1).execute();
    const problem = transportHealth(production, config.TRUST_PROXY, transport);
    ctx.set('Cache-Control', 'no-store');
    if (problem) {
      ctx.status = 503;
      ctx.body = { status: 'misconfigured', setting: 'TRUST_PROXY', problem };
      return;
    }
    ctx.body = { status: 'ok' };
  });
  router.get('/', async (ctx) => {
    ctx.redirect(config.PORTAL_URL);
  });
  if (services.mailer.outbox) {
    const outbox = services.mailer.outbox;
    router.get('/dev/outbox', async (ctx) => {
      // Codes and links are in there: only for a browser on this machine.
      if (!['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(ctx.request.socket.remoteAddress ?? '')) throw new AppError('http.not_found', 404);
      await render(ctx, 'idp/dev-outbox', { title: 'Development outbox', messages: outbox, escapeFn: escapeHtml });
    });
  }
  provider.use(router.routes());
  provider.use(router.allowedMethods());
  return provider;
}
