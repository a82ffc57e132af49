import { publishTerms, TermsVersionExistsError } from '../../db/repositories/terms.ts';
import { parseCommandArgs, requiredString } from '../args.ts';
import { CliError, EXIT, UsageError } from '../errors.ts';
import { readTextFile } from '../files.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';
import { commandUsage } from '../usage.ts';

/** A version label: starts with a letter or digit; then letters, digits, `.`, `_`, `-`; at most 32 characters. */
const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

/**
 * `terms publish FILE --version VERSION`: publishes the text of FILE (UTF-8, kept as written) as a
 * new Terms of Use version and makes it the active one ({@link publishTerms}, one transaction);
 * every producer accepts it again at the next sign-in. Prints `published terms version VERSION (active)`.
 * @returns exit 0.
 * @throws UsageError (2) without FILE or --version, or when VERSION is not a label like `2.1`;
 *   CliError (1) when the file cannot be read, is empty (only whitespace), or the version already
 *   exists; ConfigError / EmbeddedDatabaseBusyError (78).
 */
export async function termsPublish(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, { version: { type: 'string' } }, ['FILE']);
  if (parsed.values.help) {
    io.out(commandUsage('terms publish'));
    return EXIT.OK;
  }
  const version = requiredString(parsed, 'version').trim();
  if (!VERSION_PATTERN.test(version)) {
    throw new UsageError(`--version ${JSON.stringify(version)}: use letters, digits, ".", "_" or "-" (at most 32), e.g. 2.1`);
  }
  const file = parsed.positionals[0]!;
  const body = await readTextFile(file, 'terms file');
  if (body.trim() === '') throw new CliError(`refusing to publish ${file}: the file is empty`);

  await withServices(async (services) => {
    try {
      await publishTerms(services.db, version, body, services.clock.now());
    } catch (err) {
      if (err instanceof TermsVersionExistsError) {
        throw new CliError(`${err.message}: published versions cannot be changed; publish a new version`);
      }
      throw err;
    }
  });
  io.out(`published terms version ${version} (active)`);
  return EXIT.OK;
}
