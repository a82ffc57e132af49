import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { UsageError } from './errors.ts';

/** The parsed command line of one command: option values by name, and the positional arguments. */
export interface ParsedArgs {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

/**
 * Parses a command's arguments strictly with node:util `parseArgs` (every command also accepts
 * `--help`/`-h`, reported as `values.help`).
 * @param args the arguments after the command words (e.g. after `producers import`).
 * @param options the command's options (parseArgs format).
 * @param positionals names of the expected positional arguments, for messages; exactly this many
 *   are required unless `values.help` is set.
 * @throws UsageError (exit 2) for an unknown option, an option missing its value, a missing or
 *   extra positional argument.
 */
export function parseCommandArgs(args: string[], options: ParseArgsOptionsConfig, positionals: string[] = []): ParsedArgs {
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    }) as ParsedArgs;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('ERR_PARSE_ARGS')) throw new UsageError((err as Error).message);
    throw err;
  }
  if (parsed.values.help) return parsed;
  if (parsed.positionals.length < positionals.length) {
    throw new UsageError(`missing ${positionals.slice(parsed.positionals.length).join(' ')}`);
  }
  if (parsed.positionals.length > positionals.length) {
    throw new UsageError(`unexpected argument(s): ${parsed.positionals.slice(positionals.length).join(' ')}`);
  }
  return parsed;
}

/**
 * A required string option that must be given once and be non-blank.
 * @throws UsageError (exit 2) when it is missing or blank.
 */
export function requiredString(parsed: ParsedArgs, name: string): string {
  const value = parsed.values[name];
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`missing --${name}`);
  return value;
}

/** The values of a `multiple: true` string option, in command-line order (empty when not given). */
export function stringList(parsed: ParsedArgs, name: string): string[] {
  const value = parsed.values[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}
