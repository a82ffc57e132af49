import { listAudit } from '../../operator/service-desk.ts';
import { parseCommandArgs } from '../args.ts';
import { EXIT, UsageError } from '../errors.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';
import { commandUsage } from '../usage.ts';

const OPTIONS = {
  username: { type: 'string' },
  since: { type: 'string' },
  type: { type: 'string' },
  limit: { type: 'string' },
  format: { type: 'string' },
} as const;

/**
 * `audit list [--username U] [--since ISO] [--type T] [--limit N] [--format json|table]`: audit
 * events, newest first (default 100). `--type login.` matches a family. JSON (default) prints an
 * array; `table` prints one aligned line per event.
 * @throws UsageError (2) for a --since that is not an ISO 8601 time, a --limit outside 1..10000,
 *   or a --format other than json or table.
 */
export async function auditList(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, OPTIONS);
  if (parsed.values.help) {
    io.out(commandUsage('audit list'));
    return EXIT.OK;
  }
  const v = parsed.values as Record<string, string | undefined>;
  const format = v.format ?? 'json';
  if (format !== 'json' && format !== 'table') throw new UsageError(`--format must be json or table, not ${format}`);
  let since: Date | undefined;
  if (v.since !== undefined) {
    since = new Date(v.since);
    if (!/^\d{4}-\d{2}-\d{2}/.test(v.since) || Number.isNaN(since.getTime())) throw new UsageError(`--since must be an ISO 8601 time (e.g. 2026-11-30 or 2026-11-30T08:00:00Z), not ${v.since}`);
  }
  const limit = v.limit === undefined ? 100 : Number(v.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10000) throw new UsageError('--limit must be a whole number from 1 to 10000');
  const rows = await withServices((services) => listAudit(services, { username: v.username, since, type: v.type, limit }));
  if (format === 'json') {
    io.out(JSON.stringify(rows, null, 2));
    return EXIT.OK;
  }
  const lines = rows.map((r) => [r.at, r.type.padEnd(34), (r.username ?? '-').padEnd(20), (r.ip ?? '-').padEnd(15), JSON.stringify(r.details)].join('  '));
  io.out([`${'at'.padEnd(24)}  ${'type'.padEnd(34)}  ${'username'.padEnd(20)}  ${'ip'.padEnd(15)}  details`, ...lines].join('\n'));
  return EXIT.OK;
}
