/**
 * `devices list` / `devices revoke` (remembered devices, "Remember this device for 30 days") run for
 * real as child processes against PostgreSQL, in a fresh schema for this file (dropped at the end).
 * The account and its devices are inserted directly. All data is generated and fictitious.
 */
import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceJson } from '../../src/cli/commands/devices-list.ts';
import { cliHarness } from '../helpers/cli.ts';
import { TEST_DATABASE_URL } from '../helpers/idp.ts';

const { schema, tmp, cli } = cliHarness('t_cli_dev');
let client: pg.Client;

const ACCOUNT_ID = 'acct-cli-devices-0001';
const OTHER_ACCOUNT_ID = 'acct-cli-devices-0002';
const OLDER = 'dev-older-0000000000001';
const NEWER = 'dev-newer-0000000000002';
const OTHERS = 'dev-other-0000000000003';

async function insertAccount(id: string, username: string, producerNumber: string): Promise<void> {
  await client.query(
    `INSERT INTO "${schema}".producer_records (producer_number, npn, first_name, last_name, email, business_zip)
     VALUES ($1, $2, 'Testfirst', 'Testlast', $3, '60601')`,
    [producerNumber, producerNumber.slice(1), `${username.toLowerCase()}@example.test`],
  );
  await client.query(
    `INSERT INTO "${schema}".accounts (id, username, username_normalized, producer_number, password_hash, password_changed_at, created_at)
     VALUES ($1, $2, $3, $4, 'not-a-real-hash', now(), now())`,
    [id, username, username.toLowerCase(), producerNumber],
  );
}

async function insertDevice(id: string, accountId: string, createdAt: string, lastUsedAt: string | null, userAgent: string | null, factor: string): Promise<void> {
  await client.query(
    `INSERT INTO "${schema}".trusted_devices (id, account_id, secret_hash, created_at, expires_at, last_used_at, user_agent, factor)
     VALUES ($1, $2, $3, $4, $4::timestamptz + interval '30 days', $5, $6, $7)`,
    [id, accountId, `secret-hash-of-${id}`, createdAt, lastUsedAt, userAgent, factor],
  );
}

async function revokedAt(id: string): Promise<Date | null> {
  const { rows } = await client.query(`SELECT revoked_at FROM "${schema}".trusted_devices WHERE id = $1`, [id]);
  return rows[0].revoked_at;
}


async function list(username: string): Promise<DeviceJson[]> {
  const result = await cli(['devices', 'list', username]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as DeviceJson[];
}

beforeAll(async () => {
  client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  const migrated = await cli(['db', 'migrate']);
  expect(migrated.code, migrated.stderr).toBe(0);
  expect(migrated.stdout).toMatch(/^applied: 0003_trusted_devices$/m);
  await insertAccount(ACCOUNT_ID, 'Test.Devices', '700000901');
  await insertAccount(OTHER_ACCOUNT_ID, 'other.devices', '700000902');
  await insertDevice(OLDER, ACCOUNT_ID, '2031-03-01T10:00:00.000Z', null, null, 'email');
  await insertDevice(NEWER, ACCOUNT_ID, '2031-03-05T08:30:00.000Z', '2031-03-06T09:15:00.000Z', 'Mozilla/5.0 (Fictional Browser)', 'sms');
  await insertDevice(OTHERS, OTHER_ACCOUNT_ID, '2031-03-02T10:00:00.000Z', null, null, 'email');
});

afterAll(async () => {
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
  rmSync(tmp, { recursive: true, force: true });
});

describe('cli devices', () => {
  it('devices list prints the account devices newest first, without secrets, username ignoring case', async () => {
    const result = await cli(['devices', 'list', 'test.devices']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toContain('secret');
    expect(JSON.parse(result.stdout)).toEqual([
      {
        id: NEWER,
        created_at: '2031-03-05T08:30:00.000Z',
        expires_at: '2031-04-04T08:30:00.000Z',
        last_used_at: '2031-03-06T09:15:00.000Z',
        user_agent: 'Mozilla/5.0 (Fictional Browser)',
        factor: 'sms',
        scope: 'mfa',
        revoked_at: null,
      },
      {
        id: OLDER,
        created_at: '2031-03-01T10:00:00.000Z',
        expires_at: '2031-03-31T10:00:00.000Z',
        last_used_at: null,
        user_agent: null,
        factor: 'email',
        scope: 'mfa',
        revoked_at: null,
      },
    ]);
  });

  it('devices revoke DEVICE_ID revokes that device only; again says it was already revoked', async () => {
    const result = await cli(['devices', 'revoke', 'Test.Devices', OLDER]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('revoked 1 device(s)');

    const devices = await list('Test.Devices');
    const older = devices.find((d) => d.id === OLDER)!;
    const newer = devices.find((d) => d.id === NEWER)!;
    expect(older.revoked_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Math.abs(Date.parse(older.revoked_at!) - Date.now())).toBeLessThan(120_000);
    expect(newer.revoked_at).toBeNull();
    expect(await revokedAt(OTHERS)).toBeNull();

    const { rows } = await client.query(`SELECT type, account_id, details FROM "${schema}".audit_events WHERE type = 'device.revoked'`);
    expect(rows).toEqual([{ type: 'device.revoked', account_id: ACCOUNT_ID, details: { deviceId: OLDER, count: 1 } }]);

    const again = await cli(['devices', 'revoke', 'Test.Devices', OLDER]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(`device ${OLDER} was already revoked at ${older.revoked_at}`);
  });

  it('devices revoke of another account device or an unknown id says no such device and revokes nothing', async () => {
    for (const id of [OTHERS, 'no-such-device-id']) {
      const result = await cli(['devices', 'revoke', 'Test.Devices', id]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(`no such device: ${id}`);
      expect(result.stdout).toBe('');
    }
    expect(await revokedAt(OTHERS)).toBeNull();
    expect(await revokedAt(NEWER)).toBeNull();
  });

  it('devices revoke --all revokes the remaining devices of the account only', async () => {
    const result = await cli(['devices', 'revoke', 'test.devices', '--all']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('revoked 1 device(s)');
    expect((await list('Test.Devices')).every((d) => d.revoked_at !== null)).toBe(true);
    expect(await revokedAt(OTHERS)).toBeNull();

    const none = await cli(['devices', 'revoke', 'test.devices', '--all']);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout.trim()).toBe('revoked 0 device(s)');
  });

  it('an unknown username exits 1 for list and revoke', async () => {
    for (const args of [['devices', 'list', 'nobody.here'], ['devices', 'revoke', 'nobody.here', '--all'], ['devices', 'revoke', 'nobody.here', OTHERS]]) {
      const result = await cli(args);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe('no such account: nobody.here');
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(result.stdout).toBe('');
    }
    expect(await revokedAt(OTHERS)).toBeNull();
  });

  it('usage errors exit 2 with the command usage, touching nothing', async () => {
    const cases: [string[], string][] = [
      [['devices', 'list'], 'missing USERNAME'],
      [['devices', 'list', 'other.devices', 'extra'], 'unexpected argument(s): extra'],
      [['devices', 'revoke', 'other.devices'], 'missing (--all | DEVICE_ID)'],
      [['devices', 'revoke', 'other.devices', OTHERS, '--all'], `unexpected argument(s): ${OTHERS}`],
      [['devices', 'revoke', 'other.devices', ''], 'blank DEVICE_ID'],
      [['devices', 'revoke', 'other.devices', '--every'], "Unknown option '--every'"],
      [['devices', 'revoke'], 'missing USERNAME'],
    ];
    for (const [args, message] of cases) {
      const result = await cli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain(message);
      expect(result.stderr).toContain(`Usage: npm run cli -- ${args.slice(0, 2).join(' ')}`);
      expect(result.stdout).toBe('');
    }
    expect(await revokedAt(OTHERS)).toBeNull();
  });

  it('help lists both commands; --help prints the command usage', async () => {
    const help = await cli(['help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('devices list USERNAME');
    expect(help.stdout).toContain('devices revoke USERNAME (--all | DEVICE_ID)');
    const revokeHelp = await cli(['devices', 'revoke', '--help']);
    expect(revokeHelp.code).toBe(0);
    expect(revokeHelp.stdout).toContain('Usage: npm run cli -- devices revoke USERNAME (--all | DEVICE_ID)');
  });
});
