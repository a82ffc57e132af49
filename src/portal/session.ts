/**
 * Relying-party sessions (the portal's and the example application's): an opaque random id in a
 * signed cookie, the data in a {@link SessionStore}.
 *
 * Two stores share one interface:
 * - {@link PgSessionStore} (what `npm start` uses): the `portal_sessions` table (migration 0013),
 *   so every replica of a relying party sees the same sessions and a back-channel logout received
 *   by any replica ends them for all. The id is stored only as its SHA-256; the data is sealed with
 *   AES-256-GCM under a key derived from the id (HKDF-SHA256), so the table alone reveals no token
 *   or claim; `sub` and `sid` stay in clear columns for back-channel logout.
 * - {@link MemorySessionStore}: one process only (tests, and relying parties built without a
 *   database).
 *
 * Both hand out copies: changes to `session.data` are kept only by {@link SessionStore.save} (the
 * request plumbing in src/portal/sign-in.ts saves after each request whose data changed). Two
 * requests of one browser at the same time: the last save wins.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { sql, type ColumnType, type Kysely } from 'kysely';

/** A sign-in that was started (authorization request sent) and not yet completed. */
export interface PendingSignIn {
  /** OAuth 2.0 `state`, also the key of this entry (RFC 6749 §4.1.1). */
  state: string;
  /** OpenID Connect `nonce` (OpenID Connect Core 1.0 §3.1.2.1). */
  nonce: string;
  /** PKCE `code_verifier` (RFC 7636 §4.1). */
  codeVerifier: string;
  /** Local path (+ query) to return to after sign-in; always starts with a single '/'. */
  returnTo: string;
  /** When the sign-in was started, epoch milliseconds. */
  startedAt: number;
}

/** The signed-in producer, as learnt from the IdP. */
export interface SignedInUser {
  /** Subject identifier at the IdP (`sub`). */
  sub: string;
  /** Merge of the ID token claims and the UserInfo response (UserInfo wins on conflicts). */
  claims: Record<string, unknown>;
  /** The raw ID token, kept only as `id_token_hint` for RP-Initiated Logout 1.0 §2. */
  idToken: string;
  /** Access token expiry, epoch milliseconds; undefined when the IdP sent no `expires_in`. */
  accessTokenExpiresAt?: number;
  /** When sign-in completed, epoch milliseconds. */
  signedInAt: number;
  /** The producer API's access token (My Hierarchy), when the portal is configured for it. */
  api?: { accessToken: string; expiresAt: number; refreshToken: string };
}

/** What a relying party keeps per browser (only what its pages and logout need). */
export interface SessionData {
  /** Per-session anti-CSRF token (base64url, 32 random bytes) for every state-changing form. */
  csrfToken: string;
  /** Sign-ins in flight, keyed by `state`; a few at most (several tabs may start one). */
  pending: Record<string, PendingSignIn>;
  /** Present once sign-in completed. */
  user?: SignedInUser;
}

/** A session as handed out by the store (a copy): mutate `data` in place, then {@link SessionStore.save} keeps the changes. */
export interface Session {
  readonly id: string;
  readonly data: SessionData;
  /** Creation time, epoch milliseconds (for the absolute lifetime). */
  readonly createdAt: number;
}

export interface SessionStoreOptions {
  /** Idle timeout of a signed-in session, milliseconds. Default 8 hours. */
  idleTimeoutMs?: number;
  /** Absolute lifetime of any session regardless of activity, milliseconds. Default 12 hours. */
  absoluteTimeoutMs?: number;
  /** Idle timeout of a session with nobody signed in (only sign-ins in flight), milliseconds. Default 15 minutes. */
  anonymousIdleTimeoutMs?: number;
  /** Clock, epoch milliseconds. Default `Date.now`. */
  now?: () => number;
}

/** Most sign-ins in flight kept per session; the oldest is dropped beyond this. */
export const MAX_PENDING_SIGN_INS = 5;
/** A started sign-in is abandoned after this many milliseconds (10 minutes). */
export const PENDING_SIGN_IN_TTL_MS = 10 * 60 * 1000;

/**
 * Returns a fresh random token: 32 bytes from node:crypto, base64url-encoded (43 characters).
 * Used for session ids and CSRF tokens.
 */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Where a relying party keeps its sessions. Every method may reject when the store cannot be
 * reached (the request then fails with 500; nothing is half-written).
 */
export interface SessionStore {
  /** Current time of the store's clock, epoch milliseconds. */
  now(): number;
  /** Creates and stores an empty session with a new random id and CSRF token. */
  create(): Promise<Session>;
  /**
   * Looks a session up by id and marks it as used now (sliding idle expiry, bounded by the absolute
   * lifetime).
   * @returns a copy of the session, or undefined when unknown or expired.
   */
  get(id: string): Promise<Session | undefined>;
  /** Stores the session's current data (and its `sub`/`sid` for back-channel logout); a session that ended meanwhile stays ended. */
  save(session: Session): Promise<void>;
  /** Deletes a session; unknown ids are ignored. */
  destroy(id: string): Promise<void>;
  /**
   * Replaces a session by a new one with a new id and a new CSRF token, keeping only `user`
   * (protection against session fixation, done on every sign-in).
   * @returns the new session; the old id no longer resolves.
   */
  rotate(old: Session, user: SignedInUser): Promise<Session>;
  /**
   * Ends every signed-in session of `sub` at the IdP — only those of IdP session `sid` when given,
   * and every session of that `sid` when `sub` is absent (OpenID Connect Back-Channel Logout 1.0
   * §2.7: the logout token names sub, sid or both).
   * @returns how many sessions ended.
   */
  endForIdpSession(sub: string | undefined, sid: string | undefined): Promise<number>;
}

/** Thrown by a {@link guardedStore} when its store failed (e.g. the database is unreachable); answered 503. */
export class SessionStoreUnavailableError extends Error {
  readonly status = 503;
  constructor(options?: ErrorOptions) {
    super('the session store could not be reached', options);
    this.name = 'SessionStoreUnavailableError';
  }
}

/**
 * The same store, its failures turned into {@link SessionStoreUnavailableError} (so that a relying
 * party answers "try again later" with 503, never a 500, while its database is down).
 */
export function guardedStore(store: SessionStore): SessionStore {
  const guard = <A extends unknown[], R>(call: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
    try {
      return await call(...args);
    } catch (err) {
      throw new SessionStoreUnavailableError({ cause: err });
    }
  };
  return {
    now: () => store.now(),
    create: guard(() => store.create()),
    get: guard((id: string) => store.get(id)),
    save: guard((session: Session) => store.save(session)),
    destroy: guard((id: string) => store.destroy(id)),
    rotate: guard((old: Session, user: SignedInUser) => store.rotate(old, user)),
    endForIdpSession: guard((sub: string | undefined, sid: string | undefined) => store.endForIdpSession(sub, sid)),
  };
}

/** The timing rules both stores share. */
class Lifetimes {
  readonly idleMs: number;
  readonly absoluteMs: number;
  readonly anonymousIdleMs: number;
  readonly now: () => number;

  constructor(options: SessionStoreOptions) {
    this.idleMs = options.idleTimeoutMs ?? 8 * 60 * 60 * 1000;
    this.absoluteMs = options.absoluteTimeoutMs ?? 12 * 60 * 60 * 1000;
    this.anonymousIdleMs = options.anonymousIdleTimeoutMs ?? 15 * 60 * 1000;
    this.now = options.now ?? Date.now;
  }

  /** When a session used at `now` expires, epoch milliseconds. */
  expiresAt(session: Session, now: number): number {
    return Math.min(session.createdAt + this.absoluteMs, now + (session.data.user ? this.idleMs : this.anonymousIdleMs));
  }

  fresh(now: number): Session {
    return { id: randomToken(), createdAt: now, data: { csrfToken: randomToken(), pending: {} } };
  }
}

/** The IdP session of a session's user: `sid` of its ID token (Back-Channel Logout 1.0 §2.4). */
function idpSid(data: SessionData): string | null {
  return typeof data.user?.claims.sid === 'string' ? data.user.claims.sid : null;
}

interface MemoryEntry {
  createdAt: number;
  expiresAt: number;
  json: string;
  sub: string | null;
  sid: string | null;
}

/**
 * In-memory session store, one process only, with idle and absolute expiry and an LRU bound
 * (`maxSessions`, default 50,000). Hands out copies like {@link PgSessionStore}.
 */
export class MemorySessionStore implements SessionStore {
  readonly #entries = new Map<string, MemoryEntry>();
  readonly #life: Lifetimes;
  readonly #max: number;
  #lastSweepAt = 0;

  constructor(options: SessionStoreOptions & { maxSessions?: number } = {}) {
    this.#life = new Lifetimes(options);
    this.#max = options.maxSessions ?? 50_000;
  }

  now(): number {
    return this.#life.now();
  }

  /** Number of live (not yet swept) sessions. */
  get size(): number {
    return this.#entries.size;
  }

  async create(): Promise<Session> {
    const now = this.now();
    this.#maybeSweep(now);
    const session = this.#life.fresh(now);
    this.#put(session, now);
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return structuredClone(session);
  }

  async get(id: string): Promise<Session | undefined> {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    const now = this.now();
    this.#entries.delete(id);
    if (entry.expiresAt <= now) return undefined;
    const session: Session = { id, createdAt: entry.createdAt, data: JSON.parse(entry.json) as SessionData };
    // Re-inserted so that Map order is least-recently-used first (for eviction).
    this.#entries.set(id, { ...entry, expiresAt: this.#life.expiresAt(session, now) });
    return session;
  }

  async save(session: Session): Promise<void> {
    if (this.#entries.has(session.id)) this.#put(session, this.now());
  }

  async destroy(id: string): Promise<void> {
    this.#entries.delete(id);
  }

  async rotate(old: Session, user: SignedInUser): Promise<Session> {
    this.#entries.delete(old.id);
    const fresh = this.#life.fresh(this.now());
    fresh.data.user = user;
    this.#put(fresh, fresh.createdAt);
    return structuredClone(fresh);
  }

  async endForIdpSession(sub: string | undefined, sid: string | undefined): Promise<number> {
    if (sub === undefined && sid === undefined) return 0;
    let ended = 0;
    for (const [id, entry] of this.#entries) {
      if (entry.sub === null) continue;
      if (sub !== undefined && entry.sub !== sub) continue;
      if (sid !== undefined && entry.sid !== sid) continue;
      this.#entries.delete(id);
      ended += 1;
    }
    return ended;
  }

  #put(session: Session, now: number): void {
    this.#entries.delete(session.id);
    this.#entries.set(session.id, {
      createdAt: session.createdAt,
      expiresAt: this.#life.expiresAt(session, now),
      json: JSON.stringify(session.data),
      sub: session.data.user?.sub ?? null,
      sid: idpSid(session.data),
    });
  }

  /** At most once a minute, drops every expired session (lazy: no timers to clean up). */
  #maybeSweep(now: number): void {
    if (now - this.#lastSweepAt < 60_000) return;
    this.#lastSweepAt = now;
    for (const [id, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(id);
  }
}

/** The one table {@link PgSessionStore} uses (migration 0013); the relying party knows no other. */
export interface PortalSessionDatabase {
  portal_sessions: {
    id_hash: string;
    client_id: string;
    sub: string | null;
    sid: string | null;
    data: string;
    created_at: ColumnType<Date, Date | string | undefined, Date | string>;
    absolute_expires_at: ColumnType<Date, Date | string, Date | string>;
    expires_at: ColumnType<Date, Date | string, Date | string>;
  };
}

/** SHA-256 (hex) of a session id: the table's key. */
function idHash(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}

/** The AES-256 key of one session's data: HKDF-SHA256 of its id (RFC 5869). */
function dataKey(id: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(id, 'utf8'), Buffer.alloc(0), 'producer-idp relying-party session data v1', 32));
}

/** Seals session data: base64url of IV (12 bytes) ‖ ciphertext ‖ GCM tag (16 bytes); the id hash is the associated data. */
function seal(id: string, data: SessionData): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', dataKey(id), iv).setAAD(Buffer.from(idHash(id)));
  const body = Buffer.concat([cipher.update(JSON.stringify(data), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

/** Opens what {@link seal} sealed; undefined when it does not authenticate. */
function open(id: string, sealed: string): SessionData | undefined {
  try {
    const raw = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', dataKey(id), raw.subarray(0, 12)).setAAD(Buffer.from(idHash(id)));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    const json = Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
    return JSON.parse(json) as SessionData;
  } catch {
    return undefined;
  }
}

/**
 * Sessions of one relying party (`clientId`) in PostgreSQL (`portal_sessions`, migration 0013),
 * shared by all its replicas. See the module comment for what is stored and how.
 */
export class PgSessionStore implements SessionStore {
  readonly #db: Kysely<PortalSessionDatabase>;
  readonly #clientId: string;
  readonly #life: Lifetimes;
  #lastSweepAt = 0;

  /**
   * @param db a Kysely instance whose search path holds `portal_sessions` (the IdP's database, or
   *   one of the relying party's own with the same migration).
   * @param clientId the relying party's client_id: sessions of other clients are never seen or ended.
   */
  constructor(db: Kysely<PortalSessionDatabase>, clientId: string, options: SessionStoreOptions = {}) {
    this.#db = db;
    this.#clientId = clientId;
    this.#life = new Lifetimes(options);
  }

  now(): number {
    return this.#life.now();
  }

  async create(): Promise<Session> {
    const now = this.now();
    await this.#maybeSweep(now);
    const session = this.#life.fresh(now);
    await this.#insert(session, now);
    return session;
  }

  async get(id: string): Promise<Session | undefined> {
    const now = this.now();
    const row = await this.#db
      .updateTable('portal_sessions')
      .set({
        expires_at: sql<Date>`least(absolute_expires_at, case when sub is null then ${new Date(now + this.#life.anonymousIdleMs)}::timestamptz else ${new Date(now + this.#life.idleMs)}::timestamptz end)`,
      })
      .where('id_hash', '=', idHash(id))
      .where('client_id', '=', this.#clientId)
      .where('expires_at', '>', new Date(now))
      .returning(['data', 'created_at'])
      .executeTakeFirst();
    if (!row) return undefined;
    const data = open(id, row.data);
    return data ? { id, createdAt: row.created_at.getTime(), data } : undefined;
  }

  async save(session: Session): Promise<void> {
    await this.#db
      .updateTable('portal_sessions')
      .set({
        data: seal(session.id, session.data),
        sub: session.data.user?.sub ?? null,
        sid: idpSid(session.data),
        expires_at: new Date(this.#life.expiresAt(session, this.now())),
      })
      .where('id_hash', '=', idHash(session.id))
      .where('client_id', '=', this.#clientId)
      .execute();
  }

  async destroy(id: string): Promise<void> {
    await this.#db.deleteFrom('portal_sessions').where('id_hash', '=', idHash(id)).where('client_id', '=', this.#clientId).execute();
  }

  async rotate(old: Session, user: SignedInUser): Promise<Session> {
    const now = this.now();
    const fresh = this.#life.fresh(now);
    fresh.data.user = user;
    await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('portal_sessions').where('id_hash', '=', idHash(old.id)).where('client_id', '=', this.#clientId).execute();
      await this.#insert(fresh, now, trx);
    });
    return fresh;
  }

  async endForIdpSession(sub: string | undefined, sid: string | undefined): Promise<number> {
    if (sub === undefined && sid === undefined) return 0;
    let query = this.#db.deleteFrom('portal_sessions').where('client_id', '=', this.#clientId).where('sub', 'is not', null);
    if (sub !== undefined) query = query.where('sub', '=', sub);
    if (sid !== undefined) query = query.where('sid', '=', sid);
    const result = await query.executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async #insert(session: Session, now: number, db: Kysely<PortalSessionDatabase> = this.#db): Promise<void> {
    await db.insertInto('portal_sessions').values({
      id_hash: idHash(session.id),
      client_id: this.#clientId,
      sub: session.data.user?.sub ?? null,
      sid: idpSid(session.data),
      data: seal(session.id, session.data),
      created_at: new Date(session.createdAt),
      absolute_expires_at: new Date(session.createdAt + this.#life.absoluteMs),
      expires_at: new Date(this.#life.expiresAt(session, now)),
    }).execute();
  }

  /** At most once a minute per process, deletes the expired sessions (of every client). */
  async #maybeSweep(now: number): Promise<void> {
    if (now - this.#lastSweepAt < 60_000) return;
    this.#lastSweepAt = now;
    await this.#db.deleteFrom('portal_sessions').where('expires_at', '<=', new Date(now)).execute();
  }
}

/**
 * Deletes the sessions (of every relying party) that expired before `now`: the clean-up for a
 * process that runs no {@link PgSessionStore} (the IdP's purge job, `db purge`).
 * @param db a Kysely instance whose search path holds `portal_sessions`.
 * @returns how many sessions were deleted.
 */
export async function purgeExpiredSessions(db: Kysely<PortalSessionDatabase>, now: Date): Promise<bigint> {
  const res = await db.deleteFrom('portal_sessions').where('expires_at', '<', now).executeTakeFirstOrThrow();
  return res.numDeletedRows;
}

/**
 * Adds a started sign-in to the session, dropping expired ones and, beyond
 * {@link MAX_PENDING_SIGN_INS}, the oldest.
 */
export function addPendingSignIn(data: SessionData, pending: PendingSignIn, now: number): void {
  prunePendingSignIns(data, now);
  data.pending[pending.state] = pending;
  const entries = Object.values(data.pending).sort((a, b) => a.startedAt - b.startedAt);
  for (const stale of entries.slice(0, Math.max(0, entries.length - MAX_PENDING_SIGN_INS))) {
    delete data.pending[stale.state];
  }
}

/**
 * Removes and returns the sign-in started with `state` (single use: a replayed callback finds
 * nothing). Expired entries are dropped first.
 */
export function takePendingSignIn(data: SessionData, state: string, now: number): PendingSignIn | undefined {
  prunePendingSignIns(data, now);
  if (!Object.hasOwn(data.pending, state)) return undefined;
  const pending = data.pending[state];
  delete data.pending[state];
  return pending;
}

function prunePendingSignIns(data: SessionData, now: number): void {
  for (const [state, pending] of Object.entries(data.pending)) {
    if (now - pending.startedAt >= PENDING_SIGN_IN_TTL_MS) delete data.pending[state];
  }
}
