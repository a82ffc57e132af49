import type Router from '@koa/router';
import { findAccountById, isActive, type Account } from '../db/repositories/accounts.ts';
import { actingOption } from '../db/repositories/delegations.ts';
import type { Services } from '../services.ts';
import { AccessTokenVerifier, answerBearerError, BearerError } from './bearer.ts';
import { producerHierarchy } from './hierarchy.ts';

/** The scope of `GET /api/producers/me/hierarchy`. */
export const HIERARCHY_SCOPE = 'hierarchy:read';

/**
 * The IdP's producer API (README "Home › My Hierarchy"), for relying parties that hold an RFC 9068
 * JWT access token for the resource PRODUCER_API_RESOURCE:
 * - `GET /api/producers/me/hierarchy?offset=0&limit=50` (scope `hierarchy:read`): the signed-in
 *   producer's upline and a page of the downline ({@link producerHierarchy}); `limit` 1 to 200.
 * Refusals follow RFC 6750 §3 (401 `invalid_token`, 403 `insufficient_scope`, with
 * `WWW-Authenticate`); an account that may no longer sign in is `invalid_token`; bad paging is 400
 * `invalid_request`.
 *
 * A delegate's token (issue 14: `sub` the producer, `act.sub` the delegate, RFC 8693 §4.1,
 * `delegation.id` the delegation it was issued under) is answered for the producer only while that
 * very delegation is active (else 401 `invalid_token`; a delegate removed and invited again has a
 * new delegation, so old tokens stay refused) and grants View My Hierarchy (else 403
 * `insufficient_scope`); checked on every request, so a removal takes effect at once even for JWTs
 * already issued.
 */
export function apiRoutes(router: Router, services: Services): void {
  const { config, db } = services;
  const verifier = new AccessTokenVerifier(db, config.ISSUER, config.SIGNING_KEYS_ENCRYPTION_KEY || undefined, services.clock, services.changes);
  router.get('/api/producers/me/hierarchy', async (ctx) => {
    try {
      const claims = await verifier.verify(ctx, config.PRODUCER_API_RESOURCE, HIERARCHY_SCOPE);
      if (typeof claims.sub !== 'string') throw new BearerError(401, 'invalid_token', 'the access token is not for a signed-in producer');
      const account = await principalOf(services, claims.sub, (claims as { act?: unknown }).act, (claims as { delegation?: unknown }).delegation);
      const offset = ctx.query.offset === undefined ? 0 : Number(ctx.query.offset);
      const limit = ctx.query.limit === undefined ? 50 : Number(ctx.query.limit);
      if (!Number.isInteger(offset) || offset < 0 || offset > 1_000_000 || !Number.isInteger(limit) || limit < 1 || limit > 200) {
        ctx.status = 400;
        ctx.body = { error: 'invalid_request', error_description: 'offset must be a whole number ≥ 0 and limit a whole number from 1 to 200' };
        return;
      }
      const hierarchy = await producerHierarchy(db, account.producerNumber!, { offset, limit });
      ctx.set('Cache-Control', 'no-store');
      ctx.body = hierarchy;
    } catch (err) {
      if (!(err instanceof BearerError)) throw err;
      answerBearerError(ctx, err, HIERARCHY_SCOPE);
    }
  });
}

/**
 * The producer a hierarchy request answers for: the token's `sub`, a producer's account that may
 * sign in; with an `act` claim (RFC 8693 §4.1), its `sub` must be an account that may sign in, and
 * the token's `delegation.id` (src/oidc/delegation.ts) must name a delegation of that producer to
 * that person which is active now (the producer's record and account active) and gives
 * `view_hierarchy`.
 * @throws BearerError 401 `invalid_token` or 403 `insufficient_scope`.
 */
async function principalOf(services: Services, sub: string, act: unknown, delegationClaim: unknown): Promise<Account> {
  const { db } = services;
  const usable = (a: Account | undefined): a is Account => !!a && isActive(a) && !!a.emailVerifiedAt;
  const account = await findAccountById(db, sub);
  if (!usable(account)) throw new BearerError(401, 'invalid_token', 'the account may not sign in');
  if (account.producerNumber === null) throw new BearerError(401, 'invalid_token', 'the access token is not for a producer');
  if (act === undefined) return account;
  const actor = typeof act === 'object' && act !== null && typeof (act as { sub?: unknown }).sub === 'string' ? (act as { sub: string }).sub : undefined;
  if (!actor || !usable(await findAccountById(db, actor))) throw new BearerError(401, 'invalid_token', 'the acting party may not sign in');
  const delegationId = typeof delegationClaim === 'object' && delegationClaim !== null ? (delegationClaim as { id?: unknown }).id : undefined;
  if (typeof delegationId !== 'string' || delegationId.length === 0 || delegationId.length > 100) throw new BearerError(401, 'invalid_token', 'the access token names no delegation');
  const delegation = await actingOption(db, actor, delegationId);
  if (!delegation || delegation.producerAccountId !== account.id) throw new BearerError(401, 'invalid_token', 'the delegation is no longer active');
  if (!delegation.permissions.includes('view_hierarchy')) throw new BearerError(403, 'insufficient_scope', 'the delegate may not view the hierarchy (View My Hierarchy)');
  return account;
}
