import client from 'prom-client';

/** Pool statistics a gauge reads at scrape time (pg.Pool's counters). */
export interface PoolStats {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/** Buckets of the request-duration histogram, seconds (1 ms to 10 s). */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The process's Prometheus metrics (text exposition format, prom-client), in a registry of their
 * own: names carry the `producer_idp_` prefix, counters end in `_total`, durations in `_seconds`
 * (Prometheus naming conventions). The README ("Operations › Metrics") lists every metric.
 *
 * Authentication metrics are derived from audit events ({@link Metrics.observeAudit}), so every
 * authentication event that is audited is also counted, and no flow has to remember both.
 */
export class Metrics {
  readonly registry = new client.Registry();
  readonly httpDuration: client.Histogram<'method' | 'route' | 'status_class'>;
  readonly signIns: client.Counter<'result' | 'amr'>;
  readonly secondFactorSends: client.Counter<'channel' | 'outcome'>;
  readonly secondFactorChecks: client.Counter<'factor' | 'result'>;
  readonly locks: client.Counter<'by'>;
  readonly rateLimited: client.Counter<'limit'>;
  readonly backchannelLogouts: client.Counter<'outcome'>;
  readonly dbQueryErrors: client.Counter<'kind'>;
  readonly dbQueries: client.Counter;
  readonly oidcErrors: client.Counter<'event' | 'error'>;
  #pool: (() => PoolStats | undefined) | undefined;

  constructor() {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry, prefix: 'producer_idp_' });
    this.httpDuration = new client.Histogram({
      name: 'producer_idp_http_request_duration_seconds',
      help: 'Time from receiving a request to sending its response, by route template and status class.',
      labelNames: ['method', 'route', 'status_class'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.signIns = new client.Counter({
      name: 'producer_idp_sign_ins_total',
      help: 'Sign-in outcomes: success (with the amr values joined by +), or the reason it was refused.',
      labelNames: ['result', 'amr'],
      registers,
    });
    this.secondFactorSends = new client.Counter({
      name: 'producer_idp_second_factor_sends_total',
      help: 'One-time codes sent for Verify your Account and Forgot Password, by channel (email, sms) and outcome (sent, failed).',
      labelNames: ['channel', 'outcome'],
      registers,
    });
    this.secondFactorChecks = new client.Counter({
      name: 'producer_idp_second_factor_verifications_total',
      help: 'Second-factor verifications on Verify your Account, by factor and result (passed, failed).',
      labelNames: ['factor', 'result'],
      registers,
    });
    this.locks = new client.Counter({
      name: 'producer_idp_account_locks_total',
      help: 'Accounts locked after too many wrong attempts, by what locked them (password, second_factor).',
      labelNames: ['by'],
      registers,
    });
    this.rateLimited = new client.Counter({
      name: 'producer_idp_rate_limit_refusals_total',
      help: 'Requests refused with 429 (rate and send limits), by limit name (the route template where the limit has no name).',
      labelNames: ['limit'],
      registers,
    });
    this.backchannelLogouts = new client.Counter({
      name: 'producer_idp_backchannel_logout_deliveries_total',
      help: 'Back-channel logout token deliveries to relying parties, by outcome.',
      labelNames: ['outcome'],
      registers,
    });
    this.dbQueryErrors = new client.Counter({
      name: 'producer_idp_db_query_errors_total',
      help: 'Database queries that failed, by kind (unavailable: the database could not be reached; other).',
      labelNames: ['kind'],
      registers,
    });
    this.dbQueries = new client.Counter({
      name: 'producer_idp_db_queries_total',
      help: 'SQL statements sent to the database (every Kysely query, failed or not); npm run bench:login divides it by sign-ins.',
      registers,
    });
    this.oidcErrors = new client.Counter({
      name: 'producer_idp_oidc_errors_total',
      help: 'Errors oidc-provider reported at its endpoints, by event and OAuth error code.',
      labelNames: ['event', 'error'],
      registers,
    });
    const self = this;
    new client.Gauge({
      name: 'producer_idp_db_pool_connections',
      help: 'Database pool connections by state (total, idle, waiting: requests waiting for a connection).',
      labelNames: ['state'],
      registers,
      collect() {
        const stats = self.#pool?.();
        if (!stats) return;
        this.set({ state: 'total' }, stats.totalCount);
        this.set({ state: 'idle' }, stats.idleCount);
        this.set({ state: 'waiting' }, stats.waitingCount);
      },
    });
  }

  /** Lets the pool gauge read `stats()` at each scrape (PostgreSQL only; PGlite has no pool). */
  watchPool(stats: () => PoolStats | undefined): void {
    this.#pool = stats;
  }

  /**
   * Counts what an audit event says about authentication (called by `audit()` for every event).
   * @param type the audit event type (src/audit.ts)
   * @param details the event's details (`amr`, `factor`, `channel`, `limit`, `by`, `reason`)
   */
  observeAudit(type: string, details: Record<string, unknown>): void {
    const str = (v: unknown, fallback: string) => (typeof v === 'string' && v ? v : fallback);
    switch (type) {
      case 'login.success':
        this.signIns.inc({ result: 'success', amr: Array.isArray(details.amr) ? details.amr.join('+') : 'unknown' });
        break;
      case 'login.failure':
        this.signIns.inc({ result: str(details.reason, 'failure'), amr: 'none' });
        break;
      case 'login.rejected_locked':
        this.signIns.inc({ result: 'locked', amr: 'none' });
        break;
      case 'login.disabled':
        this.signIns.inc({ result: 'disabled', amr: 'none' });
        break;
      case 'login.email_not_verified':
        this.signIns.inc({ result: 'email_not_verified', amr: 'none' });
        break;
      case 'login.locked':
        this.locks.inc({ by: str(details.by, 'password') });
        break;
      case 'mfa.sent':
        this.secondFactorSends.inc({ channel: str(details.factor, 'unknown'), outcome: 'sent' });
        break;
      case 'mfa.send_failed':
        this.secondFactorSends.inc({ channel: str(details.factor, 'unknown'), outcome: 'failed' });
        break;
      case 'recovery.code_sent':
        this.secondFactorSends.inc({ channel: str(details.channel, 'unknown'), outcome: 'sent' });
        break;
      case 'recovery.code_send_failed':
        this.secondFactorSends.inc({ channel: str(details.channel, 'unknown'), outcome: 'failed' });
        break;
      case 'mfa.passed':
        this.secondFactorChecks.inc({ factor: str(details.factor, 'unknown'), result: 'passed' });
        break;
      case 'mfa.failed':
        this.secondFactorChecks.inc({ factor: str(details.factor, 'unknown'), result: 'failed' });
        break;
      default:
    }
  }

  /** The exposition text (Prometheus text format 0.0.4) and its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/**
 * The route template of a request for labels and logs: the router pattern that matched, ours
 * (`/interaction/:uid/:step`) or oidc-provider's (`/token`, `/.well-known/openid-configuration`);
 * failing that oidc-provider's route name (`oidc:token`, for a request that ended before routing),
 * `static` (src/http/static-files.ts), or `unmatched`. Never the raw path, so ids and tokens in
 * URLs do not become labels.
 */
export function routeTemplate(ctx: { _matchedRoute?: unknown; oidc?: { route?: string }; state: Record<string, unknown> }): string {
  if (typeof ctx._matchedRoute === 'string') return ctx._matchedRoute;
  if (ctx.oidc?.route) return `oidc:${ctx.oidc.route}`;
  if (typeof ctx.state.routeTemplate === 'string') return ctx.state.routeTemplate;
  return 'unmatched';
}
