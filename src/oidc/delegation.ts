import type { Kysely } from 'kysely';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { isActive, type Account } from '../db/repositories/accounts.ts';
import { actingOptions, grantPrincipal, recordGrantPrincipal, touchDelegation, type ActingOption } from '../db/repositories/delegations.ts';
import type { Database } from '../db/schema.ts';
import type { Clock } from '../clock.ts';

/**
 * The authorization parameter (registered with oidc-provider's `extraParams`) by which a client
 * names the producer the person works for: a 9-digit producer number, the person's own (a producer
 * signing in as themselves) or one of a producer who made them a delegate (issue 14 item 3). When
 * it names no producer the person may act for, the "Choose who you are working for" page is shown.
 */
export const PRODUCER_NUMBER_PARAM = 'producer_number';

/** What the "Choose who you are working for" prompt leaves in the interaction result. */
export const WORKING_FOR_RESULT = 'working_for';

/** Whom a sign-in acts for: a delegation, or (null) the person themselves as producer. */
export interface Principal {
  delegationId: string | null;
}

/** Who a person may work for: themselves (a producer's account whose record is active) and their usable delegations. */
export interface Choices {
  self: { producerNumber: string; name: string } | null;
  delegations: ActingOption[];
}

/** The choices of an account ({@link Choices}). */
export async function choicesOf(db: Kysely<Database>, account: Account): Promise<Choices> {
  const self = account.kind === 'producer' && account.producerNumber && isActive(account)
    ? { producerNumber: account.producerNumber, name: `${account.producer.firstName} ${account.producer.lastName}` }
    : null;
  return { self, delegations: await actingOptions(db, account.id) };
}

/** How many choices there are. */
export function choiceCount(c: Choices): number {
  return (c.self ? 1 : 0) + c.delegations.length;
}

/**
 * Whom the authorization request being served acts for, when it is settled: the choice made on the
 * "Choose who you are working for" page (interaction result), else the `producer_number` parameter
 * when it names one of the choices, else the only choice. undefined: the person must choose (or has
 * no choice at all).
 */
export function settledPrincipal(ctx: KoaContextWithOIDC, choices: Choices): Principal | undefined {
  const chosen = (ctx.oidc.result as Record<string, unknown> | undefined)?.[WORKING_FOR_RESULT] as Principal | undefined;
  const valid = (p: Principal | undefined) =>
    p && (p.delegationId === null ? !!choices.self : choices.delegations.some((o) => o.delegationId === p.delegationId)) ? p : undefined;
  if (chosen) return valid(chosen);
  const asked = ctx.oidc.params?.[PRODUCER_NUMBER_PARAM];
  if (typeof asked === 'string' && asked) {
    if (choices.self?.producerNumber === asked) return { delegationId: null };
    const d = choices.delegations.find((o) => o.producerNumber === asked);
    if (d) return { delegationId: d.delegationId };
  }
  if (choiceCount(choices) === 1) return { delegationId: choices.self ? null : choices.delegations[0]!.delegationId };
  return undefined;
}

/**
 * Applies the settled principal to the grant `loadExistingGrant` found (issue 14): a grant acts for
 * one principal only. When the existing grant was made for another principal, a first-party client
 * gets a new grant (returned `replace: true`), a third-party client none (consent is asked again);
 * the principal of the grant finally used is recorded ({@link recordGrantPrincipal}) and a
 * delegation's `last_active_at` set.
 * @returns whether the existing grant may be kept.
 */
export async function principalFits(db: Kysely<Database>, grantId: string | undefined, principal: Principal | undefined): Promise<boolean> {
  if (!grantId || !principal) return true;
  const recorded = await grantPrincipal(db, grantId);
  return !recorded || recorded.delegationId === principal.delegationId;
}

/** Records the principal of grant `grantId` (see {@link principalFits}); a delegation's last activity is `now`. */
export async function recordPrincipal(db: Kysely<Database>, clock: Clock, grantId: string, accountId: string, principal: Principal, ttlSeconds: number): Promise<void> {
  const now = clock.now();
  await recordGrantPrincipal(db, { grantId, accountId, delegationId: principal.delegationId, now, ttlSeconds });
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
export async function delegationOfGrant(db: Kysely<Database>, grantId: string | undefined, accountId: string): Promise<(ActingOption & { claim: DelegationClaim }) | undefined> {
  if (!grantId) return undefined;
  const recorded = await grantPrincipal(db, grantId);
  if (!recorded?.delegationId) return undefined;
  const option = (await actingOptions(db, accountId)).find((o) => o.delegationId === recorded.delegationId);
  if (!option) throw new errors.InvalidGrant('the delegation has ended');
  return { ...option, claim: { producer_number: option.producerNumber, producer_name: option.producerName, permissions: [...option.permissions] } };
}

/**
 * oidc-provider's JWT access-token customizer (RFC 9068): a token of a grant acting under a
 * delegation names the producer as `sub` and the delegate as the acting party,
 * `act: { sub: <delegate> }` (RFC 8693 §4.1), plus `delegation` ({@link DelegationClaim}).
 * Tokens of the person acting for themselves (and client_credentials tokens) are unchanged.
 * @throws errors.InvalidGrant when the delegation is no longer usable.
 */
export function jwtAccessTokenCustomizer(db: Kysely<Database>) {
  return async (_ctx: unknown, token: { grantId?: string; accountId?: string }, jwt: { payload: Record<string, unknown> }) => {
    if (!token.accountId || !token.grantId) return;
    const delegation = await delegationOfGrant(db, token.grantId, token.accountId);
    if (!delegation) return;
    jwt.payload.sub = delegation.producerAccountId;
    jwt.payload.act = { sub: token.accountId };
    jwt.payload.delegation = delegation.claim;
  };
}
