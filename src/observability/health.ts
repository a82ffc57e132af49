import type Router from '@koa/router';
import { sql, type Kysely } from 'kysely';
import type { Config } from '../config/index.ts';
import { pendingMigrations } from '../db/migrate.ts';
import { publishedKeyAlgorithms } from '../db/repositories/signing-keys.ts';
import { anyTermsVersion } from '../db/repositories/terms.ts';
import type { Database } from '../db/schema.ts';

/** One readiness check's outcome: `ok`, or what is wrong (no secrets, no stack). */
export type CheckResult = { ok: true } | { ok: false; reason: string };

/** What GET /readyz answers: 200 when every check is ok, else 503 naming what is not ready. */
export interface Readiness {
  ready: boolean;
  checks: { database: CheckResult; migrations: CheckResult; signing_keys: CheckResult; transport: CheckResult };
}

/** How long the database may take to answer a readiness probe, milliseconds. */
export const READINESS_TIMEOUT_MS = 2000;

function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Readiness of this replica (Kubernetes readiness / load-balancer health): the database answers
 * `SELECT 1` within {@link READINESS_TIMEOUT_MS}, every migration in `migrations/` is applied, and an
 * unretired signing key exists for every signing algorithm. A failing check skips the ones that
 * need the database. `transportProblem` tells whether requests arrive over https where they must
 * (production behind a TLS proxy: src/http/transport.ts); null when they do.
 */
export async function readiness(services: { db: Kysely<Database>; config: Pick<Config, 'DATABASE_SCHEMA'> }, transportProblem: () => string | null = () => null): Promise<Readiness> {
  const { db, config } = services;
  const problem = transportProblem();
  const transport: CheckResult = problem ? { ok: false, reason: problem } : { ok: true };
  const failed = (err: unknown): CheckResult => ({ ok: false, reason: err instanceof Error ? err.message.slice(0, 200) : 'failed' });
  let database: CheckResult = { ok: true };
  try {
    await within(READINESS_TIMEOUT_MS, sql`select 1`.execute(db));
  } catch (err) {
    database = failed(err);
  }
  if (!database.ok) {
    const skipped: CheckResult = { ok: false, reason: 'database not reachable' };
    return { ready: false, checks: { database, migrations: skipped, signing_keys: skipped, transport } };
  }
  let migrations: CheckResult = { ok: true };
  let signing_keys: CheckResult = { ok: true };
  try {
    const pending = await within(READINESS_TIMEOUT_MS, pendingMigrations(db, config.DATABASE_SCHEMA));
    if (pending.length) migrations = { ok: false, reason: `pending: ${pending.join(', ')}` };
  } catch (err) {
    migrations = failed(err);
  }
  try {
    const rows = await within(READINESS_TIMEOUT_MS, publishedKeyAlgorithms(db));
    if (!rows.length) signing_keys = { ok: false, reason: 'no signing key' };
  } catch (err) {
    signing_keys = failed(err);
  }
  return { ready: migrations.ok && signing_keys.ok && transport.ok, checks: { database, migrations, signing_keys, transport } };
}

/**
 * Mounts the health endpoints (README "Operations › Health"):
 * - `GET /healthz` liveness: 200 while the process serves; no database call, so a database outage
 *   does not get every replica restarted;
 * - `GET /readyz` readiness ({@link readiness}): 200, or 503 naming what is not ready;
 * - `GET /health` the check of earlier versions: the database answers and the transport is right
 *   (503 `{"status":"misconfigured","setting":"TRUST_PROXY",…}`).
 * @param transportProblem the transport problem now, or null (src/http/transport.ts).
 */
export function healthRoutes(router: Router, deps: { db: Kysely<Database>; config: Pick<Config, 'DATABASE_SCHEMA'> }, transportProblem: () => string | null): void {
  router.get('/healthz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const result = await readiness(deps, transportProblem);
    ctx.set('Cache-Control', 'no-store');
    ctx.status = result.ready ? 200 : 503;
    ctx.body = { status: result.ready ? 'ready' : 'not_ready', checks: result.checks };
  });
  router.get('/health', async (ctx) => {
    await anyTermsVersion(deps.db);
    const problem = transportProblem();
    ctx.set('Cache-Control', 'no-store');
    if (problem) {
      ctx.status = 503;
      ctx.body = { status: 'misconfigured', setting: 'TRUST_PROXY', problem };
      return;
    }
    ctx.body = { status: 'ok' };
  });
}
