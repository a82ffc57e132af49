import { migrateToLatest } from '../../db/migrate.ts';
import { parseCommandArgs } from '../args.ts';
import { EXIT } from '../errors.ts';
import type { CliIo } from '../io.ts';
import { loadCliConfig, withDatabase } from '../services.ts';
import { commandUsage } from '../usage.ts';

/**
 * `db migrate`: applies the pending migrations of `migrations/` to DATABASE_SCHEMA (the same step
 * the server runs at start), printing `applied: NAME` per migration, or `up to date`.
 * @returns exit 0.
 * @throws UsageError (2) for any argument; ConfigError / EmbeddedDatabaseBusyError (78);
 *   CliError (1) when the database cannot be opened; Error `migration NAME failed: …` (1, that
 *   migration rolled back).
 */
export async function dbMigrate(args: string[], io: CliIo): Promise<number> {
  if (parseCommandArgs(args, {}).values.help) {
    io.out(commandUsage('db migrate'));
    return EXIT.OK;
  }
  const config = loadCliConfig();
  const applied = await withDatabase(config, (database) => migrateToLatest(database.db, config.DATABASE_SCHEMA));
  if (applied.length === 0) io.out('up to date');
  for (const name of applied) io.out(`applied: ${name}`);
  return EXIT.OK;
}
