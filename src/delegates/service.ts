import { z } from 'zod';
import { audit, type AuditContext } from '../audit.ts';
import { findAccountById, insertDelegateAccount, lockAccountRow, type Account } from '../db/repositories/accounts.ts';
import {
  acceptDelegation, findDelegation, insertDelegation, liveInvitationFor, markDelegationRemoved, type Delegation, type Permission,
} from '../db/repositories/delegations.ts';
import { recordSend, sendHistory } from '../db/repositories/message-sends.ts';
import { insertLink, inviteLinkDelegation, voidDelegationLinks } from '../db/repositories/single-use-links.ts';
import { renderMessage } from '../notify/mail.ts';
import { endDelegationAccess } from '../oidc/revocation.ts';
import { ONE_TIME_CODE_POLICY, sendLimitWait } from '../security/one-time-codes.ts';
import { hashToken, randomId, randomToken } from '../security/tokens.ts';
import type { Services } from '../services.ts';

/** Permission codes with the labels the pages show (issue 14 item 1). */
export const PERMISSION_LABELS: Record<Permission, string> = {
  quote_enroll: 'Quote & Enroll',
  commissions_reporting: 'Commissions & Reporting',
  view_hierarchy: 'View My Hierarchy',
};

/** A well-formed email address (WHATWG's "valid email address", at most 254 characters). */
export const EMAIL = z.string().max(254).regex(/^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$/);

/** Why an invitation mail was not sent. */
export type InviteRefusal = { ok: false; reason: 'already_invited' | 'own_email' | 'not_found' | 'not_invited' | 'already_removed' } | { ok: false; reason: 'limited'; retryAfterSeconds: number };

/** The token lengths a link may have (anything else is simply not a live link). */
function tokenShapeOk(token: unknown): token is string {
  return typeof token === 'string' && token.length >= 20 && token.length <= 200;
}

/**
 * Stores a new invitation link of delegation `d` (voiding its older ones) and records the send,
 * under the send limits of every mail a person can ask for again (30 s apart, at most 5 an hour or
 * MAIL_SENDS_PER_HOUR, counted per delegation). Call inside a transaction that holds the
 * delegation's row lock.
 * @returns the token, or the wait in seconds.
 */
async function issueInvitationLink(trx: Services['db'], services: Services, d: Pick<Delegation, 'id' | 'producerAccountId'>, now: Date): Promise<{ token: string } | { retryAfterSeconds: number }> {
  const sendKey = { purpose: 'delegate_invite', limitKey: d.id, subject: d.id };
  const wait = sendLimitWait(now, await sendHistory(trx, sendKey, now), {
    resendSeconds: ONE_TIME_CODE_POLICY.resendSeconds,
    sendsPerHour: Math.min(services.config.MAIL_SENDS_PER_HOUR, ONE_TIME_CODE_POLICY.sendsPerHour),
  });
  if (wait) return { retryAfterSeconds: wait.retryAfterSeconds };
  const token = randomToken(32);
  await voidDelegationLinks(trx, d.id, now);
  await insertLink(trx, { purpose: 'delegate_invite', accountId: d.producerAccountId, delegationId: d.id, tokenHash: hashToken(token), now, ttlSeconds: services.config.DELEGATE_INVITATION_TTL_SECONDS });
  await recordSend(trx, sendKey, now);
  return { token };
}

/** Sends the invitation mail (after commit): the link is built from ISSUER. */
async function mailInvitation(services: Services, producer: Account, d: Pick<Delegation, 'firstName' | 'email' | 'permissions'>, token: string): Promise<void> {
  const { config } = services;
  const link = new URL('/delegates/accept', config.ISSUER);
  link.searchParams.set('token', token);
  const msg = await renderMessage('delegate-invitation', d.email, `${producer.producer.firstName} ${producer.producer.lastName} invited you to ${config.PRODUCT_NAME}`, services.branding, {
    firstName: d.firstName,
    producerName: `${producer.producer.firstName} ${producer.producer.lastName}`,
    permissions: d.permissions.map((p) => PERMISSION_LABELS[p]),
    link: link.href,
    validDays: Math.round(config.DELEGATE_INVITATION_TTL_SECONDS / 86400),
  });
  await services.mailer.send(msg);
}

/**
 * Add Delegate (issue 14 item 1): stores the invitation (status `invited`) and its single-use link
 * (DELEGATE_INVITATION_TTL_SECONDS, 7 days), then mails the link to the invited address. Refused
 * when the producer already has a live invitation or delegate with that email, or it is the
 * producer's own email. Audit `delegate.invited` on the producer's account.
 * @param producer a producer's account (kind `producer`).
 * @returns the new delegation's id, or a refusal.
 */
export async function inviteDelegate(
  services: Services,
  producer: Account,
  v: { firstName: string; lastName: string; email: string; permissions: Permission[] },
  info: AuditContext,
): Promise<{ ok: true; id: string } | InviteRefusal> {
  const { db, clock } = services;
  if (!producer.producerNumber) return { ok: false, reason: 'not_found' };
  if (v.email.toLowerCase() === producer.producer.email.toLowerCase()) return { ok: false, reason: 'own_email' };
  const now = clock.now();
  const id = randomId(16);
  const producerNumber = producer.producerNumber;
  const out = await db.transaction().execute(async (trx) => {
    // One invitation at a time per producer: the duplicate check and the insert see each other.
    await lockAccountRow(trx, producer.id);
    if (await liveInvitationFor(trx, producerNumber, v.email)) return { ok: false as const, reason: 'already_invited' as const };
    await insertDelegation(trx, { id, producerNumber, producerAccountId: producer.id, ...v, now });
    const link = await issueInvitationLink(trx, services, { id, producerAccountId: producer.id }, now);
    if (!('token' in link)) throw new Error('a new delegation cannot be send-limited');
    return { ok: true as const, token: link.token };
  });
  if (!out.ok) return out;
  await mailInvitation(services, producer, v, out.token);
  await audit(db, clock, 'delegate.invited', producer.id, info, { delegationId: id, permissions: v.permissions });
  return { ok: true, id };
}

/**
 * Resend (issue 14 item 1): a new link for an open invitation of this producer; the old one stops
 * working. Send limits as {@link issueInvitationLink}. Audit `delegate.invitation_resent`.
 */
export async function resendInvitation(services: Services, producer: Account, delegationId: string, info: AuditContext): Promise<{ ok: true; email: string } | InviteRefusal> {
  const { db, clock } = services;
  const now = clock.now();
  const out = await db.transaction().execute(async (trx) => {
    const d = await findDelegation(trx, delegationId, true);
    if (!d || d.producerAccountId !== producer.id) return { ok: false as const, reason: 'not_found' as const };
    if (d.status !== 'invited') return { ok: false as const, reason: 'not_invited' as const };
    const link = await issueInvitationLink(trx, services, d, now);
    if (!('token' in link)) return { ok: false as const, reason: 'limited' as const, retryAfterSeconds: link.retryAfterSeconds };
    return { ok: true as const, token: link.token, d };
  });
  if (!out.ok) return out;
  await mailInvitation(services, producer, out.d, out.token);
  await audit(db, clock, 'delegate.invitation_resent', producer.id, info, { delegationId });
  return { ok: true, email: out.d.email };
}

/**
 * Remove (issue 14 item 5): the delegation becomes `removed`, its open links stop working, and every
 * session, grant and token through which the delegate acts for this producer ends at once, with
 * back-channel logout ({@link endDelegationAccess}); the delegate's own account remains. Audit
 * `delegate.removed` for both people. Refused: `not_found` (no delegation of this producer by that
 * id), `already_removed`.
 */
export async function removeDelegate(services: Services, producer: Account, delegationId: string, info: AuditContext): Promise<{ ok: true; name: string } | InviteRefusal> {
  const { db, clock } = services;
  const now = clock.now();
  const out = await db.transaction().execute(async (trx) => {
    const d = await findDelegation(trx, delegationId, true);
    if (!d || d.producerAccountId !== producer.id) return 'not_found' as const;
    if (!(await markDelegationRemoved(trx, d.id, now))) return 'already_removed' as const;
    await voidDelegationLinks(trx, d.id, now);
    await endDelegationAccess(trx, [d.id]);
    return d;
  });
  if (typeof out === 'string') return { ok: false, reason: out };
  await audit(db, clock, 'delegate.removed', producer.id, info, { delegationId, delegateAccountId: out.delegateAccountId });
  if (out.delegateAccountId) await audit(db, clock, 'delegate.removed', out.delegateAccountId, info, { delegationId, producerNumber: out.producerNumber });
  return { ok: true, name: `${out.firstName} ${out.lastName}` };
}

/** The open invitation a live link leads to (reads only: GET of the link's page), or undefined. */
export async function invitationOfLink(services: Pick<Services, 'db' | 'clock'>, token: unknown): Promise<(Delegation & { producerName: string }) | undefined> {
  if (!tokenShapeOk(token)) return undefined;
  const id = await inviteLinkDelegation(services.db, hashToken(token), services.clock.now());
  const d = id ? await findDelegation(services.db, id) : undefined;
  if (!d || d.status !== 'invited') return undefined;
  const producer = await findAccountById(services.db, d.producerAccountId);
  return producer ? { ...d, producerName: `${producer.producer.firstName} ${producer.producer.lastName}` } : undefined;
}

/** Why accepting did not work. */
export type AcceptRefusal = 'invalid' | 'self' | 'already_delegate' | 'username_taken';

/** Tells the producer that an invitation was accepted (after commit). */
async function afterAccepted(services: Services, d: Delegation, delegateAccountId: string, info: AuditContext, created: boolean): Promise<void> {
  const { db, clock, config } = services;
  if (created) await audit(db, clock, 'delegate.account_created', delegateAccountId, info, { delegationId: d.id, producerNumber: d.producerNumber });
  await audit(db, clock, 'delegate.invitation_accepted', delegateAccountId, info, { delegationId: d.id, producerNumber: d.producerNumber });
  await audit(db, clock, 'delegate.invitation_accepted', d.producerAccountId, info, { delegationId: d.id, delegateAccountId });
  const producer = await findAccountById(db, d.producerAccountId);
  if (!producer) return;
  // Whoever holds the link may accept it with their account: the producer is told which account did.
  const delegate = await findAccountById(db, delegateAccountId);
  const msg = await renderMessage('delegate-accepted', producer.producer.email, `${d.firstName} ${d.lastName} is now your delegate in ${config.PRODUCT_NAME}`, services.branding, {
    firstName: producer.producer.firstName,
    delegateName: `${d.firstName} ${d.lastName}`,
    delegateEmail: d.email,
    acceptedBy: delegate ? { name: `${delegate.producer.firstName} ${delegate.producer.lastName}`, username: delegate.username } : null,
    permissions: d.permissions.map((p) => PERMISSION_LABELS[p]),
  });
  await services.mailer.send(msg);
}

/**
 * Accepting with an account the person already has (signed in at the IdP; issue 14 item 2): uses
 * the link (atomically: once) and makes the delegation `active` for that account. Refused for the
 * inviting producer's own account and for a person already a delegate of that producer (the link
 * then stays usable). The producer gets a mail; audit events for both.
 * @param token the link's token (from the page's form).
 */
export async function acceptWithAccount(services: Services, token: unknown, account: Account, info: AuditContext): Promise<{ ok: true; producerName: string } | { ok: false; reason: AcceptRefusal }> {
  const { db, clock } = services;
  const invitation = await invitationOfLink(services, token);
  if (!invitation || !tokenShapeOk(token)) return { ok: false, reason: 'invalid' };
  if (invitation.producerAccountId === account.id) return { ok: false, reason: 'self' };
  const now = clock.now();
  const out = await db.transaction().execute(async (trx) => {
    const id = await inviteLinkDelegation(trx, hashToken(token), now, true);
    if (!id) return 'invalid' as const;
    if (!(await acceptDelegation(trx, id, account.id, now))) {
      const d = await findDelegation(trx, id);
      // Rolled back: the link stays usable for another account.
      throw new AcceptFailed(d?.status === 'invited' ? 'already_delegate' : 'invalid');
    }
    return (await findDelegation(trx, id))!;
  }).catch((err) => {
    if (err instanceof AcceptFailed) return err.reason;
    throw err;
  });
  if (typeof out === 'string') return { ok: false, reason: out };
  await afterAccepted(services, out, account.id, info, false);
  return { ok: true, producerName: invitation.producerName };
}

class AcceptFailed extends Error {
  readonly reason: AcceptRefusal;
  constructor(reason: AcceptRefusal) {
    super(reason);
    this.reason = reason;
  }
}

/**
 * Registering as a delegate (issue 14 item 2, after Terms of Use and Create Your Secure Login): in
 * one transaction, uses the link, creates the delegate's account (no producer record; the invited
 * names; the invited email confirmed by the link itself) and makes the delegation `active`.
 * @param tokenHash SHA-256 of the link's token (kept in the registration flow).
 * @returns the new account id, or why not (`username_taken`: the flow shows the field message).
 */
export async function registerDelegate(
  services: Services,
  tokenHash: string,
  v: { accountId: string; username: string; passwordHash: string; termsVersion: string },
  info: AuditContext,
): Promise<{ ok: true; producerName: string } | { ok: false; reason: AcceptRefusal }> {
  const { db, clock } = services;
  const now = clock.now();
  const out = await db.transaction().execute(async (trx) => {
    const id = await inviteLinkDelegation(trx, tokenHash, now, true);
    const d = id ? await findDelegation(trx, id, true) : undefined;
    if (!d || d.status !== 'invited') throw new AcceptFailed('invalid');
    await insertDelegateAccount(trx, { id: v.accountId, username: v.username, passwordHash: v.passwordHash, termsVersion: v.termsVersion, now, firstName: d.firstName, lastName: d.lastName, email: d.email });
    if (!(await acceptDelegation(trx, d.id, v.accountId, now))) throw new AcceptFailed('invalid');
    return (await findDelegation(trx, d.id))!;
  }).catch((err) => {
    if (err instanceof AcceptFailed) return err.reason;
    if ((err as { code?: string }).code === '23505') return 'username_taken' as const;
    throw err;
  });
  if (typeof out === 'string') return { ok: false, reason: out };
  await afterAccepted(services, out, v.accountId, info, true);
  const producer = await findAccountById(db, out.producerAccountId);
  return { ok: true, producerName: producer ? `${producer.producer.firstName} ${producer.producer.lastName}` : '' };
}
