import type { Kysely } from 'kysely';
import { errors } from 'oidc-provider';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { isDatabaseUnavailable } from '../db/availability.ts';
import type { ReadCache } from '../db/change-feed.ts';
import { consumePayload, deletePayload, deletePayloadsOfGrant, findPayloadRow, upsertPayload } from '../db/repositories/oidc-payloads.ts';
import type { Database } from '../db/schema.ts';
import { withHashedSecret } from './client-auth.ts';

/**
 * Turns a database outage into the OAuth error `temporarily_unavailable` (RFC 6749 §4.1.2.1) with
 * HTTP status 503, so oidc-provider answers clients in the protocol's own format (or redirects it
 * to the relying party) instead of `server_error`. Other errors pass unchanged.
 */
export function asTemporarilyUnavailable(err: unknown): unknown {
  if (!isDatabaseUnavailable(err)) return err;
  const out = new errors.TemporarilyUnavailable('the service is temporarily unavailable, try again later', { cause: err as Error });
  Object.assign(out, { status: 503, statusCode: 503 });
  return out;
}

/** Runs `op`, rethrowing a database outage as {@link asTemporarilyUnavailable}. */
export async function guardOutage<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw asTemporarilyUnavailable(err);
  }
}

/** Models whose rows are looked up by grant id when a grant is revoked. */
const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest',
]);

/**
 * Builds oidc-provider's adapter class over PostgreSQL: one table (`oidc_payloads`) keyed by
 * (model, id) holds every model (sessions, interactions, codes, tokens, grants, clients), with an
 * expiry that every read honours.
 *
 * Consumption is atomic: `consume` marks the row only if it was not consumed yet, in one UPDATE; a
 * second, even parallel, consumer gets `invalid_grant` (RFC 6749 §4.1.2: a code is single-use).
 * Clients (model `Client`, read several times per sign-in) are served from `clientCache` when given:
 * a {@link ReadCache} over the change feed, so a change by any process (CLI, RFC 7591 registration,
 * another replica) drops the entry at its commit; this process's own writes drop it at once.
 * Source: oidc-provider's adapter interface (docs/README "adapter").
 */
// long-function: the body is one class, oidc-provider's adapter interface (one short method per operation).
export function createAdapterClass(db: Kysely<Database>, clientCache?: ReadCache<AdapterPayload | undefined>): new (model: string) => Adapter {
  return class PostgresAdapter implements Adapter {
    readonly model: string;
    constructor(model: string) {
      this.model = model;
    }

    upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      return guardOutage(() => this.#upsert(id, payload, expiresIn));
    }

    async #upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      // Client secrets are stored hashed (src/oidc/client-auth.ts), also for RFC 7591 registrations.
      const json = JSON.stringify(this.model === 'Client' ? withHashedSecret(payload as Record<string, unknown>) : payload);
      // PostgreSQL text and jsonb cannot hold U+0000: a request parameter carrying one is refused
      // as invalid_request (400) instead of failing the INSERT (500).
      if (json.includes('\\u0000')) throw new errors.InvalidRequest('request parameters must not contain NUL characters');
      const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
      const row = {
        model: this.model,
        id,
        payload: json,
        grant_id: GRANTABLE.has(this.model) ? (payload.grantId ?? null) : null,
        user_code: payload.userCode ?? null,
        uid: payload.uid ?? null,
        expires_at: expiresAt,
      };
      if (this.model === 'Client') clientCache?.delete(id);
      await upsertPayload(db, row);
      if (this.model === 'Client') clientCache?.delete(id);
    }

    async #findBy(column: 'id' | 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined> {
      if (typeof value !== 'string' || value.includes('\u0000') || value.length > 1000) return undefined; // cannot exist
      const row = await findPayloadRow(db, this.model, column, value);
      if (!row) return undefined;
      if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) return undefined;
      const payload = row.payload as AdapterPayload;
      return row.consumedAt ? { ...payload, consumed: Math.floor(row.consumedAt.getTime() / 1000) } : payload;
    }

    find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client' && clientCache && typeof id === 'string') {
        // A copy each time: oidc-provider must not change what the next request reads.
        return guardOutage(() => clientCache.get(id, () => this.#findBy('id', id))).then((p) => (p ? structuredClone(p) : p));
      }
      return guardOutage(() => this.#findBy('id', id));
    }

    findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return guardOutage(() => this.#findBy('uid', uid));
    }

    findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return guardOutage(() => this.#findBy('user_code', userCode));
    }

    consume(id: string): Promise<void> {
      return guardOutage(() => this.#consume(id));
    }

    async #consume(id: string): Promise<void> {
      if (id.includes('\u0000')) throw new errors.InvalidGrant(`${this.model} not found`);
      if (!(await consumePayload(db, this.model, id))) {
        throw new errors.InvalidGrant(`${this.model} already consumed`);
      }
    }

    async destroy(id: string): Promise<void> {
      if (id.includes('\u0000')) return;
      if (this.model === 'Client') clientCache?.delete(id);
      await guardOutage(() => deletePayload(db, this.model, id));
      if (this.model === 'Client') clientCache?.delete(id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await guardOutage(() => deletePayloadsOfGrant(db, this.model, grantId));
    }
  };
}
