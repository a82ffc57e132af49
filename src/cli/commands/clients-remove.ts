import { removeClient } from '../../oidc/clients.ts';
import { parseCommandArgs } from '../args.ts';
import { CliError, EXIT } from '../errors.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';
import { commandUsage } from '../usage.ts';

/**
 * `clients remove CLIENT_ID`: removes the client and every token issued to it
 * ({@link removeClient}), printing `removed CLIENT_ID`.
 * @returns exit 0.
 * @throws UsageError (2) without CLIENT_ID; CliError (1) `no such client: CLIENT_ID`;
 *   ConfigError / EmbeddedDatabaseBusyError (78).
 */
export async function clientsRemove(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, {}, ['CLIENT_ID']);
  if (parsed.values.help) {
    io.out(commandUsage('clients remove'));
    return EXIT.OK;
  }
  const clientId = parsed.positionals[0]!;
  const removed = await withServices((services) => removeClient(services.db, clientId));
  if (!removed) throw new CliError(`no such client: ${clientId}`);
  io.out(`removed ${clientId}`);
  return EXIT.OK;
}
