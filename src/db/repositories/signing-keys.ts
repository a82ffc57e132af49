import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database } from '../schema.ts';

/**
 * The IdP's signing keys (table `signing_keys`; src/oidc/keys.ts decides when keys are created,
 * rotated, retired and sealed). `private_jwk` is the stored JSON: a private JWK, or its AES-256-GCM
 * sealed form (`enc: 'A256GCM'`). A key is current (signs), previous (`superseded_at` set: still
 * published) or retired (`retired_at` set: neither).
 */
export interface StoredSigningKey {
  kid: string;
  alg: string;
  privateJwk: Record<string, unknown>;
  createdAt: Date;
  supersededAt: Date | null;
  retiredAt: Date | null;
}

const d = (v: Date | string | null): Date | null => (v === null ? null : new Date(v));

/**
 * Retires the previous keys superseded more than `afterSeconds` seconds ago (database clock).
 * @returns nothing; the database's error when it fails.
 */
export async function retireSupersededKeys(db: Kysely<Database>, afterSeconds: number): Promise<void> {
  await db.updateTable('signing_keys').set({ retired_at: sql`now()` as never })
    .where('retired_at', 'is', null).where('superseded_at', 'is not', null)
    .where('superseded_at', '<', sql<Date>`now() - make_interval(secs => ${afterSeconds})`).execute();
}

/** The current (signing) key of `alg` with its creation time, or undefined when it has none. */
export async function currentKeyOf(db: Kysely<Database>, alg: string): Promise<{ kid: string; createdAt: Date } | undefined> {
  const row = await db.selectFrom('signing_keys').select(['kid', 'created_at']).where('alg', '=', alg)
    .where('retired_at', 'is', null).where('superseded_at', 'is', null).orderBy('created_at', 'desc').executeTakeFirst();
  return row ? { kid: row.kid, createdAt: new Date(row.created_at) } : undefined;
}

/** Makes the key `kid` previous (`superseded_at` = now, database clock). */
export async function supersedeKey(db: Kysely<Database>, kid: string): Promise<void> {
  await db.updateTable('signing_keys').set({ superseded_at: sql`now()` as never }).where('kid', '=', kid).execute();
}

/** Makes every current key of `alg` previous (`superseded_at` = now, database clock). */
export async function supersedeCurrentKeys(db: Kysely<Database>, alg: string): Promise<void> {
  await db.updateTable('signing_keys').set({ superseded_at: sql`now()` as never }).where('alg', '=', alg).where('retired_at', 'is', null).where('superseded_at', 'is', null).execute();
}

/**
 * Stores a new current key, created now (application clock).
 * @param privateJwk the JWK or its sealed form, as stored (JSON-serialised here).
 * @throws the database's unique violation when `kid` exists.
 */
export async function insertSigningKey(db: Kysely<Database>, kid: string, alg: string, privateJwk: object): Promise<void> {
  await db.insertInto('signing_keys').values({ kid, alg, private_jwk: JSON.stringify(privateJwk), created_at: new Date() }).execute();
}

/** The keys whose private JWK is stored in clear (no `enc` member), kid and JWK. */
export async function keysStoredInClear(db: Kysely<Database>): Promise<{ kid: string; privateJwk: Record<string, unknown> }[]> {
  const rows = await db.selectFrom('signing_keys').select(['kid', 'private_jwk']).where(sql<boolean>`NOT (private_jwk ? 'enc')`).execute();
  return rows.map((r) => ({ kid: r.kid, privateJwk: r.private_jwk as unknown as Record<string, unknown> }));
}

/** Replaces the stored private JWK of `kid` (e.g. with its sealed form). */
export async function replaceKeyMaterial(db: Kysely<Database>, kid: string, privateJwk: object): Promise<void> {
  await db.updateTable('signing_keys').set({ private_jwk: JSON.stringify(privateJwk) }).where('kid', '=', kid).execute();
}

/** The keys not retired (current and previous), in no particular order. */
export async function publishedKeys(db: Kysely<Database>): Promise<StoredSigningKey[]> {
  const rows = await db.selectFrom('signing_keys').selectAll().where('retired_at', 'is', null).execute();
  return rows.map(toKey);
}

/** Every key, retired ones included, newest first. */
export async function allSigningKeys(db: Kysely<Database>): Promise<StoredSigningKey[]> {
  const rows = await db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc').execute();
  return rows.map(toKey);
}

/** The algorithms of the keys not retired (one entry per key; empty: no key to sign with). */
export async function publishedKeyAlgorithms(db: Kysely<Database>): Promise<string[]> {
  const rows = await db.selectFrom('signing_keys').select('alg').where('retired_at', 'is', null).execute();
  return rows.map((r) => r.alg);
}

function toKey(r: Selectable<Database['signing_keys']>): StoredSigningKey {
  return {
    kid: r.kid, alg: r.alg, privateJwk: r.private_jwk as unknown as Record<string, unknown>,
    createdAt: new Date(r.created_at), supersededAt: d(r.superseded_at), retiredAt: d(r.retired_at),
  };
}
