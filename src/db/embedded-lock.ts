import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Thrown when the embedded database is already open in another process. */
export class EmbeddedDatabaseBusyError extends Error {
  readonly pid: number;
  constructor(pid: number, dataDir: string) {
    super(
      `The embedded database in ${dataDir} is in use by another process (pid ${pid}, probably \`npm start\`).\n` +
        'PGlite is single-process: stop that process first (Ctrl+C), then run this command again,\n' +
        'or point both at a PostgreSQL server with DATABASE_URL.',
    );
    this.pid = pid;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the single-process lock on the embedded database in `dataDir` (a pid file, `dataDir/LOCK`).
 * A lock left by a process that no longer runs is taken over.
 * @returns a function that releases the lock (idempotent).
 * @throws EmbeddedDatabaseBusyError when a live process holds it.
 */
export function lockEmbedded(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'LOCK');
  if (existsSync(file)) {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) throw new EmbeddedDatabaseBusyError(pid, dataDir);
  }
  writeFileSync(file, String(process.pid));
  let released = false;
  return () => {
    if (released) return;
    released = true;
    try {
      if (readFileSync(file, 'utf8') === String(process.pid)) rmSync(file);
    } catch {
      /* already gone */
    }
  };
}
