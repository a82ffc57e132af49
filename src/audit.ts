import type { Kysely } from 'kysely';
import type { Clock } from './clock.ts';
import type { Database } from './db/schema.ts';

/** Audit event types (stable names; the README lists them). */
export type AuditType =
  | 'login.success'
  | 'login.failure'
  | 'login.locked'
  | 'login.rejected_locked'
  | 'login.email_not_verified'
  | 'login.disabled'
  | 'logout'
  | 'registration.producer_matched'
  | 'registration.producer_rejected'
  | 'registration.account_created'
  | 'registration.email_sent'
  | 'registration.email_verified'
  | 'terms.accepted'
  | 'terms.rejected'
  | 'consent.granted'
  | 'password.rehashed'
  | 'rate_limited'
  // account recovery (guide slides 12-17; src/flows/recovery)
  | 'recovery.username_requested'
  | 'recovery.username_sent'
  | 'recovery.unlock_link_sent'
  | 'recovery.account_unlocked'
  | 'recovery.password_reset_started'
  | 'recovery.code_sent'
  | 'recovery.code_send_failed'
  | 'recovery.code_rejected'
  | 'recovery.code_verified'
  | 'recovery.password_changed'
  | 'recovery.sessions_revoked'
  | 'mfa.sent'
  | 'mfa.send_failed'
  | 'mfa.passed'
  | 'mfa.failed'
  | 'mfa.exhausted'
  | 'mfa.skipped_remembered_device'
  | 'device.remembered'
  | 'device.revoked'
  | 'keystroke.enrolled'
  | 'keystroke.updated'
  | 'keystroke.reset';

/** Who and where an event came from. */
export interface AuditContext {
  ip?: string | null;
  userAgent?: string | null;
  clientId?: string | null;
}

/**
 * Appends one audit event (time from `clock`, account, client address, user agent, details).
 * Never throws to the caller's flow on write failure? No: it throws, so that a journey fails loudly
 * if the audit trail cannot be written.
 */
export async function audit(
  db: Kysely<Database>,
  clock: Clock,
  type: AuditType,
  accountId: string | null,
  ctx: AuditContext = {},
  details: Record<string, unknown> = {},
): Promise<void> {
  await db
    .insertInto('audit_events')
    .values({
      at: clock.now(),
      type,
      account_id: accountId,
      client_id: ctx.clientId ?? null,
      ip: ctx.ip ?? null,
      user_agent: ctx.userAgent ? ctx.userAgent.slice(0, 512) : null,
      details: JSON.stringify(details),
    })
    .execute();
}
