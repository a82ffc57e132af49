/** Where a command writes: standard output for results, standard error for problems and notes. */
export interface CliIo {
  /** Writes `text` plus a newline to standard output. */
  out(text: string): void;
  /** Writes `text` plus a newline to standard error. */
  err(text: string): void;
}

/** The process's own stdout/stderr. */
export const processIo: CliIo = {
  out: (text) => void process.stdout.write(`${text}\n`),
  err: (text) => void process.stderr.write(`${text}\n`),
};
