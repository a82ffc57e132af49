/**
 * The portal's side of OpenID Connect: discovery, the authorization request, the callback and
 * RP-initiated logout, all through openid-client v6. The portal never talks to the IdP's database.
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';

import type { PendingSignIn, SignedInUser } from './session.ts';

/** Scopes the portal asks for; `producer` carries producer_number, npn and agency_name. */
export const PORTAL_SCOPES = 'openid profile email phone producer';

export interface RelyingPartyOptions {
  /** Issuer identifier of the IdP, e.g. `https://idp.example.com`. */
  issuer: URL;
  clientId: string;
  /** Client secret, sent with HTTP Basic (client_secret_basic, RFC 6749 §2.3.1). */
  clientSecret: string;
  /** Absolute redirect URI registered at the IdP: portalUrl + '/callback'. */
  redirectUri: string;
  /** Absolute post-logout redirect URI registered at the IdP: portalUrl + '/logged-out'. */
  postLogoutRedirectUri: string;
  /** Allow plain-http calls to the IdP (development and tests only). */
  allowInsecureRequests: boolean;
  /**
   * The IdP's producer API (My Hierarchy): its resource indicator (RFC 8707) and the scope asked for
   * it. When set, sign-in asks for it and keeps a JWT access token for it (RFC 9068).
   */
  api?: { resource: string; scope: string };
  /** Scopes asked at sign-in (space-separated). Default {@link PORTAL_SCOPES}. */
  scope?: string;
}

/** The API access token kept for a signed-in user, and how to renew it. */
export interface ApiGrant {
  accessToken: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  refreshToken: string;
}

/** Result of {@link RelyingParty.startSignIn}. */
export interface SignInStart {
  /** Where to send the browser (the IdP's authorization endpoint with all parameters). */
  url: URL;
  /** What to remember in the portal session until the callback. */
  pending: PendingSignIn;
}

/** Thrown when the IdP could not be reached or its discovery document is unusable. */
export class IdpUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'IdpUnavailableError';
  }
}

/**
 * Lazily discovered, cached openid-client configuration for one IdP and one client.
 * A failed discovery is not cached: the next call tries again.
 */
export class RelyingParty {
  readonly #options: RelyingPartyOptions;
  #config: Promise<client.Configuration> | undefined;

  constructor(options: RelyingPartyOptions) {
    this.#options = options;
  }

  /**
   * Returns the client configuration, fetching `issuer + /.well-known/openid-configuration` on first
   * use (OpenID Connect Discovery 1.0 §4) and caching it for the life of the process.
   * @throws IdpUnavailableError when the discovery request fails (not cached; retried next call).
   */
  async configuration(): Promise<client.Configuration> {
    if (!this.#config) {
      const o = this.#options;
      const attempt = client
        .discovery(o.issuer, o.clientId, undefined, client.ClientSecretBasic(o.clientSecret), {
          execute: o.allowInsecureRequests ? [client.allowInsecureRequests] : [],
          timeout: 10,
        })
        .catch((err: unknown) => {
          if (this.#config === attempt) this.#config = undefined;
          throw new IdpUnavailableError(`OpenID Connect discovery failed for ${o.issuer.href}`, { cause: err });
        });
      this.#config = attempt;
    }
    return this.#config;
  }

  /**
   * Builds an authorization request: authorization code flow with PKCE S256, `state` and `nonce`
   * (OpenID Connect Core 1.0 §3.1.2.1; RFC 7636 §4.3).
   * @param returnTo local path to return to after sign-in (already validated by the caller).
   * @param now epoch milliseconds, recorded in the pending sign-in.
   * @throws IdpUnavailableError when discovery fails.
   */
  async startSignIn(returnTo: string, now: number): Promise<SignInStart> {
    const config = await this.configuration();
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const api = this.#options.api;
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.#options.redirectUri,
      scope: [this.#options.scope ?? PORTAL_SCOPES, ...(api ? [api.scope] : [])].join(' '),
      ...(api ? { resource: api.resource } : {}),
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url, pending: { state, nonce, codeVerifier, returnTo, startedAt: now } };
  }

  /**
   * Completes sign-in from the authorization response (OpenID Connect Core 1.0 §3.1.2.5–§3.1.3):
   * exchanges the code at the token endpoint (client_secret_basic, PKCE verifier), validates the
   * ID token (signature, iss, aud, exp, nonce) and fetches UserInfo for the same `sub` (§5.3.2).
   * @param callbackUrl the callback URL as the browser requested it, rebuilt from portalUrl (never
   *   from request headers) plus the request's query string.
   * @param pending the sign-in started with the response's `state`.
   * @param now epoch milliseconds.
   * @returns the signed-in user to keep in the session.
   * @throws client.AuthorizationResponseError when the IdP answered with `error`;
   *   client.ResponseBodyError when the token or UserInfo endpoint refused (e.g. `invalid_grant`
   *   for a replayed code); client.ClientError when a check failed (state, nonce, iss, signature);
   *   TypeError when the IdP could not be reached; IdpUnavailableError when discovery fails.
   */
  async completeSignIn(callbackUrl: URL, pending: PendingSignIn, now: number): Promise<SignedInUser> {
    const config = await this.configuration();
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: pending.codeVerifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    const idTokenClaims = tokens.claims();
    if (!idTokenClaims || !tokens.id_token) {
      // idTokenExpected makes openid-client enforce this; kept for the type checker.
      throw new TypeError('the token response carried no ID token');
    }
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, idTokenClaims.sub);
    const expiresIn = tokens.expiresIn();
    const api = tokens.refresh_token ? await this.apiGrant(tokens.refresh_token, now).catch(() => undefined) : undefined;
    return {
      sub: idTokenClaims.sub,
      claims: { ...idTokenClaims, ...userinfo },
      idToken: tokens.id_token,
      accessTokenExpiresAt: expiresIn === undefined ? undefined : now + expiresIn * 1000,
      signedInAt: now,
      ...(api ? { api } : {}),
    };
  }

  /**
   * An access token for the producer API (RFC 8707 §2.2: the refresh token grant with `resource`),
   * a JWT per RFC 9068; the userinfo access token of sign-in cannot be used there.
   * @param refreshToken the refresh token of the sign-in (or of the previous API grant)
   * @returns the API grant, or undefined when no API is configured.
   * @throws client.ResponseBodyError when the IdP refuses (e.g. `invalid_grant` after logout).
   */
  async apiGrant(refreshToken: string, now: number): Promise<ApiGrant | undefined> {
    const api = this.#options.api;
    if (!api) return undefined;
    const config = await this.configuration();
    const tokens = await client.refreshTokenGrant(config, refreshToken, { resource: api.resource });
    return {
      accessToken: tokens.access_token,
      expiresAt: now + (tokens.expiresIn() ?? 300) * 1000,
      refreshToken: tokens.refresh_token ?? refreshToken,
    };
  }

  /**
   * Builds the IdP's end-session URL (OpenID Connect RP-Initiated Logout 1.0 §2) with
   * `id_token_hint`, `post_logout_redirect_uri` and `client_id`.
   * @returns the URL, or undefined when the IdP advertises no `end_session_endpoint`.
   * @throws IdpUnavailableError when discovery fails.
   */
  async endSessionUrl(idTokenHint: string | undefined): Promise<URL | undefined> {
    const config = await this.configuration();
    if (!config.serverMetadata().end_session_endpoint) return undefined;
    const params: Record<string, string> = { post_logout_redirect_uri: this.#options.postLogoutRedirectUri };
    if (idTokenHint) params.id_token_hint = idTokenHint;
    return client.buildEndSessionUrl(config, params);
  }

  #jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  readonly #seenLogoutTokens = new Map<string, number>();

  /**
   * Validates a logout token (OpenID Connect Back-Channel Logout 1.0 §2.6): signature against the
   * IdP's `jwks_uri`, `iss`, `aud` = this client, `iat` (with `exp` when present), the
   * back-channel logout member in `events`, a `sub` or `sid`, no `nonce`, and a `jti` not seen in
   * the last 10 minutes (replay).
   * @returns the `sub` and `sid` whose sessions end.
   * @throws Error (any jose error, or a message naming the failed rule) when the token is invalid.
   */
  async validateLogoutToken(token: string, now: number): Promise<{ sub?: string; sid?: string }> {
    const config = await this.configuration();
    const meta = config.serverMetadata();
    this.#jwks ??= createRemoteJWKSet(new URL(meta.jwks_uri!));
    const { payload } = await jwtVerify(token, this.#jwks, { issuer: meta.issuer, audience: this.#options.clientId, maxTokenAge: '10m', currentDate: new Date(now) });
    const events = payload.events as Record<string, unknown> | undefined;
    if (!events || typeof events !== 'object' || !('http://schemas.openid.net/event/backchannel-logout' in events)) throw new Error('events has no back-channel logout member');
    if ('nonce' in payload) throw new Error('a logout token must not carry a nonce');
    const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
    const sid = typeof payload.sid === 'string' ? payload.sid : undefined;
    if (!sub && !sid) throw new Error('a logout token names sub or sid');
    if (typeof payload.jti !== 'string') throw new Error('a logout token has a jti');
    for (const [jti, at] of this.#seenLogoutTokens) if (now - at > 10 * 60_000) this.#seenLogoutTokens.delete(jti);
    if (this.#seenLogoutTokens.has(payload.jti)) throw new Error('logout token replayed');
    this.#seenLogoutTokens.set(payload.jti, now);
    return { sub, sid };
  }

  /** Origin of the IdP (for the CSP `form-action` directive). */
  get issuerOrigin(): string {
    return this.#options.issuer.origin;
  }
}
