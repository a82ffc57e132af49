import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { Database } from '../schema.ts';

/**
 * oidc-provider's store (table `oidc_payloads`): one row per (model, id) for every model —
 * Session, Interaction, Grant, AuthorizationCode, AccessToken, RefreshToken, Client, … — with the
 * payload as JSON, the indexed look-up columns (`grant_id`, `user_code`, `uid`), an expiry and the
 * time of consumption. The adapter (src/oidc/adapter.ts) decides what the values mean; the queries
 * of every module that reads or ends these rows live here.
 */

/** A stored payload (oidc-provider's AdapterPayload, or a client's metadata). */
export type Payload = Record<string, unknown>;

/** A row as the adapter writes it; `payload` is the JSON text. */
export interface PayloadRow {
  model: string;
  id: string;
  payload: string;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  expires_at: Date | null;
}

/** Inserts the row, or replaces payload, look-up columns and expiry of the one with its (model, id). */
export async function upsertPayload(db: Kysely<Database>, row: PayloadRow): Promise<void> {
  await db
    .insertInto('oidc_payloads')
    .values(row)
    .onConflict((oc) =>
      oc.columns(['model', 'id']).doUpdateSet({
        payload: row.payload,
        grant_id: row.grant_id,
        user_code: row.user_code,
        uid: row.uid,
        expires_at: row.expires_at,
      }),
    )
    .execute();
}

/**
 * The row of `model` whose `column` equals `value`, expired or not (the caller judges expiry), or
 * undefined.
 */
export async function findPayloadRow(db: Kysely<Database>, model: string, column: 'id' | 'uid' | 'user_code', value: string): Promise<{ payload: Payload; consumedAt: Date | null; expiresAt: Date | null } | undefined> {
  const row = await db
    .selectFrom('oidc_payloads')
    .select(['payload', 'consumed_at', 'expires_at'])
    .where('model', '=', model)
    .where(column, '=', value)
    .executeTakeFirst();
  if (!row) return undefined;
  return { payload: row.payload as unknown as Payload, consumedAt: row.consumed_at ? new Date(row.consumed_at) : null, expiresAt: row.expires_at ? new Date(row.expires_at) : null };
}

/**
 * Whether oidc-provider's Grant `grantId` still exists and has not expired at `now` (an ended
 * session, a password change or reset, a disabled account or a removed delegate deletes the rows
 * of the grants concerned: src/oidc/revocation.ts).
 */
export async function grantIsLive(db: Kysely<Database>, grantId: string, now: Date): Promise<boolean> {
  if (grantId.length === 0 || grantId.length > 200 || grantId.includes('\u0000')) return false;
  const row = await db
    .selectFrom('oidc_payloads')
    .select('id')
    .where('model', '=', 'Grant')
    .where('id', '=', grantId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .executeTakeFirst();
  return !!row;
}

/** The payload of (model, id), expired or not, or undefined. */
export async function payloadOf(db: Kysely<Database>, model: string, id: string): Promise<Payload | undefined> {
  const row = await db.selectFrom('oidc_payloads').select('payload').where('model', '=', model).where('id', '=', id).executeTakeFirst();
  return row ? (row.payload as unknown as Payload) : undefined;
}

/**
 * Marks (model, id) consumed now, only if it was not consumed yet (one UPDATE: two parallel
 * consumers cannot both succeed).
 * @returns false when there is no such row or it was consumed already.
 */
export async function consumePayload(db: Kysely<Database>, model: string, id: string): Promise<boolean> {
  const res = await db
    .updateTable('oidc_payloads')
    .set({ consumed_at: new Date() })
    .where('model', '=', model)
    .where('id', '=', id)
    .where('consumed_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Deletes (model, id) if it exists. */
export async function deletePayload(db: Kysely<Database>, model: string, id: string): Promise<void> {
  await db.deleteFrom('oidc_payloads').where('model', '=', model).where('id', '=', id).execute();
}

/** Deletes the rows of `model` issued under the grant `grantId`. */
export async function deletePayloadsOfGrant(db: Kysely<Database>, model: string, grantId: string): Promise<void> {
  await db.deleteFrom('oidc_payloads').where('model', '=', model).where('grant_id', '=', grantId).execute();
}

/** Deletes the rows (of every model) whose expiry is before `now`. @returns how many. */
export async function purgeExpiredPayloads(db: Kysely<Database>, now: Date): Promise<number> {
  const res = await db.deleteFrom('oidc_payloads').where('expires_at', '<', now).executeTakeFirstOrThrow();
  return Number(res.numDeletedRows);
}

/**
 * The condition "the row belongs to one of `ids`": its payload carries the account (`accountId`,
 * `session.accountId`, `result.login.accountId`), or it was issued under one of their grants.
 */
function ofAccounts(db: Kysely<Database>, eb: ExpressionBuilder<Database, 'oidc_payloads'>, ids: string[]) {
  return eb.or([
    eb(sql<string>`payload->>'accountId'`, 'in', ids),
    eb(sql<string>`payload->'session'->>'accountId'`, 'in', ids),
    eb(sql<string>`payload->'result'->'login'->>'accountId'`, 'in', ids),
    eb('grant_id', 'in', db.selectFrom('oidc_payloads as g').select('g.id').where('g.model', '=', 'Grant').where(sql<string>`g.payload->>'accountId'`, 'in', ids)),
  ]);
}

/**
 * Deletes every row except clients that belongs to one of `accountIds`: payloads carrying the
 * account (`accountId`, `session.accountId`, `result.login.accountId`: sessions, grants, tokens,
 * interactions of a sign-in) and every row issued under one of the accounts' grants.
 * @param accountIds a non-empty list.
 * @returns how many rows were deleted.
 */
export async function deleteAccountPayloads(db: Kysely<Database>, accountIds: readonly string[]): Promise<number> {
  const ids = [...accountIds];
  const res = await db
    .deleteFrom('oidc_payloads')
    .where('model', '!=', 'Client')
    .where((eb) => ofAccounts(db, eb, ids))
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}

/**
 * As {@link deleteAccountPayloads} for one account, except the rows whose id is in `keepIds` and
 * the rows issued under a grant in `keepIds`.
 * @param keepIds a non-empty list of ids (a session and its grants).
 * @returns how many rows were deleted.
 */
export async function deleteAccountPayloadsExcept(db: Kysely<Database>, accountId: string, keepIds: readonly string[]): Promise<number> {
  const keep = [...keepIds];
  const res = await db
    .deleteFrom('oidc_payloads')
    .where('model', '!=', 'Client')
    .where('id', 'not in', keep)
    .where((eb) => eb.or([eb('grant_id', 'is', null), eb('grant_id', 'not in', keep)]))
    .where((eb) => ofAccounts(db, eb, [accountId]))
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}

/** The ids of the Session rows that hold one of these grants (`authorizations[client].grantId`). @param grantIds non-empty. */
export async function sessionsHoldingGrants(db: Kysely<Database>, grantIds: readonly string[]): Promise<string[]> {
  const sessions = await sql<{ id: string }>`
    SELECT s.id FROM oidc_payloads s
     WHERE s.model = 'Session'
       AND EXISTS (SELECT 1 FROM jsonb_each(coalesce(s.payload->'authorizations', '{}'::jsonb)) a
                    WHERE a.value->>'grantId' IN (${sql.join([...grantIds])}))`.execute(db);
  return sessions.rows.map((r) => r.id);
}

/**
 * Deletes the Grant rows `grantIds`, every row issued under them, and the Session rows `sessionIds`.
 * @param grantIds non-empty.
 * @returns how many rows were deleted.
 */
export async function deleteGrantsAndSessions(db: Kysely<Database>, grantIds: readonly string[], sessionIds: readonly string[]): Promise<number> {
  const grants = [...grantIds];
  const res = await db
    .deleteFrom('oidc_payloads')
    .where('model', '!=', 'Client')
    .where((eb) =>
      eb.or([
        eb.and([eb('model', '=', 'Grant'), eb('id', 'in', grants)]),
        eb('grant_id', 'in', grants),
        ...(sessionIds.length ? [eb.and([eb('model', '=', 'Session'), eb('id', 'in', [...sessionIds])])] : []),
      ]),
    )
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}

/**
 * The account's unexpired, unconsumed Session and RefreshToken rows (`payload.accountId`), each with
 * the SHA-256 (hex) of its id instead of the id, in no particular order.
 */
export async function liveSessionsAndRefreshTokens(db: Kysely<Database>, accountId: string): Promise<{ model: string; idHash: string; payload: Payload; expiresAt: Date | null }[]> {
  const rows = await db
    .selectFrom('oidc_payloads')
    .select(['model', sql<string>`encode(sha256(convert_to(id, 'UTF8')), 'hex')`.as('hash'), 'payload', 'expires_at'])
    .where('model', 'in', ['Session', 'RefreshToken'])
    .where(sql<string>`payload->>'accountId'`, '=', accountId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', new Date())]))
    .where('consumed_at', 'is', null)
    .execute();
  return rows.map((r) => ({ model: r.model, idHash: r.hash, payload: r.payload as unknown as Payload, expiresAt: r.expires_at ? new Date(r.expires_at) : null }));
}

/** Stores a client's metadata (model `Client`, no expiry), replacing the metadata of an existing one. */
export async function saveClientPayload(db: Kysely<Database>, clientId: string, metadata: Payload): Promise<void> {
  await db
    .insertInto('oidc_payloads')
    .values({ model: 'Client', id: clientId, payload: JSON.stringify(metadata), expires_at: null })
    .onConflict((oc) => oc.columns(['model', 'id']).doUpdateSet({ payload: JSON.stringify(metadata) }))
    .execute();
}

/** Replaces an existing client's metadata. */
export async function replaceClientPayload(db: Kysely<Database>, clientId: string, metadata: Payload): Promise<void> {
  await db.updateTable('oidc_payloads').set({ payload: JSON.stringify(metadata) }).where('model', '=', 'Client').where('id', '=', clientId).execute();
}

/** Every client's metadata as stored (hashed secrets included), by client_id. */
export async function clientPayloads(db: Kysely<Database>): Promise<Payload[]> {
  const rows = await db.selectFrom('oidc_payloads').select('payload').where('model', '=', 'Client').orderBy('id').execute();
  return rows.map((r) => r.payload as unknown as Payload);
}

/**
 * Deletes a client and every other row whose payload names it (`clientId`: tokens, codes, grants).
 * @returns false when no such client (nothing deleted).
 */
export async function deleteClientAndTokens(db: Kysely<Database>, clientId: string): Promise<boolean> {
  const res = await db.deleteFrom('oidc_payloads').where('model', '=', 'Client').where('id', '=', clientId).executeTakeFirst();
  if (Number(res.numDeletedRows) === 0) return false;
  await db.deleteFrom('oidc_payloads').where('model', '!=', 'Client').where((eb) => eb(eb.fn('jsonb_extract_path_text', ['payload', eb.val('clientId')]), '=', clientId)).execute();
  return true;
}

/** Sets the `first_party` member of a client's metadata. @returns false when no such client. */
export async function setClientFirstPartyFlag(db: Kysely<Database>, clientId: string, firstParty: boolean): Promise<boolean> {
  const res = await db.updateTable('oidc_payloads')
    .set({ payload: sql`payload || jsonb_build_object('first_party', ${firstParty}::boolean)` as never })
    .where('model', '=', 'Client').where('id', '=', clientId).executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}
