import type { Kysely } from 'kysely';
import { addSeconds } from '../../clock.ts';
import type { Database, SingleUseLinksTable } from '../schema.ts';

/** What a single-use link is for (table `single_use_links`, migration 0006). */
export type LinkPurpose = SingleUseLinksTable['purpose'];

/**
 * Stores a new link: only `tokenHash` (SHA-256 of the token), valid `ttlSeconds` from `now`.
 * @param db a database or transaction.
 */
export async function insertLink(db: Kysely<Database>, link: { purpose: LinkPurpose; accountId: string; tokenHash: string; now: Date; ttlSeconds: number; delegationId?: string }): Promise<void> {
  await db
    .insertInto('single_use_links')
    .values({ token_hash: link.tokenHash, purpose: link.purpose, account_id: link.accountId, created_at: link.now, expires_at: addSeconds(link.now, link.ttlSeconds), delegation_id: link.delegationId ?? null })
    .execute();
}

/**
 * Which of these delegations have a live invitation link (unused, not voided, not expired at `now`):
 * an invited delegation without one is an expired invitation (a Resend gives it a fresh link).
 */
export async function delegationsWithLiveLink(db: Kysely<Database>, delegationIds: readonly string[], now: Date): Promise<Set<string>> {
  if (delegationIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('single_use_links')
    .select('delegation_id')
    .distinct()
    .where('purpose', '=', 'delegate_invite')
    .where('delegation_id', 'in', delegationIds)
    .where('used_at', 'is', null)
    .where('voided_at', 'is', null)
    .where('expires_at', '>', now)
    .execute();
  return new Set(rows.map((r) => r.delegation_id).filter((id): id is string => id !== null));
}

/** Voids the unused invitation links of one delegation (a resend, or the delegation removed). */
export async function voidDelegationLinks(db: Kysely<Database>, delegationId: string, now: Date): Promise<void> {
  await db
    .updateTable('single_use_links')
    .set({ voided_at: now })
    .where('delegation_id', '=', delegationId)
    .where('used_at', 'is', null)
    .where('voided_at', 'is', null)
    .execute();
}

/**
 * The delegation of a live invitation link (purpose `delegate_invite`, unused, not voided, not
 * expired at `now`); reads only. With `redeem`, uses the link atomically (opened twice in
 * parallel, it works once).
 * @returns the delegation id, or undefined when the link is not valid.
 */
export async function inviteLinkDelegation(db: Kysely<Database>, tokenHash: string, now: Date, redeem = false): Promise<string | undefined> {
  if (redeem) {
    const row = await db
      .updateTable('single_use_links')
      .set({ used_at: now })
      .where('token_hash', '=', tokenHash)
      .where('purpose', '=', 'delegate_invite')
      .where('used_at', 'is', null)
      .where('voided_at', 'is', null)
      .where('expires_at', '>', now)
      .returning('delegation_id')
      .executeTakeFirst();
    return row?.delegation_id ?? undefined;
  }
  const row = await db
    .selectFrom('single_use_links')
    .select('delegation_id')
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', 'delegate_invite')
    .where('used_at', 'is', null)
    .where('voided_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return row?.delegation_id ?? undefined;
}

/** Voids the account's unused links of `purpose` (a newer link replaces them). */
export async function voidLinks(db: Kysely<Database>, accountId: string, purpose: LinkPurpose, now: Date): Promise<void> {
  await db
    .updateTable('single_use_links')
    .set({ voided_at: now })
    .where('account_id', '=', accountId)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('voided_at', 'is', null)
    .execute();
}

/**
 * Uses a link, atomically (`UPDATE … WHERE used_at IS NULL … RETURNING`: opened twice in parallel,
 * it works once): it must be of `purpose`, unused, not voided and not expired at `now`.
 * @returns the account id, or undefined when the link is not valid.
 */
export async function redeemLink(db: Kysely<Database>, purpose: LinkPurpose, tokenHash: string, now: Date): Promise<string | undefined> {
  const row = await db
    .updateTable('single_use_links')
    .set({ used_at: now })
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('voided_at', 'is', null)
    .where('expires_at', '>', now)
    .returning('account_id')
    .executeTakeFirst();
  return row?.account_id;
}

/**
 * True when a link is live at `now`: of `purpose`, unused, not voided and not expired. Reads only
 * (the page a mail link opens shows a button; only its POST uses the link with {@link redeemLink}).
 */
export async function linkIsLive(db: Kysely<Database>, purpose: LinkPurpose, tokenHash: string, now: Date): Promise<boolean> {
  const row = await db
    .selectFrom('single_use_links')
    .select('account_id')
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('voided_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return !!row;
}

/** Deletes links that expired before `now` (the purge job). @returns how many. */
export async function purgeLinks(db: Kysely<Database>, now: Date): Promise<bigint> {
  return (await db.deleteFrom('single_use_links').where('expires_at', '<', now).executeTakeFirstOrThrow()).numDeletedRows;
}
