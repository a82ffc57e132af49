import type { Context, Next } from 'koa';
import { AppError } from '../http/errors.ts';
import type { PasswordHasher } from './passwords.ts';

/** Seconds a browser is asked to wait (Retry-After) while password hashing is saturated. */
export const HASH_BUSY_RETRY_SECONDS = 2;

/**
 * The form submissions that compute a password hash: Username/Password on the `login` prompt,
 * "Create Your Secure Login" (registration step 2) and Forgot Password's new password.
 */
const HASHING_POSTS = [/^\/interaction\/[^/]+\/login$/, /^\/register\/login$/, /^\/forgot-password\/new-password$/];

/**
 * Load shedding for password hashing (issue 12): while ARGON2_QUEUE_MAX hashes already wait for
 * a slot ({@link PasswordHasher.saturated}), a submission that would hash is refused before it
 * does anything — 503 with `Retry-After` (RFC 9110 §10.2.3, §15.6.4) and the "busy" page — instead
 * of queueing more memory. Refusing up front means no attempt counter, rate-limit point or
 * half-written registration is ever left behind by the refusal.
 * @throws AppError('http.busy', 503) for a refused submission.
 */
export function hashAdmission(hasher: PasswordHasher) {
  return async function admitHashing(ctx: Context, next: Next): Promise<void> {
    if (ctx.method === 'POST' && hasher.saturated && HASHING_POSTS.some((re) => re.test(ctx.path))) {
      ctx.set('Retry-After', String(HASH_BUSY_RETRY_SECONDS));
      throw new AppError('http.busy', 503, { params: { seconds: HASH_BUSY_RETRY_SECONDS } });
    }
    await next();
  };
}
