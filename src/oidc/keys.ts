import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';
import { sql, type Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import { allSigningKeys, currentKeyOf, insertSigningKey, keysStoredInClear, publishedKeys, replaceKeyMaterial, retireSupersededKeys, supersedeCurrentKeys, supersedeKey } from '../db/repositories/signing-keys.ts';
import type { Database } from '../db/schema.ts';
import type { Services } from '../services.ts';
import { randomToken } from '../security/tokens.ts';

/** The algorithms the IdP signs ID tokens with; the first is the default. */
export const SIGNING_ALGORITHMS = ['ES256', 'RS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/**
 * How long a key stays published after it stopped signing, seconds: the longest lifetime of
 * anything signed with it (a JWT access token for a resource lives at most 86400 s; ID tokens
 * 3600 s; logout tokens 120 s), plus an hour for clock skew and caches. Then it is retired.
 */
export const KEY_RETIRE_AFTER_SECONDS = 86400 + 3600;

/** How often a running server re-reads the key set (rotation by another process, retirement), seconds. */
export const KEY_REFRESH_SECONDS = 30;

/** A key as `keys list` shows it (never the private part). */
export interface SigningKeyInfo {
  kid: string;
  alg: string;
  use: 'sig';
  created_at: string;
  /** current: signs new tokens; previous: published for tokens it signed; retired: gone from /jwks. */
  state: 'current' | 'previous' | 'retired';
  superseded_at: string | null;
  retired_at: string | null;
}

/** The 32-byte AES key derived from SIGNING_KEYS_ENCRYPTION_KEY (SHA-256 of the setting). */
function aesKey(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/**
 * The stored form of a private JWK: with an encryption secret, `{"enc":"A256GCM","iv","ct","tag"}`
 * (AES-256-GCM, the kid as additional authenticated data, so a row cannot be swapped for another);
 * without one, the JWK itself (development and test).
 */
export function sealPrivateJwk(jwk: JWK & { kid: string }, secret: string | undefined): Record<string, unknown> {
  if (!secret) return jwk as Record<string, unknown>;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', aesKey(secret), iv);
  cipher.setAAD(Buffer.from(jwk.kid, 'utf8'));
  const ct = Buffer.concat([cipher.update(JSON.stringify(jwk), 'utf8'), cipher.final()]);
  return { enc: 'A256GCM', iv: iv.toString('base64url'), ct: ct.toString('base64url'), tag: cipher.getAuthTag().toString('base64url') };
}

/**
 * Opens a stored private JWK ({@link sealPrivateJwk}).
 * @throws Error naming SIGNING_KEYS_ENCRYPTION_KEY when the key is encrypted and the secret is
 *   missing or wrong.
 */
export function openPrivateJwk(stored: Record<string, unknown>, kid: string, secret: string | undefined): JWK {
  if (stored.enc !== 'A256GCM') return stored as JWK;
  if (!secret) throw new Error(`signing key ${kid} is encrypted: set SIGNING_KEYS_ENCRYPTION_KEY`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', aesKey(secret), Buffer.from(String(stored.iv), 'base64url'));
    decipher.setAAD(Buffer.from(kid, 'utf8'));
    decipher.setAuthTag(Buffer.from(String(stored.tag), 'base64url'));
    return JSON.parse(Buffer.concat([decipher.update(Buffer.from(String(stored.ct), 'base64url')), decipher.final()]).toString('utf8')) as JWK;
  } catch {
    throw new Error(`signing key ${kid} cannot be decrypted: SIGNING_KEYS_ENCRYPTION_KEY is not the key it was encrypted with`);
  }
}

async function newKey(alg: SigningAlgorithm): Promise<JWK & { kid: string }> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  return { ...(await exportJWK(privateKey)), kid: `${alg.toLowerCase()}-${randomToken(16)}`, alg, use: 'sig' };
}

/** Runs `fn` in a transaction holding the key-set advisory lock (one writer per schema). */
function underKeyLock<T>(db: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext('producer-idp:signing_keys:' || current_schema()))`.execute(trx);
    return fn(trx);
  });
}

/**
 * Returns the private signing keys (JWKs with `kid`, `alg`, `use: 'sig'`) to publish, the current
 * key of each algorithm before the previous ones (oidc-provider signs with the first key of the
 * requested algorithm), generating a key for an algorithm that has none. On the way, previous keys
 * older than {@link KEY_RETIRE_AFTER_SECONDS} are retired; with `rotateAfterDays`, a current key
 * older than that is rotated; with `encryptionSecret`, keys stored in clear are encrypted.
 *
 * Concurrent starts (several replicas on one empty database) publish the same key set: the check
 * and the creation run in one transaction that first takes a transaction-scoped PostgreSQL advisory
 * lock (`pg_advisory_xact_lock`, keyed by the schema), so a second process waits, then finds the
 * keys the first one created instead of adding its own (issue 9, item 14).
 * @throws the database's error when the keys cannot be read or written; Error when a key cannot be
 *   decrypted with `encryptionSecret`.
 */
export async function loadSigningKeys(db: Kysely<Database>, options: { encryptionSecret?: string; rotateAfterDays?: number } = {}): Promise<JWK[]> {
  const secret = options.encryptionSecret || undefined;
  await underKeyLock(db, async (trx) => {
    await retireSupersededKeys(trx, KEY_RETIRE_AFTER_SECONDS);
    for (const alg of SIGNING_ALGORITHMS) {
      const current = await currentKeyOf(trx, alg);
      const due = current && options.rotateAfterDays && current.createdAt.getTime() <= Date.now() - options.rotateAfterDays * 86400_000;
      if (current && !due) continue;
      if (current) await supersedeKey(trx, current.kid);
      const jwk = await newKey(alg);
      await insertSigningKey(trx, jwk.kid, alg, sealPrivateJwk(jwk, secret));
    }
    if (secret) {
      for (const row of await keysStoredInClear(trx)) {
        await replaceKeyMaterial(trx, row.kid, sealPrivateJwk(row.privateJwk as unknown as JWK & { kid: string }, secret));
      }
    }
  });
  const rows = await publishedKeys(db);
  // Current keys first (ES256 before RS256), then the previous ones, newest first.
  rows.sort((a, b) =>
    Number(a.supersededAt !== null) - Number(b.supersededAt !== null)
    || SIGNING_ALGORITHMS.indexOf(a.alg as never) - SIGNING_ALGORITHMS.indexOf(b.alg as never)
    || b.createdAt.getTime() - a.createdAt.getTime());
  return rows.map((r) => openPrivateJwk(r.privateJwk, r.kid, secret));
}

/**
 * `keys rotate`: for each algorithm (or only `alg`), the current key becomes previous (still
 * published, no longer signing) and a new current key is created. Running servers use the new keys
 * within {@link KEY_REFRESH_SECONDS} (30 s).
 * @returns the new keys (kid and alg).
 */
export async function rotateSigningKeys(db: Kysely<Database>, options: { alg?: SigningAlgorithm; encryptionSecret?: string } = {}): Promise<{ kid: string; alg: string }[]> {
  const algs = options.alg ? [options.alg] : [...SIGNING_ALGORITHMS];
  return underKeyLock(db, async (trx) => {
    const created: { kid: string; alg: string }[] = [];
    for (const alg of algs) {
      await supersedeCurrentKeys(trx, alg);
      const jwk = await newKey(alg);
      await insertSigningKey(trx, jwk.kid, alg, sealPrivateJwk(jwk, options.encryptionSecret || undefined));
      created.push({ kid: jwk.kid, alg });
    }
    return created;
  });
}

/** `keys list`: every key, newest first, with its state (no key material). */
export async function listSigningKeys(db: Kysely<Database>): Promise<SigningKeyInfo[]> {
  const rows = await allSigningKeys(db);
  const iso = (d: Date | null) => (d === null ? null : d.toISOString());
  return rows.map((r) => ({
    kid: r.kid, alg: r.alg, use: 'sig' as const, created_at: r.createdAt.toISOString(),
    state: r.retiredAt ? 'retired' : r.supersededAt ? 'previous' : 'current',
    superseded_at: iso(r.supersededAt), retired_at: iso(r.retiredAt),
  }));
}

/** oidc-provider's key-set setup (not a public API): replaces a provider's signing keys and /jwks. */
const INITIALIZE_KEYSTORE: string = 'oidc-provider/lib/helpers/initialize_keystore.js';

/**
 * Re-reads the key set ({@link loadSigningKeys}: retirement, automatic rotation) and, when it
 * changed, gives it to the running provider (new tokens signed with the new current key; /jwks
 * publishes current and previous keys).
 * @returns true when the provider's keys changed.
 */
export async function refreshProviderKeys(provider: Provider, services: Services): Promise<boolean> {
  const keys = await loadSigningKeys(services.db, keyOptions(services));
  const kids = keys.map((k) => k.kid).join(' ');
  if (published.get(provider) === kids) return false;
  const { default: initialize } = (await import(INITIALIZE_KEYSTORE)) as { default: (this: Provider, jwks: { keys: JWK[] }) => void };
  initialize.call(provider, { keys: keys.map((k) => ({ ...k })) });
  published.set(provider, kids);
  return true;
}

/** The kids each provider publishes (to notice a change). */
const published = new WeakMap<Provider, string>();

/** Remembers the keys a provider was built with. */
export function rememberPublishedKeys(provider: Provider, keys: JWK[]): void {
  published.set(provider, keys.map((k) => k.kid).join(' '));
}

/** The key options of the configuration (SIGNING_KEYS_ENCRYPTION_KEY, SIGNING_KEY_ROTATION_DAYS). */
export function keyOptions(services: Pick<Services, 'config'>): { encryptionSecret?: string; rotateAfterDays?: number } {
  return { encryptionSecret: services.config.SIGNING_KEYS_ENCRYPTION_KEY, rotateAfterDays: services.config.SIGNING_KEY_ROTATION_DAYS || undefined };
}

/**
 * Every {@link KEY_REFRESH_SECONDS}, {@link refreshProviderKeys} (so a `keys rotate` run anywhere,
 * automatic rotation and retirement reach this replica within a minute).
 * @returns a function that stops it.
 */
export function scheduleKeyRefresh(provider: Provider, services: Services): () => void {
  const timer = setInterval(() => {
    refreshProviderKeys(provider, services).catch((err: Error) => services.logger.warn({ err: { message: err.message } }, 'signing keys refresh failed'));
  }, KEY_REFRESH_SECONDS * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
