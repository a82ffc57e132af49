import type { Kysely } from 'kysely';
import type { Clock } from './clock.ts';
import { insertAuditEvents } from './db/repositories/audit-events.ts';
import type { Database } from './db/schema.ts';
import { currentRequest } from './request-context.ts';

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
  | 'keystroke.reset'
  // My Account pages (issue 14 item 6; src/account)
  | 'account.password_changed'
  | 'account.password_change_failed'
  // a delegate's own mobile number (src/account/mobile.ts)
  | 'account.mobile_code_sent'
  | 'account.mobile_code_failed'
  | 'account.mobile_confirmed'
  | 'account.mobile_removed'
  | 'account.sessions_ended'
  // clients (oidc-provider events; src/observability/oidc-events.ts)
  | 'client.auth_failed'
  // integrators (issue 10): dynamic registration and back-channel logout (src/oidc/registration.ts, backchannel.ts)
  | 'client.registered'
  | 'client.updated'
  | 'client.deleted'
  | 'client.secret_rotated'
  | 'backchannel_logout.delivered'
  | 'backchannel_logout.retrying'
  | 'backchannel_logout.failed'
  // the Service Desk's commands (src/operator/service-desk.ts); details name the operator
  | 'operator.account_unlocked'
  | 'operator.account_disabled'
  | 'operator.account_enabled'
  | 'operator.signed_out'
  // delegates (issue 14; src/delegates, src/interactions/steps/working-for.ts); recorded for both people
  | 'delegate.invited'
  | 'delegate.invitation_resent'
  | 'delegate.invitation_accepted'
  | 'delegate.account_created'
  | 'delegate.removed'
  | 'delegate.deactivated'
  | 'delegate.working_for';

/** Who and where an event came from. */
export interface AuditContext {
  ip?: string | null;
  userAgent?: string | null;
  clientId?: string | null;
}

/**
 * Appends one audit event (time from `clock`, account, client address, user agent, details, and the
 * id of the request being served, if any) and counts it in the process's metrics.
 * @throws the database error when the row cannot be written, so that a journey fails loudly rather
 *   than going on without its audit trail.
 */
export async function audit(
  db: Kysely<Database>,
  clock: Clock,
  type: AuditType,
  accountId: string | null,
  ctx: AuditContext = {},
  details: Record<string, unknown> = {},
): Promise<void> {
  await auditAll(db, clock, [{ type, accountId, ctx, details }]);
}

/** One event for {@link auditAll}. */
export interface AuditEvent {
  type: AuditType;
  accountId: string | null;
  ctx?: AuditContext;
  details?: Record<string, unknown>;
}

/**
 * A text as the audit trail can keep it: what a client sent may hold NUL characters (U+0000),
 * which PostgreSQL refuses (the event would be lost); each becomes U+FFFD, the replacement
 * character, so the event is kept and shows that something was there.
 */
function storable(value: string | null): string | null {
  return value === null ? null : value.replaceAll('\u0000', '\ufffd');
}

/**
 * Appends several audit events in one INSERT (issue 12: the events of one step, one round trip),
 * in the order given, each as {@link audit} would.
 * @throws the database error when the rows cannot be written (none is then written).
 */
export async function auditAll(db: Kysely<Database>, clock: Clock, events: AuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  const request = currentRequest();
  const at = clock.now();
  await insertAuditEvents(db, events.map(({ type, accountId, ctx = {}, details = {} }) => ({
    at,
    type,
    account_id: accountId,
    client_id: storable(ctx.clientId ?? null),
    ip: storable(ctx.ip ?? null),
    user_agent: storable(ctx.userAgent ? ctx.userAgent.slice(0, 512) : null),
    // JSON escapes U+0000 as \u0000, which jsonb refuses too: drop it from every value.
    details: JSON.stringify(details).replaceAll('\\u0000', '\\ufffd'),
    request_id: request?.requestId ?? null,
  })));
  for (const { type, details = {} } of events) {
    if (request && type === 'rate_limited' && typeof details.limit === 'string') request.rateLimit = details.limit;
    request?.metrics?.observeAudit(type, details);
  }
}
