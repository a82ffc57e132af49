import { createHmac, hkdfSync } from 'node:crypto';
import { CompiledQuery, type Kysely } from 'kysely';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { Database } from '../db/schema.ts';

/**
 * A pg-like client over Kysely, so rate-limiter-flexible's PostgreSQL store runs on both PostgreSQL
 * and embedded PGlite through the same connection handling.
 */
function storeClient(db: Kysely<Database>) {
  return {
    query: async (q: { text: string; values?: unknown[] }) => {
      const res = await db.executeQuery(CompiledQuery.raw(q.text, (q.values ?? []) as unknown[]));
      return { rows: res.rows, rowCount: res.rows.length };
    },
  };
}

/** A named limit: `points` attempts per `durationSeconds` window per key. */
export interface Limit {
  points: number;
  durationSeconds: number;
}

/** Result of a consume: allowed, or refused with the seconds to wait. */
export type LimitResult = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * The secret that keys the rate-limit HMACs: HKDF-SHA256 (RFC 5869) of the first cookie key
 * (COOKIE_KEYS[0]) with the label `producer-idp rate-limit keys`, 32 bytes. Rotating COOKIE_KEYS
 * starts every rate-limit counter afresh.
 */
export function rateLimitKeySecret(cookieKey: string): Buffer {
  return Buffer.from(hkdfSync('sha256', cookieKey, 'producer-idp', 'producer-idp rate-limit keys', 32));
}

/**
 * Rate limiters sharing PostgreSQL (table `rate_limits`, created by migration), so that every
 * replica counts together. Built on rate-limiter-flexible's RateLimiterPostgres.
 *
 * Keys are never stored as given: every key (a typed username, an email, a client address) is
 * replaced by HMAC-SHA256(secret, key), base64url, before it reaches the store, so what a person
 * typed (e.g. a password typed into Username) never lands in the database (issue 9, item 16).
 */
export class RateLimits {
  readonly #limiters = new Map<string, RateLimiterPostgres>();
  readonly #client: ReturnType<typeof storeClient>;
  readonly #schema: string;
  readonly #secret: Buffer;

  /**
   * @param db the database holding `rate_limits`.
   * @param schema the PostgreSQL schema of that table.
   * @param secret the HMAC key for stored keys (see {@link rateLimitKeySecret}); at least 16 bytes.
   * @throws Error when the secret is shorter than 16 bytes.
   */
  constructor(db: Kysely<Database>, schema: string, secret: Buffer | string) {
    this.#client = storeClient(db);
    this.#schema = schema;
    this.#secret = Buffer.isBuffer(secret) ? secret : Buffer.from(secret);
    if (this.#secret.length < 16) throw new Error('rate-limit key secret must have at least 16 bytes');
  }

  /** The stored form of `key`: HMAC-SHA256(secret, key), base64url (43 characters). */
  #storedKey(key: string): string {
    return createHmac('sha256', this.#secret).update(key, 'utf8').digest('base64url');
  }

  /** Registers a limit under `name` (key prefix). */
  define(name: string, limit: Limit): void {
    this.#limiters.set(
      name,
      new RateLimiterPostgres({
        storeClient: this.#client,
        storeType: 'pool',
        tableName: 'rate_limits',
        schemaName: this.#schema,
        tableCreated: true,
        keyPrefix: name,
        points: limit.points,
        duration: limit.durationSeconds,
        clearExpiredByTimeout: false,
      }),
    );
  }

  /**
   * Consumes `points` (default 1) for `key` under the named limit.
   * @throws Error when `name` was not defined, or when the store fails.
   */
  async consume(name: string, key: string, points = 1): Promise<LimitResult> {
    const limiter = this.#limiters.get(name);
    if (!limiter) throw new Error(`rate limit ${name} is not defined`);
    try {
      await limiter.consume(this.#storedKey(key), points);
      return { allowed: true };
    } catch (err) {
      if (err instanceof RateLimiterRes) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(err.msBeforeNext / 1000)) };
      throw err;
    }
  }

  /** Remaining points for `key` without consuming (undefined when never used). */
  async remaining(name: string, key: string): Promise<number | undefined> {
    const limiter = this.#limiters.get(name);
    if (!limiter) throw new Error(`rate limit ${name} is not defined`);
    const res = await limiter.get(this.#storedKey(key));
    return res ? res.remainingPoints : undefined;
  }

  /** Forgets `key` under the named limit (e.g. after a successful sign-in). */
  async reset(name: string, key: string): Promise<void> {
    await this.#limiters.get(name)?.delete(this.#storedKey(key));
  }
}
