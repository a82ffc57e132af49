import { exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { randomToken } from '../security/tokens.ts';

/** The algorithms the IdP signs ID tokens with; the first is the default. */
export const SIGNING_ALGORITHMS = ['ES256', 'RS256'] as const;

/**
 * Returns the private signing keys (JWKs with `kid`, `alg`, `use: 'sig'`) kept in the database,
 * generating one per algorithm on first start.
 *
 * Concurrent starts (several replicas on one empty database) publish the same key set: the check
 * and the creation run in one transaction that first takes a transaction-scoped PostgreSQL advisory
 * lock (`pg_advisory_xact_lock`, keyed by the schema), so a second process waits, then finds the
 * keys the first one created instead of adding its own (issue 9, item 14).
 * @throws the database's error when the keys cannot be read or written.
 */
export async function loadSigningKeys(db: Kysely<Database>): Promise<JWK[]> {
  await db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext('producer-idp:signing_keys:' || current_schema()))`.execute(trx);
    for (const alg of SIGNING_ALGORITHMS) {
      const existing = await trx.selectFrom('signing_keys').select('kid').where('alg', '=', alg).where('retired_at', 'is', null).executeTakeFirst();
      if (existing) continue;
      const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
      const jwk = { ...(await exportJWK(privateKey)), kid: `${alg.toLowerCase()}-${randomToken(16)}`, alg, use: 'sig' };
      await trx.insertInto('signing_keys').values({ kid: jwk.kid, alg, private_jwk: JSON.stringify(jwk), created_at: new Date() }).execute();
    }
  });
  const rows = await db.selectFrom('signing_keys').select(['private_jwk', 'alg']).where('retired_at', 'is', null).orderBy('created_at', 'desc').execute();
  // ES256 first: oidc-provider signs with the first key matching the client's requested alg.
  rows.sort((a, b) => SIGNING_ALGORITHMS.indexOf(a.alg as never) - SIGNING_ALGORITHMS.indexOf(b.alg as never));
  return rows.map((r) => r.private_jwk as unknown as JWK);
}
