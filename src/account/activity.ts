import type { Kysely } from 'kysely';
import type { Next } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Clock } from '../clock.ts';
import { deleteOtherSessionActivity, liveSessionsWithActivity, upsertSessionActivity } from '../db/repositories/session-activity.ts';
import type { Database } from '../db/schema.ts';
import type { Services } from '../services.ts';

/**
 * What the "Signed-in sessions" page knows of each IdP session (table `session_activity`,
 * migration 0015): the browser and address it signed in from and its last activity. oidc-provider's
 * Session model keeps neither, so they are recorded here, keyed by the session's `uid`.
 */

/** Records (or refreshes) a session's browser, address and last activity (now, by `clock`). */
export async function touchSession(db: Kysely<Database>, clock: Clock, s: { sessionUid: string; accountId: string; userAgent: string | null; ip: string | null }): Promise<void> {
  const now = clock.now();
  const userAgent = s.userAgent ? s.userAgent.slice(0, 512) : null;
  await upsertSessionActivity(db, { ...s, userAgent }, now);
}

/**
 * Koa middleware on the provider: after an authorization request that answered with the signed-in
 * account's session (oidc-provider routes `authorization` and `resume`, a redirect back to the
 * client), records the session's activity ({@link touchSession}).
 */
export function sessionActivity(services: Pick<Services, 'db' | 'clock' | 'logger'>) {
  return async (ctx: KoaContextWithOIDC, next: Next) => {
    await next();
    const oidc = ctx.oidc;
    if (!oidc || (oidc.route !== 'authorization' && oidc.route !== 'resume') || ctx.status >= 400) return;
    const session = oidc.entities.Session;
    if (!session?.accountId || !session.uid) return;
    await touchSession(services.db, services.clock, { sessionUid: session.uid, accountId: session.accountId, userAgent: ctx.get('user-agent') || null, ip: ctx.ip })
      .catch((err: unknown) => services.logger.warn({ err }, 'session activity not recorded'));
  };
}

/** One signed-in session of the account, as the "Signed-in sessions" page lists it. */
export interface SignedInSession {
  /** oidc-provider's session uid. */
  uid: string;
  /** True for the browser that is looking. */
  current: boolean;
  userAgent: string | null;
  /** When the person signed in (the session's loginTs). */
  signedInAt: Date | null;
  /** Last authorization request or account page of the session (else the sign-in). */
  lastActiveAt: Date | null;
}

/**
 * The account's live IdP sessions (oidc-provider `Session` rows, not expired), with their recorded
 * browser and last activity, the current one first, then by last activity, newest first.
 */
export async function listSignedInSessions(db: Kysely<Database>, accountId: string, currentUid: string): Promise<SignedInSession[]> {
  const rows = await liveSessionsWithActivity(db, accountId);
  const out = rows.map((r): SignedInSession => {
    const signedInAt = r.loginTs ? new Date(r.loginTs * 1000) : null;
    return { uid: r.uid ?? '', current: r.uid === currentUid, userAgent: r.userAgent, signedInAt, lastActiveAt: r.lastSeenAt ?? signedInAt };
  });
  return out.sort((a, b) => Number(b.current) - Number(a.current) || (b.lastActiveAt?.getTime() ?? 0) - (a.lastActiveAt?.getTime() ?? 0));
}

/** Deletes the activity records of the account's sessions other than `keepUid` (after they ended). */
export async function forgetOtherSessions(db: Kysely<Database>, accountId: string, keepUid: string): Promise<void> {
  await deleteOtherSessionActivity(db, accountId, keepUid);
}
