/**
 * Exit codes of the CLI (`npm run cli -- …`), following sysexits(3) where one fits.
 * - `OK` 0: the command did what was asked.
 * - `FAILURE` 1: an expected failure (invalid data, unreadable file, no such client, version exists,
 *   database unreachable); one line on stderr, nothing half-done.
 * - `USAGE` 2: bad command line (unknown command or option, missing argument); usage on stderr.
 * - `CONFIG` 78 (EX_CONFIG): invalid configuration, or the embedded database is held by a running
 *   `npm start`.
 */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, CONFIG: 78 } as const;

/** An expected failure: `message` is printed as is (no stack) and the process exits with `exitCode` (default 1). */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.FAILURE) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** A bad command line: `message` and the usage text go to stderr, exit code 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.USAGE);
  }
}

/**
 * One line describing `err` for a human, without a stack: the message, or for errors that carry
 * none (e.g. an `AggregateError` from a refused connection to `localhost`) the inner errors' messages
 * or the error code.
 */
export function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    const inner = [...new Set(err.errors.map((e) => describeError(e)))];
    return err.message ? `${err.message} (${inner.join('; ')})` : inner.join('; ');
  }
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const message = err.message.split('\n')[0]?.trim() ?? '';
    if (message) return message;
    return code ? String(code) : err.name;
  }
  return String(err);
}
