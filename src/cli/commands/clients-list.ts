import { listClients } from '../../oidc/clients.ts';
import { parseCommandArgs } from '../args.ts';
import { EXIT } from '../errors.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';
import { commandUsage } from '../usage.ts';

/**
 * `clients list`: prints every registered client's metadata as a JSON array ordered by client_id,
 * without `client_secret` ({@link listClients}); `[]` when there is none.
 * @returns exit 0.
 * @throws UsageError (2) for any argument; ConfigError / EmbeddedDatabaseBusyError (78).
 */
export async function clientsList(args: string[], io: CliIo): Promise<number> {
  if (parseCommandArgs(args, {}).values.help) {
    io.out(commandUsage('clients list'));
    return EXIT.OK;
  }
  const clients = await withServices((services) => listClients(services.db));
  io.out(JSON.stringify(clients, null, 2));
  return EXIT.OK;
}
