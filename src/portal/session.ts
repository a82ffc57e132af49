/**
 * Portal sessions: an opaque random id in a signed cookie, the data in server memory.
 *
 * DEMO-GRADE STORE. Sessions live in a `Map` inside one Node process: they vanish on restart and
 * are not shared between instances. That is acceptable for this relying party because it holds no
 * credentials of its own — losing a session only means the browser goes through the IdP again
 * (usually silently, through the IdP's own SSO session). A deployment with more than one portal
 * instance should swap this class for a shared store (Redis, a database table) with the same
 * methods.
 */
import { randomBytes } from 'node:crypto';

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

/** What the portal keeps per browser. */
export interface SessionData {
  /** Per-session anti-CSRF token (base64url, 32 random bytes) for every state-changing form. */
  csrfToken: string;
  /** Sign-ins in flight, keyed by `state`; a few at most (several tabs may start one). */
  pending: Record<string, PendingSignIn>;
  /** Present once sign-in completed. */
  user?: SignedInUser;
}

/** A session as handed out by the store. Mutate `data` in place; changes are kept. */
export interface Session {
  readonly id: string;
  readonly data: SessionData;
  /** Creation time, epoch milliseconds (for the absolute lifetime). */
  readonly createdAt: number;
}

interface Entry {
  session: Session;
  lastSeenAt: number;
}

export interface SessionStoreOptions {
  /** Idle timeout of a signed-in session, milliseconds. Default 8 hours. */
  idleTimeoutMs?: number;
  /** Absolute lifetime of any session regardless of activity, milliseconds. Default 12 hours. */
  absoluteTimeoutMs?: number;
  /** Idle timeout of a session with nobody signed in (only sign-ins in flight), milliseconds. Default 15 minutes. */
  anonymousIdleTimeoutMs?: number;
  /** Upper bound on the number of sessions kept; the least recently used is evicted. Default 50,000. */
  maxSessions?: number;
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
 * In-memory session store with idle and absolute expiry and an LRU bound (see the module comment:
 * demo-grade, single process).
 */
export class SessionStore {
  readonly #entries = new Map<string, Entry>();
  readonly #idleMs: number;
  readonly #absoluteMs: number;
  readonly #anonymousIdleMs: number;
  readonly #max: number;
  readonly #now: () => number;
  #lastSweepAt = 0;

  constructor(options: SessionStoreOptions = {}) {
    this.#idleMs = options.idleTimeoutMs ?? 8 * 60 * 60 * 1000;
    this.#absoluteMs = options.absoluteTimeoutMs ?? 12 * 60 * 60 * 1000;
    this.#anonymousIdleMs = options.anonymousIdleTimeoutMs ?? 15 * 60 * 1000;
    this.#max = options.maxSessions ?? 50_000;
    this.#now = options.now ?? Date.now;
  }

  /** Current time of the store's clock, epoch milliseconds. */
  now(): number {
    return this.#now();
  }

  /** Number of live (not yet swept) sessions. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Creates an empty session with a new random id and CSRF token.
   * @returns the new session (already stored).
   */
  create(): Session {
    const now = this.#now();
    this.#maybeSweep(now);
    const session: Session = { id: randomToken(), createdAt: now, data: { csrfToken: randomToken(), pending: {} } };
    this.#entries.set(session.id, { session, lastSeenAt: now });
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return session;
  }

  /**
   * Looks a session up by id and marks it as used now (sliding idle expiry).
   * @returns the session, or undefined when unknown or expired (an expired one is deleted).
   */
  get(id: string): Session | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    const now = this.#now();
    if (this.#expired(entry, now)) {
      this.#entries.delete(id);
      return undefined;
    }
    entry.lastSeenAt = now;
    // Re-insert so that Map order is least-recently-used first (for eviction).
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    return entry.session;
  }

  /**
   * Ends every signed-in session of `sub` at the IdP — only those of IdP session `sid` when given
   * (OpenID Connect Back-Channel Logout 1.0 §2.7: the logout token names sub, sid or both).
   * @returns how many sessions ended.
   */
  endForIdpSession(sub: string | undefined, sid: string | undefined): number {
    let ended = 0;
    for (const [id, entry] of this.#entries) {
      const user = entry.session.data.user;
      if (!user) continue;
      if (sub !== undefined && user.sub !== sub) continue;
      if (sid !== undefined && user.claims.sid !== sid) continue;
      this.#entries.delete(id);
      ended += 1;
    }
    return ended;
  }

  /** Deletes a session; unknown ids are ignored. */
  destroy(id: string): void {
    this.#entries.delete(id);
  }

  /**
   * Replaces a session by a new one with a new id and a new CSRF token, keeping only `user`
   * (protection against session fixation, done on every sign-in).
   * @returns the new session; the old id no longer resolves.
   */
  rotate(old: Session, user: SignedInUser): Session {
    this.#entries.delete(old.id);
    const fresh = this.create();
    fresh.data.user = user;
    return fresh;
  }

  #expired(entry: Entry, now: number): boolean {
    const idle = entry.session.data.user ? this.#idleMs : this.#anonymousIdleMs;
    return now - entry.lastSeenAt >= idle || now - entry.session.createdAt >= this.#absoluteMs;
  }

  /** At most once a minute, drops every expired session (lazy: no timers to clean up). */
  #maybeSweep(now: number): void {
    if (now - this.#lastSweepAt < 60_000) return;
    this.#lastSweepAt = now;
    for (const [id, entry] of this.#entries) {
      if (this.#expired(entry, now)) this.#entries.delete(id);
    }
  }
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
