import { Kysely, PGliteDialect, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Config } from '../config/index.ts';
import type { Database } from './schema.ts';

/** A database handle: the Kysely instance and how to close it. */
export interface Db {
  db: Kysely<Database>;
  /** `postgres` (a server through `pg`) or `pglite` (embedded, single-process). */
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

// int8 (count(*), bigint) as number: our counts stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));

/**
 * Opens the database named by configuration: PostgreSQL through `pg` when `DATABASE_URL` is set,
 * otherwise embedded PGlite kept in `DATA_DIR/pglite` (refusing when another process holds it).
 * The schema `DATABASE_SCHEMA` is created when missing and becomes the search_path.
 * @throws Error when the embedded database is held by another running process (see {@link lockEmbedded}).
 */
export async function openDatabase(config: Pick<Config, 'DATABASE_URL' | 'DATABASE_SCHEMA' | 'DATA_DIR'>): Promise<Db> {
  const schema = config.DATABASE_SCHEMA;
  if (config.DATABASE_URL) {
    // Create the schema first on a throwaway connection, then pin search_path on every pooled one.
    const setup = new pg.Client({ connectionString: config.DATABASE_URL });
    await setup.connect();
    try {
      await setup.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    } finally {
      await setup.end();
    }
    const pool = new pg.Pool({
      connectionString: config.DATABASE_URL,
      max: 10,
      options: `-c search_path="${schema}" -c timezone=UTC`,
    });
    pool.on('error', () => {}); // idle client errors surface on the next query instead
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, kind: 'postgres', close: () => db.destroy() };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { lockEmbedded } = await import('./embedded-lock.ts');
  const release = lockEmbedded(config.DATA_DIR);
  try {
    const pglite = await PGlite.create(`${config.DATA_DIR}/pglite`);
    await pglite.exec(`CREATE SCHEMA IF NOT EXISTS "${schema}"; SET search_path TO "${schema}"; SET timezone TO 'UTC';`);
    const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
    return {
      db,
      kind: 'pglite',
      close: async () => {
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
