import { findAccountByUsername } from '../../db/repositories/accounts.ts';
import { listDevices, revokeDevices } from '../../mfa/trusted-devices.ts';
import { parseCommandArgs } from '../args.ts';
import { CliError, EXIT, UsageError } from '../errors.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';
import { commandUsage } from '../usage.ts';

const OPTIONS = { all: { type: 'boolean' } } as const;

/**
 * `devices revoke USERNAME (--all | DEVICE_ID)`: revokes one remembered device of the account, or
 * all of them ({@link revokeDevices}, audited as `device.revoked`), printing `revoked N device(s)`.
 * The browser holding a revoked device is asked for its second factor again at the next sign-in.
 * With --all, N may be 0 (nothing left to revoke).
 * @returns exit 0.
 * @throws UsageError (2) without USERNAME, with neither or both of --all and DEVICE_ID
 *   (`missing …` / `unexpected argument(s): …`), or a blank DEVICE_ID; CliError (1)
 *   `no such account: USERNAME`, `no such device: DEVICE_ID` (not one of the account's devices)
 *   or `device DEVICE_ID was already revoked at …`; ConfigError / EmbeddedDatabaseBusyError (78).
 */
export async function devicesRevoke(args: string[], io: CliIo): Promise<number> {
  // `--all` decides how many positionals are expected: with it, a DEVICE_ID is an unexpected argument;
  // without it, DEVICE_ID is required (a `--all` after `--` is a positional, hence also unexpected).
  const wantsAll = args.includes('--all');
  const parsed = parseCommandArgs(args, OPTIONS, wantsAll ? ['USERNAME'] : ['USERNAME', '(--all | DEVICE_ID)']);
  if (parsed.values.help) {
    io.out(commandUsage('devices revoke'));
    return EXIT.OK;
  }
  const [username, deviceId] = parsed.positionals as [string, string | undefined];
  // revokeDevices revokes every device when the id is empty: never let a blank DEVICE_ID mean --all.
  if (!parsed.values.all && (deviceId === undefined || deviceId.trim() === '')) throw new UsageError('blank DEVICE_ID');
  const count = await withServices(async (services) => {
    const account = await findAccountByUsername(services.db, username);
    if (!account) throw new CliError(`no such account: ${username}`);
    const n = await revokeDevices(services, account.id, parsed.values.all ? undefined : deviceId, {});
    if (n === 0 && deviceId !== undefined) {
      const device = (await listDevices(services, account.id)).find((d) => d.id === deviceId);
      if (device?.revokedAt) throw new CliError(`device ${deviceId} was already revoked at ${device.revokedAt.toISOString()}`);
      throw new CliError(`no such device: ${deviceId}`);
    }
    return n;
  });
  io.out(`revoked ${count} device(s)`);
  return EXIT.OK;
}
