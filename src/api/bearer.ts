import type { ChangeFeed } from '../db/change-feed.ts';
import type { Context } from 'koa';
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JWK, type JWTPayload } from 'jose';
import type { Kysely } from 'kysely';
import { openPrivateJwk } from '../oidc/keys.ts';
import { publishedKeys } from '../db/repositories/signing-keys.ts';
import { grantIsLive } from '../db/repositories/oidc-payloads.ts';
import { GRANT_ID_CLAIM } from '../oidc/delegation.ts';
import type { Database } from '../db/schema.ts';
import { systemClock, type Clock } from '../clock.ts';

/** Private members of a JWK that never leave the key store (RFC 7517 §9.3, RFC 7518 §6). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** How long the verification keys are kept before they are read again, milliseconds (rotation reaches APIs within this). */
export const KEY_CACHE_MS = 30_000;

/** An RFC 6750 refusal: status, `error` and description for the WWW-Authenticate header and body. */
export class BearerError extends Error {
  readonly status: number;
  readonly error: 'invalid_request' | 'invalid_token' | 'insufficient_scope';
  constructor(status: 401 | 403 | 400, error: BearerError['error'], description: string) {
    super(description);
    this.status = status;
    this.error = error;
  }
}

/**
 * Verifies access tokens for one of the IdP's own APIs: JWT access tokens per RFC 9068 (header
 * `typ: at+jwt`, signed with a published signing key — current or previous —, `iss` = ISSUER,
 * `aud` containing the resource, not expired, `scope` containing the required scope). Keys are read
 * from the signing-key table (public parts only) and cached {@link KEY_CACHE_MS}, and dropped at
 * once when the change feed says `signing_keys` changed (a key retired by any process is refused
 * from its commit); an unknown `kid` reads them again once (a key rotated a moment ago). A token for a signed-in person (with `sub`)
 * must also name, in `gid` (src/oidc/delegation.ts GRANT_ID_CLAIM), a grant that still exists: a
 * token whose grant was ended (sign-out of other sessions, password change or reset, account
 * disabled, Service Desk sign-out, delegate removed) is refused before its expiry.
 */
export class AccessTokenVerifier {
  readonly #db: Kysely<Database>;
  readonly #issuer: string;
  readonly #secret: string | undefined;
  readonly #clock: Clock;
  #keys: { at: number; set: ReturnType<typeof createLocalJWKSet> } | undefined;

  /**
   * @param clock the clock a grant's expiry is judged by (the IdP's injectable clock).
   * @param changes the database's change feed: a change of `signing_keys` (or a reset) drops the cached keys.
   */
  constructor(db: Kysely<Database>, issuer: string, encryptionSecret: string | undefined, clock: Clock = systemClock, changes?: ChangeFeed) {
    this.#db = db;
    this.#issuer = issuer;
    this.#secret = encryptionSecret;
    this.#clock = clock;
    changes?.subscribe((change) => {
      if (change === 'reset' || change.table === 'signing_keys') this.#keys = undefined;
    });
  }

  async #keySet(fresh: boolean) {
    if (!fresh && this.#keys && Date.now() - this.#keys.at < KEY_CACHE_MS) return this.#keys.set;
    const rows = await publishedKeys(this.#db);
    const keys = rows.map((r) => {
      const jwk = { ...openPrivateJwk(r.privateJwk, r.kid, this.#secret) } as Record<string, unknown>;
      for (const m of PRIVATE_MEMBERS) delete jwk[m];
      return jwk as JWK;
    });
    this.#keys = { at: Date.now(), set: createLocalJWKSet({ keys }) };
    return this.#keys.set;
  }

  /**
   * The verified claims of the `Authorization: Bearer` token of `ctx` (RFC 6750 §2.1).
   * @param resource the API's resource identifier (its tokens' `aud`, RFC 8707)
   * @param scope the scope the route needs
   * @throws BearerError 401 `invalid_request` without a bearer token, 401 `invalid_token` for a
   *   token that is not valid for this API (also: a token with `sub` whose `gid` names no live
   *   grant), 403 `insufficient_scope` without the scope.
   */
  async verify(ctx: Context, resource: string, scope: string): Promise<JWTPayload & { sub?: string; scope?: string; client_id?: string }> {
    const header = ctx.get('authorization');
    const m = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/.exec(header);
    if (!m) throw new BearerError(401, 'invalid_request', 'a Bearer access token is required');
    let payload: JWTPayload;
    const options = { issuer: this.#issuer, audience: resource, typ: 'at+jwt', algorithms: ['ES256', 'RS256'], requiredClaims: ['exp', 'iat', 'client_id'] };
    try {
      ({ payload } = await jwtVerify(m[1]!, await this.#keySet(false), options));
    } catch (err) {
      if (err instanceof joseErrors.JWKSNoMatchingKey) {
        try {
          ({ payload } = await jwtVerify(m[1]!, await this.#keySet(true), options));
        } catch {
          throw new BearerError(401, 'invalid_token', 'the access token is not valid for this API');
        }
      } else {
        throw new BearerError(401, 'invalid_token', err instanceof joseErrors.JWTExpired ? 'the access token expired' : 'the access token is not valid for this API');
      }
    }
    if (payload.sub !== undefined) {
      // RFC 6750 §3.1: a token that was revoked is `invalid_token`.
      const gid = payload[GRANT_ID_CLAIM];
      // A client's own token (client_credentials: `sub` is its client_id, no grant) names no person.
      if (typeof gid !== 'string') throw new BearerError(401, 'invalid_token', payload.sub === payload.client_id ? 'the access token names no signed-in person' : 'the access token is not valid for this API');
      if (!(await grantIsLive(this.#db, gid, this.#clock.now()))) throw new BearerError(401, 'invalid_token', 'the access token was revoked');
    }
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
    if (!scopes.includes(scope)) throw new BearerError(403, 'insufficient_scope', `the access token lacks the ${scope} scope`);
    return payload as JWTPayload & { sub?: string; scope?: string; client_id?: string };
  }
}

/** Answers an RFC 6750 refusal: status, `WWW-Authenticate: Bearer …` and a JSON body. */
export function answerBearerError(ctx: Context, err: BearerError, scope: string): void {
  ctx.status = err.status;
  // RFC 6750 §3.1: a request without a token gets no error code in the challenge.
  const parts = err.error === 'invalid_request' ? [] : [`error="${err.error}"`, `error_description="${err.message.replace(/"/g, "'")}"`];
  if (err.error === 'insufficient_scope') parts.push(`scope="${scope}"`);
  ctx.set('WWW-Authenticate', parts.length ? `Bearer ${parts.join(', ')}` : 'Bearer');
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error: err.error, error_description: err.message };
}
