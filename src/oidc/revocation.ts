import type { Kysely } from 'kysely';
import { accountIdsOfProducers, setAccountStatus } from '../db/repositories/accounts.ts';
import { deleteAccountPayloads, deleteAccountPayloadsExcept, deleteGrantsAndSessions, payloadOf, sessionsHoldingGrants } from '../db/repositories/oidc-payloads.ts';
import { revokeDeviceRows } from '../db/repositories/trusted-devices.ts';
import type { Database } from '../db/schema.ts';
import { deleteGrantPrincipals, grantsOfDelegations, liveDelegationsOfProducerAccount, liveDelegationsOfProducers } from '../db/repositories/delegations.ts';
import { enqueueAccountLogouts, enqueueSessionLogouts, type LogoutReason } from './backchannel.ts';

/**
 * Ends every session, grant and token of the given accounts in oidc-provider's store (table
 * `oidc_payloads`, src/oidc/adapter.ts): Session, Grant, AccessToken, RefreshToken,
 * AuthorizationCode, DeviceCode, BackchannelAuthenticationRequest and any other model whose payload
 * carries the account (`accountId`), plus Interaction rows of a sign-in by or for the account, and
 * every row issued under one of the account's grants. Client registrations are never touched.
 *
 * After it, a refresh grant answers `invalid_grant` (RFC 6749 §5.2), userinfo and introspection
 * treat the tokens as unknown (RFC 6750 §3.1 `invalid_token`; RFC 7662 §2.2 `active: false`), and
 * the browser's IdP session no longer exists (the next authorization request asks to sign in).
 *
 * Used when an account may no longer sign in (producer re-imported as `inactive`, account
 * disabled; issue 9 item 3). Meant for reuse wherever an account's access must end at once
 * (e.g. a password reset by the owner, or back-channel logout once relying parties are told).
 * Safe to call inside a transaction (pass the transaction as `db`); idempotent.
 * @param db the database (or a transaction on it).
 * Relying parties of the ended sessions that registered a `backchannel_logout_uri` are sent a
 * logout token (queued in the same transaction; src/oidc/backchannel.ts).
 * @param accountIds the accounts (the OIDC `sub` values); an empty list does nothing.
 * @param reason why the sessions end (in the back-channel logout audit events).
 * @returns how many rows were deleted.
 */
export async function endAccountSessions(db: Kysely<Database>, accountIds: string | readonly string[], reason: LogoutReason = 'signed_out'): Promise<number> {
  const ids = [...new Set(typeof accountIds === 'string' ? [accountIds] : accountIds)];
  if (ids.length === 0) return 0;
  await enqueueAccountLogouts(db, ids, reason);
  return deleteAccountPayloads(db, ids);
}

/**
 * Ends every session, grant and token of the account ({@link endAccountSessions}) except the
 * session `keepSessionId` (oidc-provider's Session id, the `oidc_payloads` row) and the grants it
 * holds (`authorizations[client].grantId`) with their tokens: the browser that asks keeps working,
 * every other browser must sign in again, and refresh tokens of other grants stop (RFC 6749 §5.2
 * `invalid_grant`). Relying parties of the ended sessions are sent a logout token (queued here).
 * My Account: "Sign out of the others", and a password change (issue 14 item 6).
 * Run it in a transaction with the change that asks for it.
 * @returns how many oidc-provider records were deleted.
 */
export async function endOtherSessions(db: Kysely<Database>, accountId: string, keepSessionId: string, reason: LogoutReason = 'signed_out_others'): Promise<number> {
  await enqueueAccountLogouts(db, [accountId], reason, keepSessionId);
  const kept = await payloadOf(db, 'Session', keepSessionId);
  const authorizations = ((kept as { authorizations?: Record<string, { grantId?: string }> } | undefined)?.authorizations) ?? {};
  const keepGrants = Object.values(authorizations).map((a) => a.grantId).filter((g): g is string => typeof g === 'string');
  const keepIds = [keepSessionId, ...keepGrants];
  return deleteAccountPayloadsExcept(db, accountId, keepIds);
}

/**
 * Ends every session, grant and token ({@link endAccountSessions}) of the accounts of these
 * producers (e.g. the producers a `producers import` marks `inactive`).
 * @param producerNumbers producer numbers; an empty list does nothing.
 * @returns how many accounts were concerned.
 */
export async function endProducerSessions(db: Kysely<Database>, producerNumbers: readonly string[]): Promise<number> {
  let accounts = 0;
  for (let i = 0; i < producerNumbers.length; i += 1000) {
    const ids = await accountIdsOfProducers(db, producerNumbers.slice(i, i + 1000));
    accounts += ids.length;
    await endAccountSessions(db, ids, 'producer_inactive');
    // Issue 14 item 5: a producer made inactive makes every delegation for them inactive at once.
    await endDelegationAccess(db, await liveDelegationsOfProducers(db, producerNumbers.slice(i, i + 1000)), 'producer_inactive');
  }
  return accounts;
}

/**
 * Ends, at once, everything through which a delegate acts for a producer under these delegations
 * (issue 14 item 5): every grant that acts under one of them (src/oidc/delegation.ts), every row
 * issued under those grants (codes, access and refresh tokens), and every IdP session that holds
 * one of those grants — its relying parties are told by back-channel logout (queued in the same
 * transaction). The delegate's own account, and their grants for themselves or other producers
 * outside those sessions, remain. Safe inside a transaction; idempotent.
 * @param delegationIds the delegations; an empty list does nothing.
 * @returns how many oidc-provider rows were deleted.
 */
export async function endDelegationAccess(db: Kysely<Database>, delegationIds: readonly string[], reason: LogoutReason = 'delegation_ended'): Promise<number> {
  const grants = await grantsOfDelegations(db, delegationIds);
  if (grants.length === 0) return 0;
  const sessionIds = await sessionsHoldingGrants(db, grants);
  await enqueueSessionLogouts(db, sessionIds, reason);
  const deleted = await deleteGrantsAndSessions(db, grants, sessionIds);
  await deleteGrantPrincipals(db, grants);
  return deleted;
}

/**
 * Sets an account's status; disabling also ends every session, grant and token of the account at
 * once ({@link endAccountSessions}, with back-channel logout), so refresh, userinfo and
 * introspection stop (issue 9 item 3). Run it in a transaction to make both one change.
 */
export async function changeAccountStatus(db: Kysely<Database>, accountId: string, status: 'active' | 'disabled'): Promise<void> {
  await setAccountStatus(db, accountId, status);
  if (status === 'disabled') {
    await endAccountSessions(db, accountId, 'account_disabled');
    // Issue 14: a producer who may no longer sign in makes their delegations unusable; end them now.
    await endDelegationAccess(db, await liveDelegationsOfProducerAccount(db, accountId), 'account_disabled');
  }
}

/**
 * What a password reset ends (guide slides 12-17): every session, grant and token of the account
 * ({@link endAccountSessions}, which first queues back-channel logout tokens for every relying party
 * of its sessions), and its remembered devices ({@link revokeDeviceRows}).
 * @returns how many oidc-provider records and remembered devices were ended.
 */
export async function endAccessAfterPasswordReset(db: Kysely<Database>, accountId: string, now: Date): Promise<{ oidcRecords: number; devices: number }> {
  const oidcRecords = await endAccountSessions(db, accountId, 'password_reset');
  const devices = await revokeDeviceRows(db, accountId, now);
  return { oidcRecords, devices };
}
