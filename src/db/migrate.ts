import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kysely } from 'kysely';
import { FileMigrationProvider, Migrator } from 'kysely/migration';

const migrationFolder = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

/**
 * Applies every pending migration in `migrations/` (NNNN_description.ts, in name order), recording
 * them in `kysely_migration` inside the current schema.
 * @param schema the schema whose migration table is used (the same as the search_path).
 * @returns the names of the migrations applied by this call.
 * @throws Error with the failing migration's name when one fails (that migration is rolled back).
 */
export async function migrateToLatest(db: Kysely<any>, schema = 'public'): Promise<string[]> {
  const migrator = new Migrator({
    db,
    migrationTableSchema: schema,
    provider: new FileMigrationProvider({ fs, path, migrationFolder }),
  });
  let { error, results } = await migrator.migrateToLatest();
  // Kysely checks for its migration table by introspecting every schema; a schema that another
  // process drops at that moment (parallel test files) fails that query (3F000, or a catalog cache
  // miss, or a column of a table being dropped). Nothing was applied then: try again. An error in
  // setup (no migration ran, `results` empty) is always such a case worth one more try.
  const inSetup = () => !(results ?? []).some((r) => r.status === 'Error' || r.status === 'Success');
  for (let attempt = 1; error && attempt < 5 && (isCatalogRace(error, schema) || inSetup()); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    ({ error, results } = await migrator.migrateToLatest());
  }
  const failed = results?.find((r) => r.status === 'Error');
  if (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`migration ${failed?.migrationName ?? '(setup)'} failed: ${reason}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * True when a migration error comes from another process's schema being dropped at that moment
 * (parallel test files; 3F000 for another schema, a deadlock, a catalog cache miss): worth a retry.
 */
export function isCatalogRace(error: unknown, schema: string): boolean {
  const e = error as { code?: string; message?: string };
  if (e.code === '40P01' || /cache lookup failed/.test(e.message ?? '')) return true;
  return e.code === '3F000' && !(e.message ?? '').includes(`"${schema}"`);
}

/**
 * Names of the migrations in `migrations/` that the database has not applied (readiness: a replica
 * that runs older code than the database, or a database not migrated yet).
 */
export async function pendingMigrations(db: Kysely<any>, schema = 'public'): Promise<string[]> {
  const migrator = new Migrator({
    db,
    migrationTableSchema: schema,
    provider: new FileMigrationProvider({ fs, path, migrationFolder }),
  });
  const all = await migrator.getMigrations();
  return all.filter((m) => !m.executedAt).map((m) => m.name);
}
