import { findAccountByUsername } from '../../db/repositories/accounts.ts';
import { listDevices, type TrustedDevice } from '../../mfa/trusted-devices.ts';
import { parseCommandArgs } from '../args.ts';
import { CliError, EXIT } from '../errors.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';
import { commandUsage } from '../usage.ts';

/** One remembered device as printed by `devices list` (never the secret's hash). */
export interface DeviceJson {
  id: string;
  created_at: string;
  expires_at: string;
  last_used_at: string | null;
  user_agent: string | null;
  factor: string;
  /** `mfa` (skips Verify your Account) or `typing` (skips the typing-pattern page). */
  scope: string;
  revoked_at: string | null;
}

/** The JSON form of a remembered device: snake_case, times as ISO strings or null. */
export function deviceJson(d: TrustedDevice): DeviceJson {
  return {
    id: d.id,
    created_at: d.createdAt.toISOString(),
    expires_at: d.expiresAt.toISOString(),
    last_used_at: d.lastUsedAt ? d.lastUsedAt.toISOString() : null,
    user_agent: d.userAgent,
    factor: d.factor,
    scope: d.scope,
    revoked_at: d.revokedAt ? d.revokedAt.toISOString() : null,
  };
}

/**
 * `devices list USERNAME`: prints the account's remembered devices ("Remember this device for
 * 30 days", {@link listDevices}) as a JSON array, newest first, revoked and expired ones included;
 * `[]` when there is none. The username is compared ignoring case.
 * @returns exit 0.
 * @throws UsageError (2) without USERNAME; CliError (1) `no such account: USERNAME`;
 *   ConfigError / EmbeddedDatabaseBusyError (78).
 */
export async function devicesList(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, {}, ['USERNAME']);
  if (parsed.values.help) {
    io.out(commandUsage('devices list'));
    return EXIT.OK;
  }
  const username = parsed.positionals[0]!;
  const devices = await withServices(async (services) => {
    const account = await findAccountByUsername(services.db, username);
    if (!account) throw new CliError(`no such account: ${username}`);
    return listDevices(services, account.id);
  });
  io.out(JSON.stringify(devices.map(deviceJson), null, 2));
  return EXIT.OK;
}
