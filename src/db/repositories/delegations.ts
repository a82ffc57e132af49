import { sql, type Kysely, type Selectable } from 'kysely';
import { addSeconds } from '../../clock.ts';
import type { ReadCache } from '../change-feed.ts';
import type { Database } from '../schema.ts';

/**
 * The permissions a producer gives a delegate (issue 14 item 1: at least Quote & Enroll,
 * Commissions & Reporting, View My Hierarchy). The codes appear in tokens (`delegation.permissions`).
 */
export const PERMISSIONS = ['quote_enroll', 'commissions_reporting', 'view_hierarchy'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** One delegation: a person a producer invited to work on their behalf. */
export interface Delegation {
  id: string;
  producerNumber: string;
  producerAccountId: string;
  delegateAccountId: string | null;
  firstName: string;
  lastName: string;
  email: string;
  permissions: Permission[];
  status: 'invited' | 'active' | 'removed';
  invitedAt: Date;
  acceptedAt: Date | null;
  removedAt: Date | null;
  lastActiveAt: Date | null;
}

/** A delegation the person may act under now, with the producer's name (for the chooser and claims). */
export interface ActingOption {
  delegationId: string;
  producerNumber: string;
  producerName: string;
  producerAccountId: string;
  permissions: Permission[];
}

type Row = Database['delegations'];
const d = (v: Date | string | null): Date | null => (v === null ? null : new Date(v));

function toDelegation(r: Selectable<Row>): Delegation {
  return {
    id: r.id,
    producerNumber: r.producer_number,
    producerAccountId: r.producer_account_id,
    delegateAccountId: r.delegate_account_id,
    firstName: r.first_name,
    lastName: r.last_name,
    email: r.email,
    permissions: (r.permissions as string[]).filter((p): p is Permission => (PERMISSIONS as readonly string[]).includes(p)),
    status: r.status,
    invitedAt: new Date(r.invited_at),
    acceptedAt: d(r.accepted_at),
    removedAt: d(r.removed_at),
    lastActiveAt: d(r.last_active_at),
  };
}

/** Inserts an invitation (status `invited`). Call inside the transaction that stores its link. */
export async function insertDelegation(db: Kysely<Database>, v: { id: string; producerNumber: string; producerAccountId: string; firstName: string; lastName: string; email: string; permissions: Permission[]; now: Date }): Promise<void> {
  await db
    .insertInto('delegations')
    .values({
      id: v.id, producer_number: v.producerNumber, producer_account_id: v.producerAccountId, delegate_account_id: null,
      first_name: v.firstName, last_name: v.lastName, email: v.email, permissions: v.permissions, status: 'invited', invited_at: v.now,
    })
    .execute();
}

/** One delegation by id, or undefined. With `forUpdate`, locks its row until the transaction ends. */
export async function findDelegation(db: Kysely<Database>, id: string, forUpdate = false): Promise<Delegation | undefined> {
  if (typeof id !== 'string' || id.length > 100 || id.includes('\u0000')) return undefined; // PostgreSQL text holds no NUL
  let q = db.selectFrom('delegations').selectAll().where('id', '=', id);
  if (forUpdate) q = q.forUpdate();
  const r = await q.executeTakeFirst();
  return r ? toDelegation(r) : undefined;
}

/** A producer's delegations, newest invitation first (removed ones included: the list shows their status). */
export async function delegationsOfProducer(db: Kysely<Database>, producerNumber: string): Promise<Delegation[]> {
  const rows = await db.selectFrom('delegations').selectAll().where('producer_number', '=', producerNumber).orderBy('invited_at', 'desc').orderBy('id').execute();
  return rows.map((r) => toDelegation(r));
}

/** The delegations a person accepted (for whom they work or worked), newest first, removed ones included. */
export async function delegationsOfDelegate(db: Kysely<Database>, delegateAccountId: string): Promise<Delegation[]> {
  const rows = await db.selectFrom('delegations').selectAll().where('delegate_account_id', '=', delegateAccountId).orderBy('invited_at', 'desc').orderBy('id').execute();
  return rows.map((r) => toDelegation(r));
}

/** True when the producer has a live (invited or active) delegation for this email (ignoring case). */
export async function liveInvitationFor(db: Kysely<Database>, producerNumber: string, email: string): Promise<boolean> {
  const r = await db
    .selectFrom('delegations')
    .select('id')
    .where('producer_number', '=', producerNumber)
    .where('status', '<>', 'removed')
    .where(sql<string>`lower(email)`, '=', email.toLowerCase())
    .executeTakeFirst();
  return !!r;
}

/**
 * Marks an invitation accepted by `delegateAccountId` (status `invited` → `active`), atomically.
 * @returns false when it is no longer an open invitation, or the person already is an active
 *   delegate of that producer.
 */
export async function acceptDelegation(db: Kysely<Database>, id: string, delegateAccountId: string, now: Date): Promise<boolean> {
  const res = await db
    .updateTable('delegations')
    .set({ status: 'active', delegate_account_id: delegateAccountId, accepted_at: now })
    .where('id', '=', id)
    .where('status', '=', 'invited')
    .where((eb) => eb.not(eb.exists(
      eb.selectFrom('delegations as o').select('o.id')
        .whereRef('o.producer_number', '=', 'delegations.producer_number')
        .where('o.delegate_account_id', '=', delegateAccountId)
        .where('o.status', '<>', 'removed'),
    )))
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Marks a delegation removed at `now`. @returns false when it was already removed. */
export async function markDelegationRemoved(db: Kysely<Database>, id: string, now: Date): Promise<boolean> {
  const res = await db.updateTable('delegations').set({ status: 'removed', removed_at: now }).where('id', '=', id).where('status', '<>', 'removed').executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Records that the delegate acted under the delegation at `now` (a sign-in for that producer). */
export async function touchDelegation(db: Kysely<Database>, id: string, now: Date): Promise<void> {
  await db.updateTable('delegations').set({ last_active_at: now }).where('id', '=', id).execute();
}

/**
 * The delegations a person may act under now: active, and the producer's record and account active
 * (a producer made inactive makes every delegation for them inactive; issue 14 item 5). By producer name.
 */
export async function actingOptions(db: Kysely<Database>, delegateAccountId: string): Promise<ActingOption[]> {
  const rows = await db
    .selectFrom('delegations as d')
    .innerJoin('producer_records as p', 'p.producer_number', 'd.producer_number')
    .innerJoin('accounts as a', 'a.id', 'd.producer_account_id')
    .select(['d.id', 'd.producer_number', 'd.producer_account_id', 'd.permissions', 'p.first_name', 'p.last_name'])
    .where('d.delegate_account_id', '=', delegateAccountId)
    .where('d.status', '=', 'active')
    .where('p.status', '=', 'active')
    .where('a.status', '=', 'active')
    .orderBy('p.last_name')
    .orderBy('p.first_name')
    .orderBy('d.producer_number')
    .execute();
  return rows.map((r) => ({
    delegationId: r.id,
    producerNumber: r.producer_number,
    producerName: `${r.first_name} ${r.last_name}`,
    producerAccountId: r.producer_account_id,
    permissions: (r.permissions as string[]).filter((p): p is Permission => (PERMISSIONS as readonly string[]).includes(p)),
  }));
}

/** One of {@link actingOptions} by delegation id, or undefined when it may not be used now. */
export async function actingOption(db: Kysely<Database>, delegateAccountId: string, delegationId: string): Promise<ActingOption | undefined> {
  return (await actingOptions(db, delegateAccountId)).find((o) => o.delegationId === delegationId);
}

// ---- grants: for whom an oidc-provider Grant acts ----

/**
 * Records for whom grant `grantId` acts: `delegationId`, or null for the person themselves.
 * Replaces an earlier record of the same grant.
 * @param ttlSeconds how long the record is kept (the grant's lifetime), seconds.
 */
export async function recordGrantPrincipal(db: Kysely<Database>, v: { grantId: string; accountId: string; delegationId: string | null; now: Date; ttlSeconds: number }): Promise<void> {
  await db
    .insertInto('delegation_grants')
    .values({ grant_id: v.grantId, account_id: v.accountId, delegation_id: v.delegationId, created_at: v.now, expires_at: addSeconds(v.now, v.ttlSeconds) })
    .onConflict((oc) => oc.column('grant_id').doUpdateSet({ delegation_id: v.delegationId, account_id: v.accountId }))
    .execute();
}

/**
 * For whom grant `grantId` acts: `{ delegationId }` (null: the person themselves), or undefined
 * when the grant was never given a principal.
 */
export async function grantPrincipal(db: Kysely<Database>, grantId: string, cache?: PrincipalCache): Promise<{ delegationId: string | null } | undefined> {
  const read = async () => {
    const r = await db.selectFrom('delegation_grants').select('delegation_id').where('grant_id', '=', grantId).executeTakeFirst();
    return r ? { delegationId: r.delegation_id } : null;
  };
  return (await (cache ? cache.get(grantId, read) : read())) ?? undefined;
}

/**
 * Whom grants act for, kept in memory while the change feed tells of every write to
 * `delegation_grants` (migration 0016; issue 12: read at every token, refresh and userinfo).
 * null: the grant has no principal recorded.
 */
export type PrincipalCache = ReadCache<{ delegationId: string | null } | null>;

/**
 * For whom these grants act (the grants of one IdP session): each different principal once
 * (`delegationId` null: the person themselves); grants without a principal are left out.
 */
export async function principalsOfGrants(db: Kysely<Database>, grantIds: readonly string[]): Promise<{ delegationId: string | null }[]> {
  if (grantIds.length === 0) return [];
  const rows = await db.selectFrom('delegation_grants').select('delegation_id').distinct().where('grant_id', 'in', grantIds).execute();
  return rows.map((r) => ({ delegationId: r.delegation_id }));
}

/** The grants that act under any of these delegations. */
export async function grantsOfDelegations(db: Kysely<Database>, delegationIds: readonly string[]): Promise<string[]> {
  if (delegationIds.length === 0) return [];
  const rows = await db.selectFrom('delegation_grants').select('grant_id').where('delegation_id', 'in', delegationIds).execute();
  return rows.map((r) => r.grant_id);
}

/** Forgets whom these grants acted for (the grants were ended). */
export async function deleteGrantPrincipals(db: Kysely<Database>, grantIds: readonly string[]): Promise<void> {
  if (grantIds.length === 0) return;
  await db.deleteFrom('delegation_grants').where('grant_id', 'in', grantIds).execute();
}

/** The live (invited or active) delegations of these producers (e.g. made inactive by an import). */
export async function liveDelegationsOfProducers(db: Kysely<Database>, producerNumbers: readonly string[]): Promise<string[]> {
  if (producerNumbers.length === 0) return [];
  const rows = await db.selectFrom('delegations').select('id').where('producer_number', 'in', producerNumbers).where('status', '<>', 'removed').execute();
  return rows.map((r) => r.id);
}

/**
 * The active delegations of those of these producers whose record is active now (read before an
 * import marks them inactive: the delegations that import makes inactive).
 */
export async function activeDelegationsOfActiveProducers(db: Kysely<Database>, producerNumbers: readonly string[]): Promise<Pick<Delegation, 'id' | 'producerNumber' | 'producerAccountId' | 'delegateAccountId'>[]> {
  if (producerNumbers.length === 0) return [];
  const rows = await db
    .selectFrom('delegations as d')
    .innerJoin('producer_records as p', 'p.producer_number', 'd.producer_number')
    .select(['d.id', 'd.producer_number', 'd.producer_account_id', 'd.delegate_account_id'])
    .where('d.producer_number', 'in', producerNumbers)
    .where('d.status', '=', 'active')
    .where('p.status', '=', 'active')
    .execute();
  return rows.map((r) => ({ id: r.id, producerNumber: r.producer_number, producerAccountId: r.producer_account_id, delegateAccountId: r.delegate_account_id }));
}

/** The live (invited or active) delegations of the producer whose account is `producerAccountId`. */
export async function liveDelegationsOfProducerAccount(db: Kysely<Database>, producerAccountId: string): Promise<string[]> {
  const rows = await db.selectFrom('delegations').select('id').where('producer_account_id', '=', producerAccountId).where('status', '<>', 'removed').execute();
  return rows.map((r) => r.id);
}

/**
 * Deletes the records of grants that no longer exist (oidc-provider's Grant rows are purged at their
 * expiry; a grant's expiry moves on at each save, so the record's own `expires_at` is only a floor).
 * @returns how many rows were deleted.
 */
export async function purgeDelegationGrants(db: Kysely<Database>, now: Date): Promise<bigint> {
  const res = await db
    .deleteFrom('delegation_grants as d')
    .where('d.expires_at', '<', now)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('oidc_payloads as g').select('g.id').where('g.model', '=', 'Grant').whereRef('g.id', '=', 'd.grant_id'))))
    .executeTakeFirstOrThrow();
  return res.numDeletedRows;
}
