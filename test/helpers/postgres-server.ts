import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * A PostgreSQL server of a test's own: `initdb` and `pg_ctl` from the machine's PostgreSQL
 * (/usr/lib/postgresql/<newest>/bin) in a temporary folder, listening on 127.0.0.1:`port` with
 * trust authentication. As root the server runs as the `postgres` user (initdb refuses root).
 * `stop()` is a fast shutdown (open connections are cut, as in an outage); `start()` brings it back
 * with the same data.
 */
export class PostgresServer {
  readonly port: number;
  readonly dir: string;
  readonly #bin: string;
  readonly #asPostgres: boolean;

  private constructor(port: number, dir: string, bin: string, asPostgres: boolean) {
    this.port = port;
    this.dir = dir;
    this.#bin = bin;
    this.#asPostgres = asPostgres;
  }

  /** Creates the cluster (initdb) and starts it. */
  static async create(): Promise<PostgresServer> {
    const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b));
    const bin = `/usr/lib/postgresql/${versions.at(-1)}/bin`;
    const asPostgres = userInfo().uid === 0;
    const dir = mkdtempSync(path.join(tmpdir(), 'pidp-pg-'));
    if (asPostgres) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
      chownSync(dir, uid, gid);
      chmodSync(dir, 0o700);
    }
    const server = new PostgresServer(await freePort(), dir, bin, asPostgres);
    server.#run('initdb', ['-D', path.join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    server.start();
    return server;
  }

  /** postgres://postgres@127.0.0.1:<port>/postgres */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  #run(tool: string, args: string[]): void {
    const cmd = path.join(this.#bin, tool);
    const r = this.#asPostgres ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' }) : spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${tool} failed (${r.status}): ${r.stderr || r.stdout}`);
  }

  /** Starts the server and waits until it accepts connections. */
  start(): void {
    const opts = `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir} -c fsync=off`;
    this.#run('pg_ctl', ['-D', path.join(this.dir, 'data'), '-o', opts, '-l', path.join(this.dir, 'log'), '-w', 'start']);
  }

  /** Stops the server at once (fast shutdown: connections are cut). */
  stop(): void {
    this.#run('pg_ctl', ['-D', path.join(this.dir, 'data'), '-m', 'fast', '-w', 'stop']);
  }

  /** Stops the server (if running) and removes its folder. */
  destroy(): void {
    try {
      this.stop();
    } catch {
      // already stopped
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
