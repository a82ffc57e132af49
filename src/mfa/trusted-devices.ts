import type { Context } from 'koa';
import { audit, type AuditContext } from '../audit.ts';
import { addSeconds } from '../clock.ts';
import type { Account } from '../db/repositories/accounts.ts';
import { devicesOf, findDevice, insertDevice, revokeDeviceRows, touchDevice, type DeviceRow, type DeviceScope } from '../db/repositories/trusted-devices.ts';
import type { MfaDeps } from './factor.ts';
import { hashToken, randomId, randomToken, safeEqual } from '../security/tokens.ts';

export type { DeviceScope } from '../db/repositories/trusted-devices.ts';

/** Cookie name per scope: `__Host-` prefixed in production (Secure, Path=/, no Domain), plain otherwise. */
export function deviceCookieName(production: boolean, scope: DeviceScope = 'mfa'): string {
  const name = scope === 'mfa' ? 'pidp.device' : 'pidp.typing';
  return production ? `__Host-${name}` : name;
}

/** A remembered device as listed by the CLI (the stored row without the account and the secret's hash). */
export type TrustedDevice = Omit<DeviceRow, 'accountId' | 'secretHash'>;

/**
 * "Remember this device for 30 days" (guide slides 8-11): after a second factor passes with the box
 * checked, the browser gets a cookie `<id>.<secret>` (random, 256-bit secret; HttpOnly, Secure in
 * production, SameSite=Lax) and the server keeps only the secret's SHA-256 with the account, expiry
 * (DEVICE_TTL_SECONDS), creation time (the time the factor passed), last use and user agent.
 */
export async function rememberDevice(services: MfaDeps, ctx: Context, account: Account, factor: string, info: AuditContext, scope: DeviceScope = 'mfa'): Promise<string> {
  const { config, clock, db } = services;
  const now = clock.now();
  const id = randomId(16); // typed in `devices revoke USERNAME ID`
  const secret = randomToken(32);
  await insertDevice(db, {
    id,
    accountId: account.id,
    secretHash: hashToken(secret),
    createdAt: now,
    expiresAt: addSeconds(now, config.DEVICE_TTL_SECONDS),
    userAgent: (ctx.get('user-agent') || '').slice(0, 512) || null,
    factor,
    scope,
  });
  const production = config.NODE_ENV === 'production';
  ctx.cookies.set(deviceCookieName(production, scope), `${id}.${secret}`, {
    httpOnly: true,
    secure: production,
    sameSite: 'lax',
    path: '/',
    maxAge: config.DEVICE_TTL_SECONDS * 1000,
    overwrite: true,
  });
  await audit(db, clock, 'device.remembered', account.id, info, { deviceId: id, factor, scope });
  return id;
}

/** How stale a remembered device's "last used" time may be, seconds (it is written at most this often). */
export const DEVICE_LAST_USED_RESOLUTION_SECONDS = 15 * 60;

/**
 * The browser's remembered device for `account`, when the cookie is present, well-formed, its
 * secret matches (constant time), it belongs to this account, is not revoked, has not expired, and
 * was remembered after the account's last password change. Anything else (another account's
 * device, a tampered or expired cookie) is ignored: undefined, never an error.
 */
export async function findRememberedDevice(services: MfaDeps, ctx: Context, account: Account, scope: DeviceScope = 'mfa'): Promise<{ id: string; createdAt: Date } | undefined> {
  const { config, clock, db } = services;
  const raw = ctx.cookies.get(deviceCookieName(config.NODE_ENV === 'production', scope));
  if (!raw || raw.length > 200) return undefined;
  const [id, secret, extra] = raw.split('.');
  if (!id || !secret || extra !== undefined) return undefined;
  const row = await findDevice(db, id);
  if (!row) return undefined;
  const ok = safeEqual(hashToken(secret), row.secretHash);
  const now = clock.now();
  if (!ok || row.accountId !== account.id || row.scope !== scope || row.revokedAt || row.expiresAt <= now) return undefined;
  if (row.createdAt < account.passwordChangedAt) return undefined;
  // "Last used" to the quarter hour: one statement per sign-in instead of two (issue 12).
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() >= DEVICE_LAST_USED_RESOLUTION_SECONDS * 1000) await touchDevice(db, id, now);
  return { id, createdAt: row.createdAt };
}

/** The account's remembered devices, newest first (CLI `devices list`). */
export async function listDevices(services: Pick<MfaDeps, 'db'>, accountId: string): Promise<TrustedDevice[]> {
  return (await devicesOf(services.db, accountId)).map(({ accountId: _a, secretHash: _s, ...device }) => device);
}

/**
 * Revokes one device (by id) or all of the account's devices (`id` undefined).
 * @returns how many devices were revoked (already revoked ones are not counted).
 */
export async function revokeDevices(services: Pick<MfaDeps, 'db' | 'clock'>, accountId: string, id?: string, info: AuditContext = {}): Promise<number> {
  const n = await revokeDeviceRows(services.db, accountId, services.clock.now(), id || undefined);
  if (n > 0) await audit(services.db, services.clock, 'device.revoked', accountId, info, { deviceId: id ?? 'all', count: n });
  return n;
}
