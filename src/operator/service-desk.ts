import { maskPhone } from '../security/mask.ts';
import { audit, type AuditType } from '../audit.ts';
import { eventsOfAccount, listAuditEvents } from '../db/repositories/audit-events.ts';
import { liveSessionsAndRefreshTokens } from '../db/repositories/oidc-payloads.ts';
import { findAccountByUsername, type Account } from '../db/repositories/accounts.ts';
import { findProfile } from '../db/repositories/keystroke.ts';
import { clearAccountLock } from '../db/repositories/login-locks.ts';
import { isLocked } from '../security/lockout.ts';
import { listDevices } from '../mfa/trusted-devices.ts';
import { changeAccountStatus, endAccountSessions } from '../oidc/revocation.ts';
import type { Services } from '../services.ts';

/**
 * The Service Desk's tools (the guide sends producers to the Internet Help Desk and the Service
 * Desk): what an operator on the phone may see of an account and what they may do to it, without
 * SQL. Nothing here returns a secret (no password hash, code, token or device secret). Every change
 * is an audit event naming the operator (`details.operator`), with `by: 'service_desk'`.
 */

/** Thrown when the username names no account. */
export class UnknownAccountError extends Error {}

/** A person's view of an account for the Service Desk (`accounts show`). */
export interface AccountSummary {
  username: string;
  /** `producer`, or `delegate`: a person invited by producers (issue 14; `delegates list` shows for whom). */
  kind: 'producer' | 'delegate';
  /** null for a delegate's account (issue 14). */
  producer_number: string | null;
  name: string;
  agency_name: string | null;
  status: 'active' | 'disabled';
  /** The producer record's status; null for a delegate (no producer record of their own). */
  producer_status: 'active' | 'inactive' | null;
  /** Whether a sign-in would pass the account checks now. */
  can_sign_in: boolean;
  /** What a sign-in meets first otherwise: account_disabled | producer_inactive | locked | email_not_confirmed. */
  sign_in_blocked_by: string | null;
  locked_until: string | null;
  failed_attempts: number;
  email: string;
  email_confirmed_at: string | null;
  /** Second factors of Verify your Account this account can use. */
  factors: string[];
  /** Where text codes go, masked (`xxxxxx0101`): the producer record's mobile, or a delegate's confirmed one; null: none. */
  sms_to: string | null;
  typing_pattern: { enrolled: boolean; updated_at: string | null };
  remembered_devices: { id: string; scope: string; factor: string; created_at: string; last_used_at: string | null; expires_at: string; user_agent: string | null }[];
  created_at: string;
  last_sign_in_at: string | null;
  /** The last sign-in events from the audit trail, newest first. */
  recent_sign_ins: { at: string; type: string; ip: string | null; user_agent: string | null; amr?: unknown }[];
}

const iso = (d: Date | string | null | undefined): string | null => (d ? new Date(d).toISOString() : null);

/** Reads the account or throws {@link UnknownAccountError}. */
export async function accountFor(services: Pick<Services, 'db'>, username: string): Promise<Account> {
  const account = await findAccountByUsername(services.db, username);
  if (!account) throw new UnknownAccountError(`no such account: ${username}`);
  return account;
}

/** Why a sign-in of this account would be refused now (null when it would not be). */
function blockedBy(account: Account, now: Date): string | null {
  if (account.status !== 'active') return 'account_disabled';
  if (account.producer.status !== 'active') return 'producer_inactive';
  if (isLocked(account.lockedUntil, now)) return 'locked';
  if (!account.emailVerifiedAt) return 'email_not_confirmed';
  return null;
}

/**
 * The account as the Service Desk sees it: status, lock, email confirmation, factors, remembered
 * devices, typing pattern and the last `recent` sign-in events (default 10) from the audit trail.
 * @throws UnknownAccountError when `username` names no account.
 */
export async function summarizeAccount(services: Pick<Services, 'db' | 'clock' | 'config'>, username: string, recent = 10): Promise<AccountSummary> {
  const { db, clock, config } = services;
  const account = await accountFor(services, username);
  const now = clock.now();
  const [devices, profile, events] = await Promise.all([
    listDevices(services, account.id),
    findProfile(db, account.id),
    eventsOfAccount(db, account.id, { prefix: 'login.' }, recent),
  ]);
  const factors = config.MFA_FACTORS.filter((f) => f !== 'sms' || !!account.producer.mobilePhone).filter((f) => f !== 'keystroke' || !!profile);
  const blocked = blockedBy(account, now);
  return {
    username: account.username,
    kind: account.kind,
    producer_number: account.producerNumber,
    name: `${account.producer.firstName} ${account.producer.lastName}`,
    agency_name: account.producer.agencyName ?? null,
    status: account.status,
    producer_status: account.kind === 'delegate' ? null : account.producer.status,
    can_sign_in: blocked === null,
    sign_in_blocked_by: blocked,
    locked_until: isLocked(account.lockedUntil, now) ? iso(account.lockedUntil) : null,
    failed_attempts: account.failedLoginCount,
    email: account.producer.email,
    email_confirmed_at: iso(account.emailVerifiedAt),
    factors,
    sms_to: account.producer.mobilePhone ? maskPhone(account.producer.mobilePhone) : null,
    typing_pattern: { enrolled: !!profile, updated_at: iso(profile?.updatedAt) },
    remembered_devices: devices
      .filter((d) => !d.revokedAt && d.expiresAt.getTime() > now.getTime())
      .map((d) => ({ id: d.id, scope: d.scope, factor: d.factor, created_at: iso(d.createdAt)!, last_used_at: iso(d.lastUsedAt), expires_at: iso(d.expiresAt)!, user_agent: d.userAgent })),
    created_at: iso(account.createdAt)!,
    last_sign_in_at: iso(account.lastLoginAt),
    recent_sign_ins: events.map((e) => {
      return { at: iso(e.at)!, type: e.type, ip: e.ip, user_agent: e.userAgent, ...(e.details.amr ? { amr: e.details.amr } : {}) };
    }),
  };
}

/** Writes the audit event of an operator's action. */
async function operatorAudit(services: Pick<Services, 'db' | 'clock'>, type: AuditType, account: Account, operator: string, details: Record<string, unknown> = {}): Promise<void> {
  await audit(services.db, services.clock, type, account.id, { userAgent: 'service-desk-cli' }, { operator, by: 'service_desk', ...details });
}

/**
 * Lifts the account's lock and clears its failed-attempt count (guide slide 6: "contact the
 * Service Desk" when locked). Audited as `operator.account_unlocked`.
 * @returns whether the account was locked.
 * @throws UnknownAccountError
 */
export async function unlockAccount(services: Pick<Services, 'db' | 'clock'>, username: string, operator: string): Promise<boolean> {
  const account = await accountFor(services, username);
  const wasLocked = isLocked(account.lockedUntil, services.clock.now());
  await clearAccountLock(services.db, account.id);
  await operatorAudit(services, 'operator.account_unlocked', account, operator, { wasLocked });
  return wasLocked;
}

/**
 * Disables the account (no sign-in, refresh, userinfo or introspection) and ends every session,
 * grant and token of it at once ({@link changeAccountStatus} → endAccountSessions), in one
 * transaction. Audited as `operator.account_disabled` with the reason.
 * @throws UnknownAccountError
 */
export async function disableAccount(services: Pick<Services, 'db' | 'clock'>, username: string, operator: string, reason: string): Promise<void> {
  const account = await accountFor(services, username);
  await services.db.transaction().execute((trx) => changeAccountStatus(trx, account.id, 'disabled'));
  await operatorAudit(services, 'operator.account_disabled', account, operator, { reason });
}

/**
 * Enables a disabled account again (the producer signs in as before; sessions ended by the disable
 * do not come back). Audited as `operator.account_enabled`.
 * @returns whether the account was disabled.
 * @throws UnknownAccountError
 */
export async function enableAccount(services: Pick<Services, 'db' | 'clock'>, username: string, operator: string): Promise<boolean> {
  const account = await accountFor(services, username);
  const wasDisabled = account.status === 'disabled';
  await changeAccountStatus(services.db, account.id, 'active');
  await operatorAudit(services, 'operator.account_enabled', account, operator, { wasDisabled });
  return wasDisabled;
}

/** An IdP session or refresh token of an account (`accounts sessions`); no token values. */
export interface AccountSession {
  kind: 'session' | 'refresh_token';
  /** Row id: for a session, its id (not the cookie); for a refresh token, a short prefix of its hash. */
  id: string;
  client_id: string | null;
  created_at: string | null;
  expires_at: string | null;
  acr?: string | null;
  amr?: unknown;
}

/**
 * The account's IdP sessions and unexpired refresh tokens, newest first (oidc-provider's store).
 * Refresh tokens are named by a prefix of the SHA-256 of their id, never by the token itself.
 * @throws UnknownAccountError
 */
export async function listSessions(services: Pick<Services, 'db'>, username: string): Promise<AccountSession[]> {
  const account = await accountFor(services, username);
  const rows = await liveSessionsAndRefreshTokens(services.db, account.id);
  const out = rows.map((r): AccountSession & { at: number } => {
    const p = r.payload;
    const iat = typeof p.iat === 'number' ? p.iat * 1000 : typeof p.loginTs === 'number' ? p.loginTs * 1000 : 0;
    const base = { id: r.idHash.slice(0, 16), created_at: iat ? new Date(iat).toISOString() : null, expires_at: iso(r.expiresAt), at: iat };
    if (r.model === 'Session') return { kind: 'session', client_id: null, acr: (p.acr as string) ?? null, amr: p.amr ?? null, ...base };
    return { kind: 'refresh_token', client_id: (p.clientId as string) ?? null, ...base };
  });
  return out.sort((a, b) => b.at - a.at).map(({ at: _at, ...rest }) => rest);
}

/**
 * Signs the account out everywhere: ends every IdP session, grant, refresh and access token
 * ({@link endAccountSessions}); the account itself stays usable. Audited as `operator.signed_out`.
 * @returns how many rows of oidc-provider's store were removed.
 * @throws UnknownAccountError
 */
export async function signOutEverywhere(services: Pick<Services, 'db' | 'clock'>, username: string, operator: string): Promise<number> {
  const account = await accountFor(services, username);
  const removed = await endAccountSessions(services.db, account.id);
  await operatorAudit(services, 'operator.signed_out', account, operator, { removed });
  return removed;
}

/** One audit event as `audit list` prints it. */
export interface AuditRow {
  at: string;
  type: string;
  username: string | null;
  client_id: string | null;
  ip: string | null;
  request_id: string | null;
  details: unknown;
}

/**
 * Audit events, newest first, filtered by username, time and type (`type` may end in `.` or `*` to
 * match a family, e.g. `login.`).
 * @param filter.since only events at or after this time
 * @param filter.limit at most this many (default 100)
 */
export async function listAudit(services: Pick<Services, 'db'>, filter: { username?: string; since?: Date; type?: string; limit?: number }): Promise<AuditRow[]> {
  const family = filter.type?.replace(/\*$/, '');
  const rows = await listAuditEvents(services.db, {
    username: filter.username,
    since: filter.since,
    ...(filter.type ? (family!.endsWith('.') ? { typePrefix: family } : { type: filter.type }) : {}),
    limit: filter.limit ?? 100,
  });
  return rows.map((r) => ({ at: iso(r.at)!, type: r.type, username: r.username, client_id: r.clientId, ip: r.ip, request_id: r.requestId, details: r.details }));
}
