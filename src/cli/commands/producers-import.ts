import { audit } from '../../audit.ts';
import { activeDelegationsOfActiveProducers } from '../../db/repositories/delegations.ts';
import { storedParents, upsertProducers } from '../../db/repositories/producers.ts';
import { hierarchyProblems } from '../../producers/hierarchy.ts';
import { endProducerSessions } from '../../oidc/revocation.ts';
import { formatImportError, parseProducerCsv } from '../../producers/csv-import.ts';
import { parseCommandArgs } from '../args.ts';
import { CliError, EXIT } from '../errors.ts';
import { readTextFile } from '../files.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';
import { commandUsage } from '../usage.ts';

/**
 * `producers import FILE.csv [--dry-run]`: reads and validates the whole file first
 * ({@link parseProducerCsv}); when any row is invalid, prints every problem to stderr as
 * `line N: reason` followed by a summary and writes nothing. The hierarchy is checked too
 * ({@link hierarchyProblems}: a parent neither in the file nor stored, or a cycle, names its lines;
 * nothing is written). Otherwise inserts or updates every
 * record by producer number in ONE transaction and prints `imported: X new, Y updated`. In the same
 * transaction, the accounts of records marked `inactive` lose every session, grant and token
 * ({@link endProducerSessions}).
 * With `--dry-run` it only validates and prints `valid: N rows (dry run, nothing written)`; the
 * database is not opened (so it also works while `npm start` holds the embedded database).
 * @returns exit 0.
 * @throws UsageError (2) without FILE or with an unknown option; CliError (1) when the file cannot
 *   be read or has invalid rows; ConfigError / EmbeddedDatabaseBusyError (78); CliError (1) when the
 *   database cannot be opened (the transaction is rolled back on any database error).
 */
export async function producersImport(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, { 'dry-run': { type: 'boolean' } }, ['FILE.csv']);
  if (parsed.values.help) {
    io.out(commandUsage('producers import'));
    return EXIT.OK;
  }
  const file = parsed.positionals[0]!;
  const { records, errors, recordLines } = parseProducerCsv(await readTextFile(file, 'producer CSV'));
  if (errors.length > 0) {
    for (const error of errors) io.err(formatImportError(error));
    const lines = new Set(errors.map((e) => e.line)).size;
    throw new CliError(`${file}: ${errors.length} problem(s) on ${lines} line(s); nothing imported`);
  }
  if (parsed.values['dry-run']) {
    io.out(`valid: ${records.length} rows (dry run, nothing written)`);
    return EXIT.OK;
  }
  const { inserted, updated } = await withServices(async (services) => {
    const result = await services.db.transaction().execute(async (trx) => {
      // The hierarchy is checked against the stored producers inside the transaction that writes.
      const stored = await storedParents(trx);
      const problems = hierarchyProblems(records, recordLines ?? [], stored);
      if (problems.length > 0) {
        for (const problem of problems) io.err(formatImportError(problem));
        throw new CliError(`${file}: ${problems.length} hierarchy problem(s); nothing imported`);
      }
      const inactive = records.filter((r) => r.status === 'inactive').map((r) => r.producerNumber);
      // Issue 14: the delegations this import makes inactive (their producer was active until now).
      const deactivated = await activeDelegationsOfActiveProducers(trx, inactive);
      const counts = await upsertProducers(trx, records);
      // An inactive producer may not sign in: end its sessions, grants and tokens too (issue 9 item 3),
      // and every delegate's access for them (issue 14 item 5).
      await endProducerSessions(trx, inactive);
      return { ...counts, deactivated };
    });
    for (const d of result.deactivated) {
      const details = { delegationId: d.id, producerNumber: d.producerNumber, by: 'producers import' };
      await audit(services.db, services.clock, 'delegate.deactivated', d.producerAccountId, {}, details);
      if (d.delegateAccountId) await audit(services.db, services.clock, 'delegate.deactivated', d.delegateAccountId, {}, details);
    }
    return result;
  });
  io.out(`imported: ${inserted} new, ${updated} updated`);
  return EXIT.OK;
}
