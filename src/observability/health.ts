import { sql } from 'kysely';
import { pendingMigrations } from '../db/migrate.ts';
import type { Services } from '../services.ts';

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
export async function readiness(services: Pick<Services, 'db' | 'config'>, transportProblem: () => string | null = () => null): Promise<Readiness> {
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
    const rows = await within(READINESS_TIMEOUT_MS, db.selectFrom('signing_keys').select('alg').where('retired_at', 'is', null).execute());
    if (!rows.length) signing_keys = { ok: false, reason: 'no signing key' };
  } catch (err) {
    signing_keys = failed(err);
  }
  return { ready: migrations.ok && signing_keys.ok && transport.ok, checks: { database, migrations, signing_keys, transport } };
}
