import type { Kysely, Selectable } from 'kysely';
import type { Database, TrustedDevicesTable } from '../schema.ts';

/** What a remembered device skips: "Verify your Account" (`mfa`) or the typing-pattern page (`typing`). */
export type DeviceScope = 'mfa' | 'typing';

/** A remembered device (table `trusted_devices`); only the secret's SHA-256 is kept. */
export interface DeviceRow {
  id: string;
  accountId: string;
  secretHash: string;
  /** When the second factor that remembered it passed. */
  createdAt: Date;
  expiresAt: Date;
  lastUsedAt: Date | null;
  userAgent: string | null;
  factor: string;
  scope: DeviceScope;
  revokedAt: Date | null;
}

const d = (v: Date | string | null): Date | null => (v ? new Date(v) : null);

function toDevice(r: Selectable<TrustedDevicesTable>): DeviceRow {
  return {
    id: r.id,
    accountId: r.account_id,
    secretHash: r.secret_hash,
    createdAt: new Date(r.created_at),
    expiresAt: new Date(r.expires_at),
    lastUsedAt: d(r.last_used_at),
    userAgent: r.user_agent,
    factor: r.factor,
    scope: r.scope,
    revokedAt: d(r.revoked_at),
  };
}

/** Stores a new remembered device (the secret's hash only). */
export async function insertDevice(db: Kysely<Database>, device: Omit<DeviceRow, 'lastUsedAt' | 'revokedAt'>): Promise<void> {
  await db
    .insertInto('trusted_devices')
    .values({
      id: device.id,
      account_id: device.accountId,
      secret_hash: device.secretHash,
      created_at: device.createdAt,
      expires_at: device.expiresAt,
      user_agent: device.userAgent,
      factor: device.factor,
      scope: device.scope,
    })
    .execute();
}

/** The device with this id, or undefined. */
export async function findDevice(db: Kysely<Database>, id: string): Promise<DeviceRow | undefined> {
  const row = await db.selectFrom('trusted_devices').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toDevice(row) : undefined;
}

/** Notes that the device was used at `now`. */
export async function touchDevice(db: Kysely<Database>, id: string, now: Date): Promise<void> {
  await db.updateTable('trusted_devices').set({ last_used_at: now }).where('id', '=', id).execute();
}

/** The account's devices, newest first (revoked and expired ones included). */
export async function devicesOf(db: Kysely<Database>, accountId: string): Promise<DeviceRow[]> {
  const rows = await db.selectFrom('trusted_devices').selectAll().where('account_id', '=', accountId).orderBy('created_at', 'desc').execute();
  return rows.map(toDevice);
}

/**
 * Revokes one device of the account (`id`) or all of them (`id` undefined) at `now`, only those
 * remembered for `scope` when given ('mfa' or 'typing'); already revoked ones are left as they are.
 * @param db a database or transaction.
 * @returns how many devices were revoked.
 */
export async function revokeDeviceRows(db: Kysely<Database>, accountId: string, now: Date, id?: string, scope?: DeviceScope): Promise<number> {
  let q = db.updateTable('trusted_devices').set({ revoked_at: now }).where('account_id', '=', accountId).where('revoked_at', 'is', null);
  if (id !== undefined) q = q.where('id', '=', id);
  if (scope !== undefined) q = q.where('scope', '=', scope);
  return Number((await q.executeTakeFirst()).numUpdatedRows);
}

/** Deletes devices that expired or were revoked before `before` (the purge job). @returns how many. */
export async function purgeDevices(db: Kysely<Database>, before: Date): Promise<bigint> {
  return (await db.deleteFrom('trusted_devices').where((eb) => eb.or([eb('expires_at', '<', before), eb('revoked_at', '<', before)])).executeTakeFirstOrThrow()).numDeletedRows;
}
