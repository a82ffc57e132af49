import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TEST_DATABASE_URL } from './idp.ts';

/** What one CLI run printed and its exit code. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A CLI harness for a test file: a fresh schema name and temporary folder, and `cli(args, env)`
 * that runs `node src/cli/main.ts …args` as a child process with only what a deployment would set
 * (`env` values override; `undefined` unsets).
 */
export function cliHarness(prefix: string) {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  const tmp = mkdtempSync(path.join(tmpdir(), `producer-idp-${prefix}-`));
  const baseEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: schema,
    NODE_ENV: 'test',
    COOKIE_KEYS: 'cli-test-cookie-key-0123456789abcdefghij',
    PORTAL_CLIENT_SECRET: 'cli-test-portal-secret-0123456789abcdefg',
    SEED_DEMO: 'false',
    DATA_DIR: path.join(tmp, 'data'),
  };
  function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
    const merged: Record<string, string> = { ...baseEnv };
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete merged[k];
      else merged[k] = v;
    }
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['src/cli/main.ts', ...args], { cwd: process.cwd(), env: merged });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }
  return { schema, tmp, baseEnv, cli };
}
