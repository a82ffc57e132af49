import type { Kysely } from 'kysely';
import type { Database } from '../schema.ts';

/**
 * Self-service flow state (table `flows`): one row per flow, keyed by the SHA-256 of the random id
 * that only the browser's cookie holds (src/flows/store.ts).
 */
export interface FlowRow {
  state: Record<string, unknown>;
  expiresAt: Date;
}

/** Stores a new flow of `kind` with its state (JSON) and expiry. */
export async function insertFlow(db: Kysely<Database>, flow: { idHash: string; kind: string; state: Record<string, unknown>; createdAt: Date; expiresAt: Date }): Promise<void> {
  await db
    .insertInto('flows')
    .values({ id_hash: flow.idHash, kind: flow.kind, state: JSON.stringify(flow.state), created_at: flow.createdAt, expires_at: flow.expiresAt })
    .execute();
}

/** The flow of `kind` with this id hash (expired ones included: the caller judges expiry), or undefined. */
export async function findFlow(db: Kysely<Database>, idHash: string, kind: string): Promise<FlowRow | undefined> {
  const row = await db.selectFrom('flows').select(['state', 'expires_at']).where('id_hash', '=', idHash).where('kind', '=', kind).executeTakeFirst();
  return row ? { state: row.state as unknown as Record<string, unknown>, expiresAt: new Date(row.expires_at) } : undefined;
}

/** Replaces the state of a flow (its expiry stays). */
export async function updateFlowState(db: Kysely<Database>, idHash: string, state: Record<string, unknown>): Promise<void> {
  await db.updateTable('flows').set({ state: JSON.stringify(state) }).where('id_hash', '=', idHash).execute();
}

/** Deletes a flow. */
export async function deleteFlow(db: Kysely<Database>, idHash: string): Promise<void> {
  await db.deleteFrom('flows').where('id_hash', '=', idHash).execute();
}

/** Deletes the flows that expired before `now` (the purge job). @returns how many. */
export async function purgeFlows(db: Kysely<Database>, now: Date): Promise<bigint> {
  return (await db.deleteFrom('flows').where('expires_at', '<', now).executeTakeFirstOrThrow()).numDeletedRows;
}
