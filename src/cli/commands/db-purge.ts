import { purgeExpired } from '../../operator/purge.ts';
import { parseCommandArgs } from '../args.ts';
import { CliError, EXIT } from '../errors.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';
import { commandUsage } from '../usage.ts';

/**
 * `db purge`: removes expired rows now (the job the server runs every PURGE_INTERVAL_SECONDS) and
 * prints `TABLE: N` per table and a `total: N` line.
 * @returns exit 0.
 * @throws CliError (1) `another purge is running` when a replica holds the purge lock; UsageError (2).
 */
export async function dbPurge(args: string[], io: CliIo): Promise<number> {
  if (parseCommandArgs(args, {}).values.help) {
    io.out(commandUsage('db purge'));
    return EXIT.OK;
  }
  const counts = await withServices((services) => purgeExpired(services.db, services.clock.now(), services.config.AUDIT_RETENTION_DAYS, services.config.LOCKOUT_SECONDS));
  if (!counts) throw new CliError('another purge is running (a replica holds the purge lock); try again in a minute');
  const width = Math.max(...Object.keys(counts).map((k) => k.length));
  for (const [table, n] of Object.entries(counts)) io.out(`${`${table}:`.padEnd(width + 1)} ${n}`);
  io.out(`${'total:'.padEnd(width + 1)} ${Object.values(counts).reduce((a, b) => a + b, 0)}`);
  return EXIT.OK;
}
