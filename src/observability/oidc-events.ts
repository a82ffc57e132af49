import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { audit } from '../audit.ts';
import { isDatabaseUnavailable } from '../db/availability.ts';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/schema.ts';
import type { Metrics } from './metrics.ts';

/** What the event handlers need (a subset of the IdP's services). */
export interface OidcEventDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** Tracks side effects so that shutdown (and tests) wait for them (services.ts `later`). */
  later(what: string, fn: () => Promise<unknown>): void;
}

/** oidc-provider's error events, one per endpoint (node-oidc-provider docs/events.md). */
export const OIDC_ERROR_EVENTS = [
  'authorization.error', 'grant.error', 'userinfo.error', 'jwks.error', 'discovery.error', 'end_session.error',
  'end_session_confirm.error', 'end_session_success.error', 'revocation.error', 'introspection.error',
  'registration_create.error', 'registration_read.error', 'registration_update.error', 'registration_delete.error',
  'backchannel.error', 'pushed_authorization_request.error', 'device_authorization.error',
] as const;

/** Endpoints where a client authenticates (RFC 6749 §2.3); a refusal there is audited. */
const CLIENT_AUTH_EVENTS = new Set(['grant.error', 'revocation.error', 'introspection.error', 'pushed_authorization_request.error', 'device_authorization.error']);

/** The client_id of an HTTP Basic `Authorization` header (RFC 6749 §2.3.1: form-urlencoded), or null. */
function basicClientId(header: string): string | null {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header);
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 1) return null;
  try {
    return decodeURIComponent(decoded.slice(0, colon)).slice(0, 200);
  } catch {
    return null;
  }
}

interface OidcError {
  error?: string;
  error_detail?: string;
  error_description?: string;
  message?: string;
  status?: number;
}

/**
 * Logs oidc-provider's error events with the request id (pino, through the request context), counts
 * them (`producer_idp_oidc_errors_total`), and audits client-authentication refusals as
 * `client.auth_failed` with the reason (`error_detail`: "invalid secret provided", "client not
 * found", "the provided authentication mechanism does not match the registered client
 * authentication method" …). The client still gets only the standard `invalid_client` (RFC 6749
 * §5.2). `server_error` is logged at error level with the error; a database outage marks the
 * request so the outer middleware answers 503 `temporarily_unavailable`.
 */
export function watchOidcEvents(provider: Provider, services: OidcEventDeps): void {
  const { logger, metrics } = services;
  const requestIdOf = (ctx: KoaContextWithOIDC) => (ctx as unknown as { state: { requestId?: string } }).state?.requestId;
  for (const event of OIDC_ERROR_EVENTS) {
    (provider as unknown as NodeJS.EventEmitter).on(event, (ctx: KoaContextWithOIDC, err: OidcError) => {
      const code = err.error ?? err.message ?? 'unknown';
      metrics.oidcErrors.inc({ event, error: code });
      logger.warn({ requestId: requestIdOf(ctx), event, error: code, detail: err.error_detail ?? err.error_description }, 'oidc error');
      if (code === 'invalid_client' && CLIENT_AUTH_EVENTS.has(event)) {
        const body = (ctx.oidc?.body ?? {}) as Record<string, unknown>;
        const clientId = ctx.oidc?.client?.clientId ?? (typeof body.client_id === 'string' ? body.client_id.slice(0, 200) : basicClientId(ctx.get('authorization')));
        // Started here (the request id is this request's), awaited by `settle` like every side effect.
        const audited = audit(services.db, services.clock, 'client.auth_failed', null, { ip: ctx.ip, userAgent: ctx.get('user-agent') || null, clientId }, {
          endpoint: event.replace(/\.error$/, ''),
          reason: err.error_detail ?? 'invalid_client',
        }).catch((e) => logger.error({ err: e, requestId: requestIdOf(ctx) }, 'audit of client.auth_failed failed'));
        services.later('client.auth_failed audit', () => audited);
      }
    });
  }
  provider.on('server_error', (ctx: KoaContextWithOIDC, err: Error) => {
    const unavailable = isDatabaseUnavailable(err);
    metrics.oidcErrors.inc({ event: 'server_error', error: unavailable ? 'database_unavailable' : 'server_error' });
    if (unavailable) (ctx as unknown as { state: Record<string, unknown> }).state.databaseUnavailable = true;
    logger.error({ requestId: requestIdOf(ctx), err: { type: err?.name, message: err?.message, stack: err?.stack } }, unavailable ? 'database unavailable' : 'oidc server_error');
  });
}
