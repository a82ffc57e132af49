import { readFile } from 'node:fs/promises';
import { CliError } from './errors.ts';

/**
 * Reads a UTF-8 text file named on the command line (a leading byte-order mark is removed).
 * @param file path as given by the user (relative to the current directory).
 * @param what what the file is, for the message (e.g. `producer CSV`).
 * @returns the file's text.
 * @throws CliError (exit 1) `cannot read <what> <file>: <reason>` when it is missing, a directory,
 *   or not readable.
 */
export async function readTextFile(file: string, what: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason =
      e.code === 'ENOENT' ? 'no such file'
      : e.code === 'EISDIR' ? 'it is a directory'
      : e.code === 'EACCES' || e.code === 'EPERM' ? 'permission denied'
      : e.message;
    throw new CliError(`cannot read ${what} ${file}: ${reason}`);
  }
}
