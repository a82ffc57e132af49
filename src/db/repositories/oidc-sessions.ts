import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.ts';

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
 * @param accountIds the accounts (the OIDC `sub` values); an empty list does nothing.
 * @returns how many rows were deleted.
 */
export async function endAccountSessions(db: Kysely<Database>, accountIds: string | readonly string[]): Promise<number> {
  const ids = [...new Set(typeof accountIds === 'string' ? [accountIds] : accountIds)];
  if (ids.length === 0) return 0;
  const res = await db
    .deleteFrom('oidc_payloads')
    .where('model', '!=', 'Client')
    .where((eb) =>
      eb.or([
        eb(sql<string>`payload->>'accountId'`, 'in', ids),
        eb(sql<string>`payload->'session'->>'accountId'`, 'in', ids),
        eb(sql<string>`payload->'result'->'login'->>'accountId'`, 'in', ids),
        eb('grant_id', 'in', db.selectFrom('oidc_payloads as g').select('g.id').where('g.model', '=', 'Grant').where(sql<string>`g.payload->>'accountId'`, 'in', ids)),
      ]),
    )
    .executeTakeFirst();
  return Number(res.numDeletedRows);
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
    const rows = await db.selectFrom('accounts').select('id').where('producer_number', 'in', producerNumbers.slice(i, i + 1000)).execute();
    accounts += rows.length;
    await endAccountSessions(db, rows.map((r) => r.id));
  }
  return accounts;
}
