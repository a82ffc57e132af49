import type { CliIo } from './io.ts';

/**
 * A command handler: receives the arguments after its command words and the output streams;
 * resolves to the process exit code (see `EXIT` in ./errors.ts). Expected failures are thrown as
 * CliError/UsageError (or ConfigError/EmbeddedDatabaseBusyError) and turned into a message and
 * exit code by `run` in ./run.ts.
 */
export type Command = (args: string[], io: CliIo) => Promise<number>;
