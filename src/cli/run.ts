import { ConfigError } from '../config/index.ts';
import { EmbeddedDatabaseBusyError } from '../db/embedded-lock.ts';
import type { Command } from './command.ts';
import { accountsDisable, accountsEnable, accountsSessions, accountsShow, accountsSignOut, accountsUnlock } from './commands/accounts.ts';
import { auditList } from './commands/audit-list.ts';
import { clientsAdd } from './commands/clients-add.ts';
import { clientsList } from './commands/clients-list.ts';
import { clientsRemove } from './commands/clients-remove.ts';
import { clientsFirstParty, clientsInitialAccessToken, clientsRevokeInitialAccessToken, clientsRotateSecret } from './commands/clients-integrators.ts';
import { resourcesAdd, resourcesList, resourcesRemove } from './commands/resources.ts';
import { keysList, keysRotate } from './commands/keys.ts';
import { dbMigrate } from './commands/db-migrate.ts';
import { dbPurge } from './commands/db-purge.ts';
import { keystrokeReset } from './commands/keystroke-reset.ts';
import { delegatesList } from './commands/delegates-list.ts';
import { devicesList } from './commands/devices-list.ts';
import { devicesRevoke } from './commands/devices-revoke.ts';
import { producersImport } from './commands/producers-import.ts';
import { termsPublish } from './commands/terms-publish.ts';
import { CliError, describeError, EXIT, UsageError } from './errors.ts';
import { processIo, type CliIo } from './io.ts';
import { commandUsage, USAGE } from './usage.ts';

/** Every command, by its two command words. */
const COMMANDS: Record<string, Command> = {
  'db migrate': dbMigrate,
  'db purge': dbPurge,
  'producers import': producersImport,
  'clients add': clientsAdd,
  'clients list': clientsList,
  'clients remove': clientsRemove,
  'clients rotate-secret': clientsRotateSecret,
  'clients initial-access-token': clientsInitialAccessToken,
  'clients revoke-initial-access-token': clientsRevokeInitialAccessToken,
  'clients first-party': clientsFirstParty,
  'resources add': resourcesAdd,
  'resources list': resourcesList,
  'resources remove': resourcesRemove,
  'keys list': keysList,
  'keys rotate': keysRotate,
  'terms publish': termsPublish,
  'delegates list': delegatesList,
  'devices list': devicesList,
  'keystroke reset': keystrokeReset,
  'devices revoke': devicesRevoke,
  'accounts show': accountsShow,
  'accounts unlock': accountsUnlock,
  'accounts disable': accountsDisable,
  'accounts enable': accountsEnable,
  'accounts sessions': accountsSessions,
  'accounts sign-out': accountsSignOut,
  'audit list': auditList,
};

const HELP_WORDS = new Set(['help', '--help', '-h']);

/**
 * Runs one CLI invocation and returns its exit code (never throws, never calls process.exit):
 * - `help`, `--help`, `-h` or no arguments: usage on stdout, 0;
 * - unknown command: `unknown command: …` and the usage on stderr, 2;
 * - otherwise dispatches to the command (see ./commands/*), mapping what it throws to one line
 *   on stderr, without stack: UsageError → message + that command's usage, 2; ConfigError and
 *   EmbeddedDatabaseBusyError → message, 78; CliError → message, its exit code (1);
 *   anything else → `error: message`, 1 (the stack only when LOG_LEVEL is debug or trace).
 * @param argv the arguments after the script (`process.argv.slice(2)`).
 */
export async function run(argv: string[], io: CliIo = processIo): Promise<number> {
  if (argv.length === 0 || HELP_WORDS.has(argv[0]!)) {
    io.out(USAGE);
    return EXIT.OK;
  }
  const words = argv.slice(0, 2).join(' ');
  const command = COMMANDS[words];
  if (!command) {
    io.err(`unknown command: ${words}\n\n${USAGE}`);
    return EXIT.USAGE;
  }
  try {
    return await command(argv.slice(2), io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${words}: ${err.message}\n\n${commandUsage(words)}`);
      return EXIT.USAGE;
    }
    if (err instanceof ConfigError || err instanceof EmbeddedDatabaseBusyError) {
      io.err(err.message);
      return EXIT.CONFIG;
    }
    if (err instanceof CliError) {
      io.err(err.message);
      return err.exitCode;
    }
    io.err(`error: ${describeError(err)}`);
    if (['debug', 'trace'].includes(process.env.LOG_LEVEL ?? '') && err instanceof Error && err.stack) io.err(err.stack);
    return EXIT.FAILURE;
  }
}
