import type Router from '@koa/router';
import { findAccountById, isActive } from '../db/repositories/accounts.ts';
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
 */
export function apiRoutes(router: Router, services: Services): void {
  const { config, db } = services;
  const verifier = new AccessTokenVerifier(db, config.ISSUER, config.SIGNING_KEYS_ENCRYPTION_KEY || undefined);
  router.get('/api/producers/me/hierarchy', async (ctx) => {
    try {
      const claims = await verifier.verify(ctx, config.PRODUCER_API_RESOURCE, HIERARCHY_SCOPE);
      if (typeof claims.sub !== 'string') throw new BearerError(401, 'invalid_token', 'the access token is not for a signed-in producer');
      const account = await findAccountById(db, claims.sub);
      if (!account || !isActive(account) || !account.emailVerifiedAt) throw new BearerError(401, 'invalid_token', 'the account may not sign in');
      const offset = ctx.query.offset === undefined ? 0 : Number(ctx.query.offset);
      const limit = ctx.query.limit === undefined ? 50 : Number(ctx.query.limit);
      if (!Number.isInteger(offset) || offset < 0 || offset > 1_000_000 || !Number.isInteger(limit) || limit < 1 || limit > 200) {
        ctx.status = 400;
        ctx.body = { error: 'invalid_request', error_description: 'offset must be a whole number ≥ 0 and limit a whole number from 1 to 200' };
        return;
      }
      const hierarchy = await producerHierarchy(db, account.producerNumber, { offset, limit });
      ctx.set('Cache-Control', 'no-store');
      ctx.body = hierarchy;
    } catch (err) {
      if (!(err instanceof BearerError)) throw err;
      answerBearerError(ctx, err, HIERARCHY_SCOPE);
    }
  });
}
