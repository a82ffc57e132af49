import type { Account as OidcAccount, FindAccount } from 'oidc-provider';
import { findAccountById, isActive, type Account } from '../db/repositories/accounts.ts';
import { oncePerRequest } from '../request-memo.ts';
import type { Services } from '../services.ts';
import { delegationOfGrant } from './delegation.ts';

/** Which claims each scope releases (OIDC Core §5.4, plus the `producer` scope). */
export const CLAIMS_BY_SCOPE = {
  // `delegation` (issue 14) rides on openid like acr/amr: every ID token of a delegate says for whom
  // they act, so no relying party can take a delegate for the producer by not asking for a scope.
  openid: ['sub', 'acr', 'amr', 'auth_time', 'delegation'],
  profile: ['name', 'given_name', 'family_name'],
  email: ['email', 'email_verified'],
  phone: ['phone_number'],
  producer: ['producer_number', 'npn', 'agency_name'],
} as const;

/**
 * The claims of an account (OIDC Core §5.1). oidc-provider releases only those of the granted scopes.
 * `phone_number` is the E.164 mobile number of the producer record, when there is one. A delegate's
 * account (issue 14) has no producer claims (`producer_number`, `npn`, `agency_name`): its names
 * and email are the person's own, so a delegate can never pass for a producer.
 */
export function accountClaims(a: Account): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    sub: a.id,
    name: `${a.producer.firstName} ${a.producer.lastName}`,
    given_name: a.producer.firstName,
    family_name: a.producer.lastName,
    email: a.producer.email,
    email_verified: a.emailVerifiedAt !== null,
  };
  if (a.kind === 'delegate') return claims;
  claims.producer_number = a.producerNumber;
  claims.npn = a.producer.npn;
  claims.agency_name = a.producer.agencyName;
  if (a.producer.mobilePhone) claims.phone_number = a.producer.mobilePhone;
  return claims;
}

/**
 * The account `id` as read once per request (issue 12): the interaction policy's checks and
 * oidc-provider's `findAccount` share the read, keyed by the request's context `ctx`. Only for
 * requests that do not change the account before reading it again.
 */
export function accountOfRequest(db: Services['db'], ctx: object, id: string): Promise<Account | undefined> {
  return oncePerRequest(ctx, `account:${id}`, () => findAccountById(db, id));
}

/**
 * oidc-provider's `findAccount` (used by refresh, userinfo, introspection, ID token issuance): the
 * account by `sub`, or undefined when it no longer exists OR may not sign in (account disabled,
 * producer record inactive, email not confirmed — the rules of the sign-in page). oidc-provider
 * then answers `invalid_grant` to a refresh grant (RFC 6749 §5.2) and `invalid_token` at userinfo
 * (RFC 6750 §3.1). Issue 9 item 3.
 */
export function createFindAccount(services: Pick<Services, 'db' | 'caches'>): FindAccount {
  return async (ctx, sub, token): Promise<OidcAccount | undefined> => {
    const account = await accountOfRequest(services.db, ctx, sub);
    if (!account || !isActive(account) || !account.emailVerifiedAt) return undefined;
    // Issue 14: the grant of the token (or of the code being redeemed) says whom the person works for.
    const grantId = (token as { grantId?: string } | undefined)?.grantId ?? (ctx?.oidc?.entities as { Grant?: { jti: string } } | undefined)?.Grant?.jti;
    return {
      accountId: account.id,
      claims: async () => {
        const claims = accountClaims(account);
        const delegation = await delegationOfGrant(services.db, grantId, account.id, services.caches.grantPrincipals);
        if (delegation) claims.delegation = delegation.claim;
        return claims as { sub: string };
      },
    };
  };
}
