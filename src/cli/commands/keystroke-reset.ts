import { audit } from '../../audit.ts';
import { findAccountByUsername } from '../../db/repositories/accounts.ts';
import { resetProfile } from '../../mfa/keystroke.ts';
import { parseCommandArgs } from '../args.ts';
import { CliError, EXIT } from '../errors.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';
import { commandUsage } from '../usage.ts';

/**
 * `keystroke reset USERNAME`: removes the account's typing pattern (template and presented samples)
 * so that the next sign-in enrolls again — the guide's "contact Service Desk to reset the typing
 * DNA" (slides 8 and 11). Prints `reset USERNAME` or `no typing pattern for USERNAME`.
 * @returns exit 0.
 * @throws UsageError (2) without USERNAME; CliError (1) `no such account: USERNAME`;
 *   ConfigError / EmbeddedDatabaseBusyError (78).
 */
export async function keystrokeReset(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, {}, ['USERNAME']);
  if (parsed.values.help) {
    io.out(commandUsage('keystroke reset'));
    return EXIT.OK;
  }
  const username = parsed.positionals[0]!;
  const removed = await withServices(async (services) => {
    const account = await findAccountByUsername(services.db, username);
    if (!account) throw new CliError(`no such account: ${username}`);
    const done = await resetProfile(services.db, account.id);
    if (done) await audit(services.db, services.clock, 'keystroke.reset', account.id, { userAgent: 'cli' });
    return done;
  });
  io.out(removed ? `reset ${username}` : `no typing pattern for ${username}`);
  return EXIT.OK;
}
