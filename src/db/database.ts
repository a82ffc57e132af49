import { Kysely, PGliteDialect, PostgresDialect, sql, type LogEvent } from 'kysely';
import pg from 'pg';
import type { Config } from '../config/index.ts';
import { DatabaseConfigError, DatabaseUnreachableError, isDatabaseUnavailable } from './availability.ts';
import { CHANGE_CHANNEL, ChangeFeed, postgresChangeFeed } from './change-feed.ts';
import type { Database } from './schema.ts';

/** A database handle: the Kysely instance and how to close it. */
export interface Db {
  db: Kysely<Database>;
  /** `postgres` (a server through `pg`) or `pglite` (embedded, single-process). */
  kind: 'postgres' | 'pglite';
  /** Connections of the pool (PostgreSQL only), for the metrics gauge. */
  poolStats?: () => { totalCount: number; idleCount: number; waitingCount: number };
  /** Change notifications for caches (src/db/change-feed.ts); idle until `start()`ed (the server does). */
  changes: ChangeFeed;
  /** Closes the pool (and stops the change feed). */
  close(): Promise<void>;
}

/** Hooks of {@link openDatabase}. */
export interface OpenOptions {
  /** Called for every query that fails (metrics count them). */
  onQueryError?: (err: unknown) => void;
  /** Called before each retry while PostgreSQL is unreachable at start-up. */
  onWait?: (message: string) => void;
  /** Called for every query sent, failed or not (metrics count them). */
  onQuery?: () => void;
}

type DbSettings = Pick<Config, 'DATABASE_URL' | 'DATABASE_SCHEMA' | 'DATA_DIR'> &
  Partial<Pick<Config, 'DATABASE_POOL_MAX' | 'DATABASE_CONNECT_TIMEOUT_MS' | 'DATABASE_STARTUP_WAIT_SECONDS'>>;

/** `host:port` of a connection string (never its password), for messages. */
function serverOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}`;
  } catch {
    return 'DATABASE_URL';
  }
}

/**
 * Creates the schema on a throwaway connection, waiting while PostgreSQL is unreachable: retries
 * with back-off (0.5 s doubling to 5 s) for at most DATABASE_STARTUP_WAIT_SECONDS.
 * @throws DatabaseUnreachableError naming the server and the setting when the wait runs out;
 *   any other error (wrong password, unknown database) at once.
 */
async function createSchemaWhenReachable(config: DbSettings, options: OpenOptions): Promise<void> {
  const waitMs = (config.DATABASE_STARTUP_WAIT_SECONDS ?? 60) * 1000;
  const deadline = Date.now() + waitMs;
  for (let attempt = 1, delay = 500; ; attempt++, delay = Math.min(delay * 2, 5000)) {
    const setup = new pg.Client({ connectionString: config.DATABASE_URL, connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT_MS ?? 5000 });
    setup.on('error', () => {});
    try {
      await setup.connect();
      await setup.query(`CREATE SCHEMA IF NOT EXISTS "${config.DATABASE_SCHEMA}"`);
      return;
    } catch (err) {
      if (!isDatabaseUnavailable(err)) {
        // Reached, but refused (no such database or role, wrong password): a setting to fix.
        const code = (err as { code?: string }).code ?? '';
        if (/^(3D000|28000|28P01|42501)$/.test(code)) {
          throw new DatabaseConfigError(`PostgreSQL at ${serverOf(config.DATABASE_URL!)} refused the connection: ${(err as Error).message}. Check DATABASE_URL.`);
        }
        throw err;
      }
      const reason = (err as { code?: string; message?: string }).code ?? (err as Error).message;
      if (Date.now() + delay > deadline) {
        throw new DatabaseUnreachableError(
          `PostgreSQL at ${serverOf(config.DATABASE_URL!)} did not answer within ${Math.round(waitMs / 1000)} seconds (${reason}). ` +
            'Check DATABASE_URL and that the server is running; DATABASE_STARTUP_WAIT_SECONDS sets how long start-up waits.',
        );
      }
      options.onWait?.(`waiting for PostgreSQL at ${serverOf(config.DATABASE_URL!)} (attempt ${attempt}: ${reason}); retrying in ${delay / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    } finally {
      await setup.end().catch(() => {});
    }
  }
}

// int8 (count(*), bigint) as number: our counts stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));

/**
 * Opens the database named by configuration: PostgreSQL through `pg` when `DATABASE_URL` is set,
 * otherwise embedded PGlite kept in `DATA_DIR/pglite` (refusing when another process holds it).
 * The schema `DATABASE_SCHEMA` is created when missing and becomes the search_path. Start-up waits
 * for an unreachable PostgreSQL (see {@link createSchemaWhenReachable}).
 * @throws Error when the embedded database is held by another running process (see {@link lockEmbedded}).
 * @throws DatabaseUnreachableError when PostgreSQL stays unreachable for DATABASE_STARTUP_WAIT_SECONDS.
 */
export async function openDatabase(config: DbSettings, options: OpenOptions = {}): Promise<Db> {
  const schema = config.DATABASE_SCHEMA;
  const log = options.onQueryError || options.onQuery
    ? (event: LogEvent) => {
      options.onQuery?.();
      if (event.level === 'error') options.onQueryError?.(event.error);
    }
    : undefined;
  if (config.DATABASE_URL) {
    // Create the schema first on a throwaway connection, then pin search_path on every pooled one.
    await createSchemaWhenReachable(config, options);
    const pool = new pg.Pool({
      connectionString: config.DATABASE_URL,
      max: config.DATABASE_POOL_MAX ?? 10,
      // While the server is down a request fails after this wait (503) instead of hanging; the pool
      // opens new connections by itself once the server is back.
      connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT_MS ?? 5000,
      options: `-c search_path="${schema}" -c timezone=UTC`,
    });
    pool.on('error', () => {}); // idle client errors surface on the next query instead
    // A connection cut while checked out (server shutdown, 57P01) emits 'error' on its client; the
    // query in flight fails with it (503), so the event itself must not crash the process.
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log });
    const changes = postgresChangeFeed(config.DATABASE_URL, schema, config.DATABASE_CONNECT_TIMEOUT_MS ?? 5000);
    return {
      db,
      kind: 'postgres',
      poolStats: () => ({ totalCount: pool.totalCount, idleCount: pool.idleCount, waitingCount: pool.waitingCount }),
      changes,
      close: async () => {
        await changes.stop();
        await db.destroy();
      },
    };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { lockEmbedded } = await import('./embedded-lock.ts');
  const release = lockEmbedded(config.DATA_DIR);
  try {
    const pglite = await PGlite.create(`${config.DATA_DIR}/pglite`);
    await pglite.exec(`CREATE SCHEMA IF NOT EXISTS "${schema}"; SET search_path TO "${schema}"; SET timezone TO 'UTC';`);
    const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }), log });
    // One process holds the embedded database, so every change is made here: LISTEN in-process.
    const changes = new ChangeFeed(schema, async (onChange) => pglite.listen(CHANGE_CHANNEL, onChange));
    return {
      db,
      kind: 'pglite',
      changes,
      close: async () => {
        await changes.stop();
        await db.destroy();
        release();
      },
    };
  } catch (err) {
    release();
    throw err;
  }
}

/** Drops a schema and everything in it (tests only). */
export async function dropSchema(db: Kysely<Database>, schema: string): Promise<void> {
  // Parallel test files drop their schemas at the same time; PostgreSQL may pick one as a deadlock
  // victim (40P01) on shared catalog rows: try again.
  for (let attempt = 1; ; attempt++) {
    try {
      await sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`.execute(db);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '40P01' || attempt >= 5) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}
