import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';

/**
 * Client authentication methods a registered client can actually use (issue 10, items 7 and 10),
 * in the order discovery lists them (`token_endpoint_auth_methods_supported`). `client_secret_jwt`
 * is not offered: it needs the secret itself at rest (HMAC key), and every other secret is stored
 * hashed ({@link hashClientSecret}).
 */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;

/** Algorithms a `private_key_jwt` client assertion may be signed with (asymmetric only; RFC 7523). */
export const CLIENT_ASSERTION_ALGS = ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA', 'Ed25519'] as const;

/** Prefix of a stored (hashed) client secret. */
const HASH_PREFIX = '$sha256$';

/** Methods whose secret is only compared, never used as a key: these secrets are stored hashed. */
const HASHABLE = new Set(['client_secret_basic', 'client_secret_post']);

/**
 * The stored form of a client secret: `$sha256$` + hex SHA-256 of the UTF-8 secret. A plain,
 * fast hash is enough because every secret the IdP issues is 256 random bits (no dictionary to try);
 * an attacker reading the database learns no usable secret. Idempotent on an already hashed value.
 */
export function hashClientSecret(secret: string): string {
  if (isHashedClientSecret(secret)) return secret;
  return digest(secret);
}

/** `$sha256$` + hex SHA-256 of any string (never the identity, even on a hash). */
function digest(secret: string): string {
  return HASH_PREFIX + createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** True when `value` is a stored hash made by {@link hashClientSecret}. */
export function isHashedClientSecret(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(HASH_PREFIX) && value.length === HASH_PREFIX.length + 64;
}

/**
 * Compares a presented secret with the stored one in constant time (hashed, or a plain secret
 * stored by a version before hashing).
 */
export function verifyClientSecret(stored: string | undefined, presented: string): boolean {
  if (typeof stored !== 'string' || typeof presented !== 'string') return false;
  const expected = Buffer.from(isHashedClientSecret(stored) ? stored : digest(stored));
  const actual = Buffer.from(digest(presented));
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * Client metadata as stored: `client_secret` hashed for `client_secret_basic` / `client_secret_post`
 * clients (the default method is `client_secret_basic`, OIDC Dynamic Client Registration §2).
 */
export function withHashedSecret<T extends Record<string, unknown>>(metadata: T): T {
  const method = (metadata.token_endpoint_auth_method as string | undefined) ?? 'client_secret_basic';
  if (typeof metadata.client_secret !== 'string' || !HASHABLE.has(method)) return metadata;
  return { ...metadata, client_secret: hashClientSecret(metadata.client_secret) };
}

/** How the current request presented a client secret, for {@link installClientAuthentication}. */
const presented = new AsyncLocalStorage<{ basic: boolean }>();

/**
 * Makes oidc-provider authenticate clients exactly as registered and against hashed secrets:
 * - oidc-provider accepts `client_secret_basic` and `client_secret_post` interchangeably; here a
 *   client registered for one gets `invalid_client` (401) with the other (RFC 6749 §2.3.1 lets the
 *   server pick; OIDC Core §9 has the client register one method);
 * - the presented secret is compared with the stored SHA-256 hash ({@link verifyClientSecret}) by
 *   replacing `Client.prototype.compareClientSecret` (the one place oidc-provider compares secrets,
 *   lib/shared/client_auth.js);
 * - RFC 7592 reads and updates never return the stored hash, and an update carrying the client's
 *   `client_secret` (RFC 7592 §2.2) is checked against the hash.
 * Install once per provider, before the provider serves requests.
 */
export function installClientAuthentication(provider: Provider): void {
  const proto = (provider.Client as unknown as { prototype: Record<string, unknown> }).prototype;
  proto.compareClientSecret = async function compareClientSecret(this: { clientAuthMethod: string; clientSecret?: string }, actual: string) {
    const how = presented.getStore();
    if (how) {
      const used = how.basic ? 'client_secret_basic' : 'client_secret_post';
      if (used !== this.clientAuthMethod) {
        throw new errors.InvalidClientAuth('the provided authentication mechanism does not match the registered client authentication method');
      }
    }
    return verifyClientSecret(this.clientSecret, actual);
  };

  provider.use(async (ctx: Context, next: Next) => {
    const registration = ctx.path.startsWith('/reg/');
    if (registration && ctx.method === 'PUT' && ctx.is('application/json')) await checkUpdateSecret(provider, ctx);
    await presented.run({ basic: ctx.headers.authorization !== undefined }, next);
    if (registration && ctx.body && typeof ctx.body === 'object' && isHashedClientSecret((ctx.body as Record<string, unknown>).client_secret)) {
      const { client_secret: _hash, ...rest } = ctx.body as Record<string, unknown>;
      ctx.body = rest;
    }
  });
}

/**
 * RFC 7592 §2.2: an update may repeat `client_secret`, which must match. oidc-provider compares it
 * with the stored value (our hash), so the body is read here: a matching secret is dropped from the
 * request (the stored one is kept), a wrong one is left for oidc-provider to refuse.
 */
async function checkUpdateSecret(provider: Provider, ctx: Context): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > 56 * 1024) throw new errors.InvalidRequest('request entity too large');
    chunks.push(chunk as Buffer);
  }
  let raw = Buffer.concat(chunks);
  try {
    const body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    if (body && typeof body === 'object' && typeof body.client_secret === 'string') {
      const client = await provider.Client.find(ctx.path.slice('/reg/'.length));
      const stored = (client as unknown as { clientSecret?: string } | undefined)?.clientSecret;
      if (isHashedClientSecret(stored) && verifyClientSecret(stored, body.client_secret)) {
        delete body.client_secret;
        raw = Buffer.from(JSON.stringify(body));
      }
    }
  } catch {
    // not JSON: oidc-provider answers invalid_request
  }
  ctx.req.headers['content-length'] = String(raw.length);
  ctx.req = Readable.from([raw], { objectMode: false }) as unknown as Context['req'];
}
