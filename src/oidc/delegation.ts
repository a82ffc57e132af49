import type { Kysely } from 'kysely';
import { errors } from 'oidc-provider';
import { actingOptions, grantPrincipal, recordGrantPrincipal, touchDelegation, type ActingOption, type PrincipalCache } from '../db/repositories/delegations.ts';
import type { Principal } from '../interactions/working-for-choice.ts';

export { choicesOf, choicesOfRequest, PRODUCER_NUMBER_PARAM, resolvePrincipal, settledPrincipal, type Principal } from '../interactions/working-for-choice.ts';
import type { Database } from '../db/schema.ts';
import type { Clock } from '../clock.ts';

/**
 * Whether grant `grantId` may serve the principal settled for this request (issue 14): a grant acts
 * for one principal only. When it was recorded for another, `loadExistingGrant` gives a
 * first-party client a new grant, a third-party client none (consent is asked again). No grant or
 * no settled principal yet: true.
 */
export async function principalFits(db: Kysely<Database>, grantId: string | undefined, principal: Principal | undefined, reads?: PrincipalReads, cache?: PrincipalCache): Promise<boolean> {
  if (!grantId || !principal) return true;
  const recorded = await readPrincipal(db, grantId, reads, cache);
  return !recorded || recorded.delegationId === principal.delegationId;
}

/** The principals of grants already read in this request (grant id → recorded principal). */
export type PrincipalReads = Map<string, { delegationId: string | null } | undefined>;

async function readPrincipal(db: Kysely<Database>, grantId: string, reads?: PrincipalReads, cache?: PrincipalCache) {
  if (reads?.has(grantId)) return reads.get(grantId);
  const recorded = await grantPrincipal(db, grantId, cache);
  reads?.set(grantId, recorded);
  return recorded;
}

/**
 * Records the principal of grant `grantId` (see {@link principalFits}); a delegation's last
 * activity is `now`. `reads`: what this request already read (one read per grant, issue 12).
 */
export async function recordPrincipal(db: Kysely<Database>, clock: Clock, grantId: string, accountId: string, principal: Principal, ttlSeconds: number, reads?: PrincipalReads, cache?: PrincipalCache): Promise<void> {
  const now = clock.now();
  const recorded = await readPrincipal(db, grantId, reads, cache);
  // Written once per grant (a new choice makes a new grant): most authorizations only read.
  if (!recorded) {
    await recordGrantPrincipal(db, { grantId, accountId, delegationId: principal.delegationId, now, ttlSeconds });
    cache?.delete(grantId); // this process reads its own write at once (others: the change feed)
  }
  if (principal.delegationId) await touchDelegation(db, principal.delegationId, now);
}

/** What relying parties are told of a delegation (claim `delegation`, scope `delegation`). */
export interface DelegationClaim {
  producer_number: string;
  producer_name: string;
  permissions: string[];
}

/**
 * The delegation a grant acts under, when it is usable now: the delegation is active, the person
 * is its delegate, the producer's record and account are active. A grant without a principal, or
 * acting for the person themselves: undefined.
 * @throws errors.InvalidGrant when the grant acts under a delegation that is no longer usable.
 */
export async function delegationOfGrant(db: Kysely<Database>, grantId: string | undefined, accountId: string, cache?: PrincipalCache): Promise<(ActingOption & { claim: DelegationClaim }) | undefined> {
  if (!grantId) return undefined;
  const recorded = await grantPrincipal(db, grantId, cache);
  if (!recorded?.delegationId) return undefined;
  const option = (await actingOptions(db, accountId)).find((o) => o.delegationId === recorded.delegationId);
  if (!option) throw new errors.InvalidGrant('the delegation has ended');
  return { ...option, claim: { producer_number: option.producerNumber, producer_name: option.producerName, permissions: [...option.permissions] } };
}

/**
 * Private claim of JWT access tokens issued for a signed-in person: the id of the oidc-provider
 * Grant the token was issued under. The IdP's own APIs (src/api) answer only while that grant
 * exists, so whatever ends the grant (Sign out of the others, a password change or reset, a
 * disabled account, a Service Desk sign-out, a removed delegate; src/oidc/revocation.ts) also ends
 * the JWTs already issued, without waiting for their expiry.
 */
export const GRANT_ID_CLAIM = 'gid';

/**
 * The `delegation` claim of a JWT access token: {@link DelegationClaim} plus `id`, the delegation
 * the grant acts under. An API accepts the token only while that very delegation is active (a
 * delegate removed and invited again has a new delegation, so their old tokens stay refused).
 */
export interface AccessTokenDelegationClaim extends DelegationClaim {
  id: string;
}

/**
 * oidc-provider's JWT access-token customizer (RFC 9068): a token of a grant acting under a
 * delegation names the producer as `sub` and the delegate as the acting party,
 * `act: { sub: <delegate> }` (RFC 8693 §4.1), plus `delegation` ({@link AccessTokenDelegationClaim},
 * with the delegation's `id`). Tokens of the person acting for themselves keep their `sub`. Every
 * token of a grant also carries {@link GRANT_ID_CLAIM} (`gid`); client_credentials tokens are
 * unchanged.
 * @throws errors.InvalidGrant when the delegation is no longer usable.
 */
export function jwtAccessTokenCustomizer(db: Kysely<Database>, cache?: PrincipalCache) {
  return async (_ctx: unknown, token: { grantId?: string; accountId?: string }, jwt: { payload: Record<string, unknown> }) => {
    if (!token.accountId || !token.grantId) return;
    jwt.payload[GRANT_ID_CLAIM] = token.grantId;
    const delegation = await delegationOfGrant(db, token.grantId, token.accountId, cache);
    if (!delegation) return;
    jwt.payload.sub = delegation.producerAccountId;
    jwt.payload.act = { sub: token.accountId };
    jwt.payload.delegation = { id: delegation.delegationId, ...delegation.claim } satisfies AccessTokenDelegationClaim;
  };
}
