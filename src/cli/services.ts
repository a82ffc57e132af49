import { buildServices } from '../bootstrap.ts';
import { ConfigError, loadConfig, type Config } from '../config/index.ts';
import { openDatabase, type Db } from '../db/database.ts';
import { EmbeddedDatabaseBusyError } from '../db/embedded-lock.ts';
import type { Services } from '../services.ts';
import { CliError, describeError } from './errors.ts';

/**
 * The configuration the CLI runs with: {@link loadConfig} over `env` (default `process.env`), exactly
 * as `npm start`, except that LOG_LEVEL defaults to `silent` so logs do not mix with the output.
 * @throws ConfigError (the CLI exits 78) when a setting is invalid.
 */
export function loadCliConfig(env: Record<string, string | undefined> = process.env): Config {
  return loadConfig({ ...env, LOG_LEVEL: env.LOG_LEVEL || 'silent' });
}

/** Errors that keep their own type (and exit code) when the database cannot be opened. */
function isConfigProblem(err: unknown): boolean {
  return err instanceof ConfigError || err instanceof EmbeddedDatabaseBusyError || err instanceof CliError;
}

/**
 * Opens the database of `config` without migrating (for `db migrate`), runs `fn`, and always closes
 * the database (releasing the embedded lock) so that the process can exit.
 * @throws EmbeddedDatabaseBusyError (exit 78) when `npm start` holds the embedded database;
 *   CliError (exit 1) `cannot open the database: …` when it cannot be reached; whatever `fn` throws.
 */
export async function withDatabase<T>(config: Config, fn: (database: Db) => Promise<T>): Promise<T> {
  let database: Db;
  try {
    database = await openDatabase(config);
  } catch (err) {
    if (isConfigProblem(err)) throw err;
    throw new CliError(`cannot open the database: ${describeError(err)}`);
  }
  try {
    return await fn(database);
  } finally {
    await database.close();
  }
}

/**
 * Loads the CLI configuration, builds the services exactly as the server does ({@link buildServices}:
 * opens the database and applies pending migrations), runs `fn`, and always closes the database.
 * @throws ConfigError / EmbeddedDatabaseBusyError (exit 78); CliError (exit 1) `cannot open the
 *   database: …` when the database cannot be reached or a migration fails; whatever `fn` throws.
 */
export async function withServices<T>(fn: (services: Services) => Promise<T>): Promise<T> {
  const config = loadCliConfig();
  let built: Awaited<ReturnType<typeof buildServices>>;
  try {
    built = await buildServices(config);
  } catch (err) {
    if (isConfigProblem(err)) throw err;
    throw new CliError(`cannot open the database: ${describeError(err)}`);
  }
  try {
    return await fn(built.services);
  } finally {
    await built.database.close();
  }
}
