import type { Context } from 'koa';
import type { Kysely } from 'kysely';
import { addSeconds, type Clock } from '../clock.ts';
import { deleteFlow, findFlow, insertFlow, updateFlowState } from '../db/repositories/flows.ts';
import type { Database } from '../db/schema.ts';
import { hashToken, randomToken } from '../security/tokens.ts';

/**
 * Self-service flow state (registration, Forgot Username, Forgot Password): one row per flow
 * (src/db/repositories/flows.ts), keyed by the SHA-256 of a random id that lives only in the
 * browser's cookie, with an expiry. A flow is thus bound to the browser that started it; an expired
 * or unknown one reads as undefined.
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
    await insertFlow(this.#db, { idHash: hashToken(id), kind: this.kind, state, createdAt: now, expiresAt: addSeconds(now, this.#ttlSeconds) });
    ctx.cookies.set(this.#cookie, id, { httpOnly: true, sameSite: 'lax', secure: this.#secure, signed: true, path: '/', overwrite: true });
  }

  /** The browser's current flow state, or undefined (none, unknown, or expired). */
  async load(ctx: Context): Promise<S | undefined> {
    const id = ctx.cookies.get(this.#cookie, { signed: true });
    if (!id || id.length > 100) return undefined;
    const row = await findFlow(this.#db, hashToken(id), this.kind);
    if (!row || row.expiresAt.getTime() <= this.#clock.now().getTime()) return undefined;
    return row.state as S;
  }

  /** True when the browser carries a cookie for this kind of flow (even an expired one). */
  hasCookie(ctx: Context): boolean {
    return !!ctx.cookies.get(this.#cookie, { signed: true });
  }

  /** Replaces the state of the browser's current flow. */
  async save(ctx: Context, state: S): Promise<void> {
    const id = ctx.cookies.get(this.#cookie, { signed: true });
    if (!id) return;
    await updateFlowState(this.#db, hashToken(id), state);
  }

  /** Ends the browser's flow of this kind (row deleted, cookie cleared). */
  async end(ctx: Context): Promise<void> {
    const id = ctx.cookies.get(this.#cookie, { signed: true });
    if (id) await deleteFlow(this.#db, hashToken(id));
    ctx.cookies.set(this.#cookie, null, { path: '/', signed: true, overwrite: true });
  }
}
