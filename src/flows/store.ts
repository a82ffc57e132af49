import type { Context } from 'koa';
import type { Kysely } from 'kysely';
import { addSeconds, type Clock } from '../clock.ts';
import type { Database } from '../db/schema.ts';
import { hashToken, randomToken } from '../security/tokens.ts';

/**
 * Self-service flow state (registration; later forgot-username/password): one row per flow, keyed
 * by the SHA-256 of a random id that lives only in the browser's cookie, with an expiry. A flow is
 * thus bound to the browser that started it; an expired or unknown one reads as undefined.
 */
export class FlowStore<S extends Record<string, unknown>> {
  readonly kind: string;
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  readonly #ttlSeconds: number;
  readonly #secure: boolean;

  constructor(kind: string, db: Kysely<Database>, clock: Clock, ttlSeconds: number, secure: boolean) {
    this.kind = kind;
    this.#db = db;
    this.#clock = clock;
    this.#ttlSeconds = ttlSeconds;
    this.#secure = secure;
  }

  get #cookie(): string {
    return `pidp.flow.${this.kind}`;
  }

  /** Starts a new flow (replacing the browser's previous one of this kind) with `state`. */
  async start(ctx: Context, state: S): Promise<void> {
    await this.end(ctx);
    const id = randomToken(32);
    const now = this.#clock.now();
    await this.#db
      .insertInto('flows')
      .values({ id_hash: hashToken(id), kind: this.kind, state: JSON.stringify(state), created_at: now, expires_at: addSeconds(now, this.#ttlSeconds) })
      .execute();
    ctx.cookies.set(this.#cookie, id, { httpOnly: true, sameSite: 'lax', secure: this.#secure, signed: true, path: '/', overwrite: true });
  }

  /** The browser's current flow state, or undefined (none, unknown, or expired). */
  async load(ctx: Context): Promise<S | undefined> {
    const id = ctx.cookies.get(this.#cookie, { signed: true });
    if (!id || id.length > 100) return undefined;
    const row = await this.#db
      .selectFrom('flows')
      .select(['state', 'expires_at'])
      .where('id_hash', '=', hashToken(id))
      .where('kind', '=', this.kind)
      .executeTakeFirst();
    if (!row || new Date(row.expires_at).getTime() <= this.#clock.now().getTime()) return undefined;
    return row.state as unknown as S;
  }

  /** True when the browser carries a cookie for this kind of flow (even an expired one). */
  hasCookie(ctx: Context): boolean {
    return !!ctx.cookies.get(this.#cookie, { signed: true });
  }

  /** Replaces the state of the browser's current flow. */
  async save(ctx: Context, state: S): Promise<void> {
    const id = ctx.cookies.get(this.#cookie, { signed: true });
    if (!id) return;
    await this.#db.updateTable('flows').set({ state: JSON.stringify(state) }).where('id_hash', '=', hashToken(id)).execute();
  }

  /** Ends the browser's flow of this kind (row deleted, cookie cleared). */
  async end(ctx: Context): Promise<void> {
    const id = ctx.cookies.get(this.#cookie, { signed: true });
    if (id) await this.#db.deleteFrom('flows').where('id_hash', '=', hashToken(id)).execute();
    ctx.cookies.set(this.#cookie, null, { path: '/', signed: true, overwrite: true });
  }
}
