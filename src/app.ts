import bodyParser from '@koa/bodyparser';
import Router from '@koa/router';
import { refuseNul } from './http/refuse-nul.ts';
import type Provider from 'oidc-provider';
import { sessionActivity } from './account/activity.ts';
import { accountRoutes } from './account/index.ts';
import { forgotPasswordRoutes } from './flows/forgot-password/index.ts';
import { forgotUsernameRoutes } from './flows/forgot-username/index.ts';
import { linkRoutes } from './flows/links.ts';
import { RECOVERY_IP_LIMIT } from './flows/recovery/limits.ts';
import { registrationRoutes, REGISTER_IP_LIMIT } from './flows/registration/index.ts';
import { AppError } from './http/errors.ts';
import { cacheTemplates, render } from './http/render.ts';
import { staticFiles } from './http/static-files.ts';
import { securityHeaders } from './http/security-headers.ts';
import { insecureTransportGuard, pinToIssuer, transportHealth, type TransportState } from './http/transport.ts';
import { interactionRoutes } from './interactions/router.ts';
import { LOGIN_IP_LIMIT } from './interactions/steps/login/index.ts';
import { PROMPTS } from './oidc/policy.ts';
import { createProvider, pageGlobals } from './oidc/provider.ts';
import { startBackchannelDelivery, stopWithProvider } from './oidc/backchannel.ts';
import { scheduleKeyRefresh } from './oidc/keys.ts';
import { postToGet } from './oidc/post-to-get.ts';
import { csrf } from './security/csrf.ts';
import { hashAdmission } from './security/hash-admission.ts';
import { healthRoutes } from './observability/health.ts';
import { apiRoutes } from './api/routes.ts';
import { invitationPages, DELEGATE_ACCEPT_IP_LIMIT } from './delegates/invitation.ts';
import { delegatePages, DELEGATE_INVITE_IP_LIMIT } from './delegates/pages.ts';
import { errorPages } from './http/error-pages.ts';
import { requestLogging } from './observability/http.ts';
import { watchOidcEvents } from './observability/oidc-events.ts';
import type { Services } from './services.ts';

/** Escapes text for HTML. */
function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Builds the identity provider: oidc-provider (protocol endpoints) with our middleware and routes
 * (interaction pages, registration, dev outbox, health) on its Koa app.
 * @returns the provider; `provider.callback()` or `provider.listen(port)` serves it.
 */
export async function createIdp(services: Services): Promise<Provider> {
  const { config } = services;
  const production = config.NODE_ENV === 'production';
  cacheTemplates(config.NODE_ENV !== 'development');
  const window = config.RATE_LIMIT_WINDOW_SECONDS;
  services.rateLimits.define(LOGIN_IP_LIMIT, { points: config.RATE_LIMIT_LOGIN_POINTS, durationSeconds: window });
  services.rateLimits.define(REGISTER_IP_LIMIT, { points: config.RATE_LIMIT_REGISTER_POINTS, durationSeconds: window });
  services.rateLimits.define(DELEGATE_INVITE_IP_LIMIT, { points: config.RATE_LIMIT_REGISTER_POINTS, durationSeconds: window });
  services.rateLimits.define(DELEGATE_ACCEPT_IP_LIMIT, { points: config.RATE_LIMIT_REGISTER_POINTS, durationSeconds: window });
  services.rateLimits.define(RECOVERY_IP_LIMIT, { points: config.RATE_LIMIT_RECOVERY_POINTS, durationSeconds: window });

  const provider = await createProvider(services);
  // Issue 12: caches of clients and Terms of Use serve while database change notifications arrive.
  services.changes.start();
  const globals = pageGlobals(services);
  watchOidcEvents(provider, services);
  // Issue 10: logout tokens queued by any session end are delivered by every running replica.
  startBackchannelDelivery(services, provider);
  // Issue 10: a key rotation (keys rotate, automatic rotation) reaches every replica within a minute.
  stopWithProvider(provider, scheduleKeyRefresh(provider, services));

  provider.use(requestLogging({ logger: services.logger, metrics: services.metrics, trustProxy: config.TRUST_PROXY }));
  provider.use(errorPages({ globals, portalUrl: config.PORTAL_URL, logger: services.logger, onUnavailable: () => services.metrics.dbQueryErrors.inc({ kind: 'unavailable' }) }));
  // Issue 9 items 13 and 11: URLs from ISSUER only; plain http in production answered clearly.
  provider.use(pinToIssuer(config.ISSUER));
  const transport: TransportState = {};
  provider.use(insecureTransportGuard({ enabled: production, trustProxy: config.TRUST_PROXY, state: transport, logger: () => services.logger, portalUrl: config.PORTAL_URL }));
  provider.use(securityHeaders({ production }));
  // Issue 10 item 8: POST at /auth and /session/end answered with a 303 to the equivalent GET.
  provider.use(postToGet(config.ISSUER));
  // /css/… and /js/… only: no other request touches the file system (issue 12).
  provider.use(staticFiles());
  provider.use(csrf({ secure: production }));
  provider.use(hashAdmission(services.hasher));
  // My Account's "Signed-in sessions": each session's browser and last activity (src/account/activity.ts).
  provider.use(sessionActivity(services) as never);

  const router = new Router();
  router.use(bodyParser({
    enableTypes: ['form'],
    formLimit: '64kb',
    onError: (err: Error & { status?: number }) => {
      throw err.status === 413 ? new AppError('form.too_long', 413) : new AppError('http.bad_request', 400);
    },
  }));
  // No NUL character reaches the database from any page or API (PostgreSQL refuses it: 500).
  router.use(refuseNul());
  // Screens: interaction prompts (oidc/policy.ts orders them) and self-service flows (flows/*/index.ts).
  interactionRoutes(router, services, provider, PROMPTS);
  const registration = registrationRoutes(router, services, provider);
  const forgotUsername = forgotUsernameRoutes(router, services, provider);
  forgotPasswordRoutes(router, services, provider);
  linkRoutes(router, services, provider, { registration, forgotUsername });
  // The signed-in person's own pages (issue 14): the session guard and its sign-in, then the pages.
  const accountGuard = accountRoutes(router, services, provider);
  // Issue 14: the producer's delegates (behind the IdP session) and the invitation link's pages.
  delegatePages(router, services, provider, accountGuard);
  invitationPages(router, services, provider, accountGuard);
  apiRoutes(router, services);
  router.get('/favicon.ico', async (ctx) => {
    ctx.status = 204; // no icon, and no 404 noise in browser consoles
  });
  healthRoutes(router, services, () => transportHealth(production, config.TRUST_PROXY, transport));
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
