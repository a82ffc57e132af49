import type { Kysely } from 'kysely';
import type { ChangeFeed } from '../db/change-feed.ts';
import { errors } from 'oidc-provider';
import { deleteResourceServer, resourceServerRow, resourceServerRows, resourceServerScopes, upsertResourceServer, type ResourceServerRow } from '../db/repositories/resource-servers.ts';
import type { Database } from '../db/schema.ts';

/** Default lifetime of an access token for a resource server, seconds (1 hour). */
export const DEFAULT_RESOURCE_TOKEN_TTL = 3600;
/** Bounds of `--access-token-ttl`, seconds (1 minute to 1 day). */
export const RESOURCE_TOKEN_TTL_BOUNDS = { min: 60, max: 86400 } as const;

/** A registered resource server (RFC 8707 §2: the `resource` a client may ask a token for). */
export interface ResourceServer {
  identifier: string;
  scopes: string[];
  /** Access-token lifetime, seconds. */
  accessTokenTtl: number;
  createdAt: Date;
}

/** Thrown for an invalid resource definition; `message` says which rule. */
export class InvalidResourceError extends Error {}

/** A scope token (RFC 6749 §3.3: printable ASCII except space, `"` and `\`). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,100}$/;

/**
 * Checks a resource definition: the identifier is an absolute https URI (http only on loopback
 * hosts) without fragment (RFC 8707 §2), at most 2000 characters; 1 to 50 scopes, each a scope token,
 * none of them `openid` or `offline_access` (an API scope is never an OpenID Connect scope); the
 * lifetime within {@link RESOURCE_TOKEN_TTL_BOUNDS}.
 * @throws InvalidResourceError naming the rule.
 */
export function checkResource(identifier: string, scopes: string[], ttl?: number): void {
  let url: URL;
  try {
    url = new URL(identifier);
  } catch {
    throw new InvalidResourceError(`${identifier} is not an absolute URI`);
  }
  if (identifier.length > 2000) throw new InvalidResourceError('a resource identifier has at most 2000 characters');
  if (identifier.includes('#')) throw new InvalidResourceError(`${identifier}: a resource identifier must not have a fragment (RFC 8707 §2)`);
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) throw new InvalidResourceError(`${identifier}: use https (http only for localhost, 127.0.0.1, [::1])`);
  if (url.username || url.password) throw new InvalidResourceError(`${identifier}: user information is not allowed`);
  if (scopes.length === 0 || scopes.length > 50) throw new InvalidResourceError('give 1 to 50 scopes');
  for (const s of scopes) {
    if (!SCOPE_TOKEN.test(s)) throw new InvalidResourceError(`${JSON.stringify(s)} is not a valid scope (RFC 6749 §3.3)`);
    if (s === 'openid' || s === 'offline_access') throw new InvalidResourceError(`${s} is an OpenID Connect scope, not an API scope`);
  }
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < RESOURCE_TOKEN_TTL_BOUNDS.min || ttl > RESOURCE_TOKEN_TTL_BOUNDS.max)) {
    throw new InvalidResourceError(`the access-token lifetime must be a whole number of seconds from ${RESOURCE_TOKEN_TTL_BOUNDS.min} to ${RESOURCE_TOKEN_TTL_BOUNDS.max}`);
  }
}

/**
 * Registers (or replaces) a resource server. A running IdP serves it on the next request (it reads
 * resource servers from the database per request).
 * @param ttl access-token lifetime, seconds (default {@link DEFAULT_RESOURCE_TOKEN_TTL}).
 * @throws InvalidResourceError (nothing stored).
 */
export async function addResource(db: Kysely<Database>, identifier: string, scopes: string[], ttl?: number): Promise<ResourceServer> {
  const unique = [...new Set(scopes)];
  checkResource(identifier, unique, ttl);
  return toResource(await upsertResourceServer(db, identifier, unique.join(' '), ttl ?? null));
}

/** Every resource server, by identifier. */
export async function listResources(db: Kysely<Database>): Promise<ResourceServer[]> {
  return (await resourceServerRows(db)).map(toResource);
}

/** Removes a resource server (tokens already issued stay valid until they expire). @returns false when unknown. */
export async function removeResource(db: Kysely<Database>, identifier: string): Promise<boolean> {
  return deleteResourceServer(db, identifier);
}

/** One resource server, or undefined. */
export async function findResource(db: Kysely<Database>, identifier: string): Promise<ResourceServer | undefined> {
  if (typeof identifier !== 'string' || identifier.length > 2000 || identifier.includes('\u0000')) return undefined;
  const row = await resourceServerRow(db, identifier);
  return row ? toResource(row) : undefined;
}

function toResource(row: ResourceServerRow): ResourceServer {
  return {
    identifier: row.identifier,
    scopes: row.scope.split(' ').filter(Boolean),
    accessTokenTtl: row.access_token_ttl ?? DEFAULT_RESOURCE_TOKEN_TTL,
    createdAt: new Date(row.created_at),
  };
}

/**
 * oidc-provider's `features.resourceIndicators` (RFC 8707) over the `resource_servers` table: a
 * registered resource gets JWT access tokens per RFC 9068 (`typ: at+jwt`, `aud` = the resource,
 * `scope`, `client_id`, `sub`), signed ES256 with the published keys, living the resource's
 * lifetime; an unknown resource is `invalid_target` (RFC 8707 §2). Read from the database on every
 * request, so `resources add` takes effect on running replicas at once. Without `resource`,
 * access tokens stay opaque (userinfo).
 */
export function resourceIndicatorsFeature(db: Kysely<Database>) {
  return {
    enabled: true,
    defaultResource: async (_ctx: unknown, _client: unknown, oneOf?: string | string[]) => oneOf,
    getResourceServerInfo: async (_ctx: unknown, indicator: string) => {
      const resource = await findResource(db, indicator);
      if (!resource) throw new errors.InvalidTarget(`${indicator} is not a registered resource`);
      return {
        scope: resource.scopes.join(' '),
        audience: resource.identifier,
        accessTokenTTL: resource.accessTokenTtl,
        accessTokenFormat: 'jwt' as const,
        jwt: { sign: { alg: 'ES256' } },
      };
    },
  };
}

/** How long the API scopes known to a running provider may lag behind the database, milliseconds. */
export const SCOPE_REFRESH_MS = 1000;

/**
 * The provider's `scopes` (a Set oidc-provider keeps and consults): the OpenID Connect scopes, plus
 * the scopes of every registered resource server, re-read from the database when it tells that
 * `resource_servers` changed (the change feed, src/db/change-feed.ts), or — while the feed is not
 * live — at most every {@link SCOPE_REFRESH_MS} (before each request, see {@link scopeRefresher}). This is what lets a
 * client's `scope` metadata name API scopes, lets `clients add --scope` and RFC 7591 registration
 * check them, and lets a running IdP use a resource added by `resources add` without a restart.
 */
export class ScopeRegistry {
  set: Set<string>;
  readonly #statics: Set<string>;
  readonly #db: Kysely<Database>;
  #added = new Set<string>();
  #at = 0;
  readonly #feed: ChangeFeed | undefined;
  /** True once read while the feed was live, until the feed says the table changed or resets. */
  #current = false;
  /** Changes (and resets) told by the feed so far. */
  #changes = 0;

  constructor(db: Kysely<Database>, statics: readonly string[], feed?: ChangeFeed) {
    this.#db = db;
    this.#statics = new Set(statics);
    this.set = new Set(statics);
    this.#feed = feed;
    feed?.subscribe((change) => {
      if (change === 'reset' || change.table === 'resource_servers') {
        this.#current = false;
        this.#changes++;
      }
    });
  }

  /**
   * Works on the provider's own Set from now on: oidc-provider copies the configured `scopes` when
   * it builds its configuration, so the registry must be bound to that copy after construction.
   */
  bind(set: Set<string>): void {
    for (const s of this.set) set.add(s);
    this.set = set;
  }

  /** Re-reads the API scopes (unless read less than SCOPE_REFRESH_MS ago and not `force`). */
  async refresh(force = false): Promise<void> {
    if (!force && this.#current && this.#feed?.live) return;
    if (!force && Date.now() - this.#at < SCOPE_REFRESH_MS) return;
    const live = this.#feed?.live ?? false;
    const changes = this.#changes;
    this.#current = false;
    // Also after a failure (database outage): at most one attempt per SCOPE_REFRESH_MS, so requests
    // do not each wait for an unreachable database here before their own 503.
    this.#at = Date.now();
    const scopes = await resourceServerScopes(this.#db);
    const next = new Set(scopes.flatMap((s) => s.split(' ').filter(Boolean)));
    for (const s of this.#added) if (!next.has(s) && !this.#statics.has(s)) this.set.delete(s);
    for (const s of next) this.set.add(s);
    this.#added = next;
    this.#at = Date.now();
    // Current unless a change (or a reset) arrived while reading.
    this.#current = live && (this.#feed?.live ?? false) && changes === this.#changes;
  }
}

const registries = new WeakMap<object, ScopeRegistry>();

/** Remembers the registry of a provider (for {@link refreshScopes}). */
export function attachScopeRegistry(provider: object, registry: ScopeRegistry): void {
  registries.set(provider, registry);
}

/** Brings the provider's scopes up to date with the database now. */
export async function refreshScopes(provider: object): Promise<void> {
  await registries.get(provider)?.refresh(true);
}

/** Koa middleware for the provider: refreshes the API scopes before a request (at most every second). */
export function scopeRefresher(registry: ScopeRegistry) {
  return async (_ctx: unknown, next: () => Promise<unknown>) => {
    // A database outage keeps the scopes last read (the request itself gets its 503 further on).
    await registry.refresh().catch(() => undefined);
    await next();
  };
}
