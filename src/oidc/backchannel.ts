import { AsyncLocalStorage } from 'node:async_hooks';
import { isIP } from 'node:net';
import { decodeJwt } from 'jose';
import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import { audit } from '../audit.ts';
import { claimDueLogouts, deleteLogout, queueAccountLogouts, queueLogout, queueSessionLogouts, scheduleLogoutRetry } from '../db/repositories/backchannel-logouts.ts';
import type { Database } from '../db/schema.ts';
import type { Services } from '../services.ts';

/**
 * OpenID Connect Back-Channel Logout 1.0 for every way a session ends.
 *
 * Logout tokens are never sent while the person waits: each one to deliver is a row of
 * `backchannel_logouts` (client, account, sid, reason), written in the same transaction that ends
 * the sessions (so nothing is announced for a change that rolled back, and nothing is lost when the
 * process stops). The server delivers due rows every second and at once after a logout: the token
 * is built and signed by oidc-provider (`Client#backchannelLogout`: `events`, `sid`, no `nonce`,
 * §2.4), POSTed with a timeout of BACKCHANNEL_LOGOUT_TIMEOUT_MS, retried up to
 * BACKCHANNEL_LOGOUT_ATTEMPTS times with exponential back-off (BACKCHANNEL_LOGOUT_BACKOFF_SECONDS,
 * doubled each time). Each outcome is audited (`backchannel_logout.delivered`, `.retrying`,
 * `.failed`) and counted (`producer_idp_backchannel_logout_deliveries_total{outcome}`).
 */

/** Why sessions ended (the `reason` of a delivery, in its audit event). */
export type LogoutReason = 'rp_logout' | 'password_reset' | 'account_disabled' | 'signed_out' | 'producer_inactive' | 'device_revoked' | 'signed_out_others' | 'password_changed' | 'delegation_ended';

/** Set while the worker delivers: the fetch hook then really sends. */
const delivering = new AsyncLocalStorage<{ timeoutMs: number }>();

/** Providers whose worker should look at the queue now (after an RP-initiated logout). */
const kicks = new WeakMap<Kysely<Database>, () => void>();
/** The stop function of each provider's worker. */
const workers = new WeakMap<Provider, () => Promise<void>>();

/** Other background jobs of a provider, stopped with it (e.g. the signing-key refresh). */
const alsoStop = new WeakMap<Provider, (() => void)[]>();

/** Registers `stop` to run with {@link stopBackchannelDelivery}. */
export function stopWithProvider(provider: Provider, stop: () => void): void {
  alsoStop.set(provider, [...(alsoStop.get(provider) ?? []), stop]);
}

/**
 * Stops the delivery worker started for `provider` by createIdp, and the jobs registered with
 * {@link stopWithProvider} (shutdown, tests).
 */
export async function stopBackchannelDelivery(provider: Provider): Promise<void> {
  for (const stop of alsoStop.get(provider) ?? []) stop();
  alsoStop.delete(provider);
  await workers.get(provider)?.();
  workers.delete(provider);
}

/**
 * Queues a logout token for every relying party with a `backchannel_logout_uri` that has a session
 * of one of these accounts (oidc-provider `Session` rows: `authorizations[client_id].sid`). Call it
 * in the transaction that deletes the sessions, before deleting them.
 * @param exceptSessionId a session (its id) that stays: no logout token for it (My Account's
 *   "Sign out of the others", src/oidc/revocation.ts endOtherSessions).
 * @param db the database or the transaction.
 * @returns how many deliveries were queued.
 */
export async function enqueueAccountLogouts(db: Kysely<Database>, accountIds: readonly string[], reason: LogoutReason, exceptSessionId?: string): Promise<number> {
  if (accountIds.length === 0) return 0;
  return queueAccountLogouts(db, accountIds, reason, exceptSessionId);
}

/**
 * Queues a logout token for every relying party of these sessions (by Session model id) that
 * registered a `backchannel_logout_uri` (as {@link enqueueAccountLogouts}; issue 14: the sessions
 * through which a delegate acted for a producer).
 * @returns how many logout tokens were queued.
 */
export async function enqueueSessionLogouts(db: Kysely<Database>, sessionIds: readonly string[], reason: LogoutReason): Promise<number> {
  if (sessionIds.length === 0) return 0;
  return queueSessionLogouts(db, sessionIds, reason);
}

/** Hosts that are this machine or a private network, by name or address literal. */
function isLocalHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return /^(10\.|127\.|0\.|169\.254\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(h);
  if (isIP(h) === 6) return h === '::1' || h === '::' || /^(fc|fd|fe8|fe9|fea|feb)/.test(h) || h.startsWith('::ffff:');
  return false;
}

/**
 * Why a `backchannel_logout_uri` is refused, or null (Back-Channel Logout 1.0 §2.2: absolute URI,
 * no fragment). https is required; in development and test, `http://` and loopback or private
 * addresses are allowed (the portal and tests listen on 127.0.0.1). In production a loopback or
 * private host is refused unless BACKCHANNEL_LOGOUT_ALLOWED_HOSTS names it (host or host:port).
 */
export function backchannelLogoutUriProblem(uri: string, options: { production: boolean; allowedHosts: readonly string[] }): string | null {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return `${uri} is not an absolute URI`;
  }
  if (uri.length > 2000) return 'a back-channel logout URI has at most 2000 characters';
  if (uri.includes('#')) return `${uri}: a back-channel logout URI must not have a fragment`;
  if (u.username || u.password) return `${uri}: user information is not allowed`;
  const allowed = options.allowedHosts.includes(u.host) || options.allowedHosts.includes(u.hostname);
  if (options.production) {
    if (u.protocol !== 'https:' && !allowed) return `${uri}: use https`;
    if (isLocalHost(u.hostname) && !allowed) return `${uri}: a loopback or private address is refused in production unless BACKCHANNEL_LOGOUT_ALLOWED_HOSTS lists it`;
  } else if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    return `${uri}: use https (or http in development)`;
  }
  return null;
}

/**
 * oidc-provider's `fetch` setting. oidc-provider refuses connections to loopback and private
 * addresses (its SSRF-protected dispatcher); that stays so in production except for the hosts in
 * BACKCHANNEL_LOGOUT_ALLOWED_HOSTS, and is lifted in development and test.
 * A logout token POST made by oidc-provider itself (RP-initiated logout) is not sent while the
 * person waits: it is queued ({@link enqueueAccountLogouts} row) and answered 204 at once; the
 * worker sends it.
 */
export function createFetch(services: Services): (url: string | URL, options: RequestInit & { dispatcher?: unknown }) => Promise<Response> {
  const { config } = services;
  const production = config.NODE_ENV === 'production';
  const allowed = config.BACKCHANNEL_LOGOUT_ALLOWED_HOSTS;
  return async (url, options) => {
    const target = new URL(String(url));
    if (!production || allowed.includes(target.host) || allowed.includes(target.hostname)) delete options.dispatcher;
    const body = options.body;
    const logoutToken = body instanceof URLSearchParams ? body.get('logout_token') : null;
    const sending = delivering.getStore();
    if (logoutToken && !sending) {
      const claims = decodeJwt(logoutToken);
      const clientId = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
      if (clientId && claims.sub && typeof claims.sid === 'string') {
        await queueLogout(services.db, { clientId, accountId: claims.sub, sid: claims.sid, reason: 'rp_logout' });
        kicks.get(services.db)?.();
        return new Response(null, { status: 204 });
      }
    }
    if (sending) options.signal = AbortSignal.timeout(sending.timeoutMs);
    return globalThis.fetch(url, options as RequestInit);
  };
}

/**
 * Delivers the due logout tokens once (at most 20), each claimed for 60 seconds so that two replicas
 * never send the same row at the same time (`FOR UPDATE SKIP LOCKED`).
 * @returns how many deliveries were attempted.
 */
export async function deliverDueLogouts(services: Services, provider: Provider): Promise<number> {
  const { db, config, metrics } = services;
  const rows = await claimDueLogouts(db, 20, 60);
  await Promise.all(rows.map(async (row) => {
    const attempt = row.attempts + 1;
    const details = { sid: row.sid, reason: row.reason, attempt };
    try {
      const client = await provider.Client.find(row.client_id);
      const target = (client as unknown as { backchannelLogoutUri?: string } | undefined)?.backchannelLogoutUri;
      if (!client || !target) {
        await deleteLogout(db, row.id);
        return;
      }
      await delivering.run({ timeoutMs: config.BACKCHANNEL_LOGOUT_TIMEOUT_MS }, () => (client as unknown as { backchannelLogout(sub: string, sid: string): Promise<void> }).backchannelLogout(row.account_id, row.sid));
      await deleteLogout(db, row.id);
      metrics.backchannelLogouts.inc({ outcome: 'delivered' });
      await audit(db, services.clock, 'backchannel_logout.delivered', row.account_id, { clientId: row.client_id }, details);
    } catch (err) {
      const error = describe(err);
      if (attempt >= config.BACKCHANNEL_LOGOUT_ATTEMPTS) {
        await deleteLogout(db, row.id);
        metrics.backchannelLogouts.inc({ outcome: 'failed' });
        await audit(db, services.clock, 'backchannel_logout.failed', row.account_id, { clientId: row.client_id }, { ...details, error });
        return;
      }
      const delay = config.BACKCHANNEL_LOGOUT_BACKOFF_SECONDS * 2 ** (attempt - 1);
      await scheduleLogoutRetry(db, row.id, attempt, error, delay);
      metrics.backchannelLogouts.inc({ outcome: 'retrying' });
      await audit(db, services.clock, 'backchannel_logout.retrying', row.account_id, { clientId: row.client_id }, { ...details, error, retryInSeconds: delay });
    }
  }));
  return rows.length;
}

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { message?: string } };
  if (e?.name === 'TimeoutError') return 'timed out';
  return [e?.message, e?.cause?.message].filter(Boolean).join(': ').slice(0, 300) || 'failed';
}

/**
 * Starts the delivery worker of this process: every second, and at once after an RP-initiated
 * logout. Errors (e.g. a database outage) are logged and retried at the next tick.
 * @returns a function that stops it (awaits a run in progress).
 */
export function startBackchannelDelivery(services: Services, provider: Provider, intervalMs = 1000): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  const run = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        try {
          while ((await deliverDueLogouts(services, provider)) === 20 && !stopped);
        } catch (err) {
          if (!stopped) services.logger.warn({ err: { message: (err as Error).message } }, 'back-channel logout delivery failed');
        }
      } while (again && !stopped);
    })().finally(() => {
      running = undefined;
    });
  };
  kicks.set(services.db, run);
  const timer = setInterval(run, intervalMs);
  timer.unref();
  const stop = async () => {
    stopped = true;
    clearInterval(timer);
    kicks.delete(services.db);
    await running;
  };
  workers.set(provider, stop);
  return stop;
}
