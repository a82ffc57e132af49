import type { Context, Next } from 'koa';
import { AppError } from '../http/errors.ts';
import { hmac, randomToken, safeEqual } from './tokens.ts';

const COOKIE = 'pidp.csrf';
/** Lifetime of a form token, seconds. */
const TOKEN_TTL_SECONDS = 2 * 3600;

/**
 * CSRF protection bound to the browser: a random secret in a signed, HttpOnly, SameSite=Lax cookie;
 * each rendered form carries `ts.nonce.mac` where mac = HMAC(secret, ts.nonce). A token from another
 * browser, a tampered or expired one, or none at all fails with 403 `form.csrf`.
 *
 * Sets `ctx.state.csrfToken()` for views; `verifyCsrf(ctx)` checks a parsed form body.
 */
export function csrf(opts: { secure: boolean }) {
  return async (ctx: Context, next: Next) => {
    ctx.state.csrfToken = () => {
      let secret = ctx.cookies.get(COOKIE, { signed: true });
      if (!secret || secret.length < 20) {
        secret = randomToken(24);
        ctx.cookies.set(COOKIE, secret, { signed: true, httpOnly: true, sameSite: 'lax', secure: opts.secure, path: '/', overwrite: true });
        ctx.state.csrfSecret = secret;
      }
      const payload = `${Math.floor(Date.now() / 1000)}.${randomToken(16)}`;
      return `${payload}.${hmac(secret, payload)}`;
    };
    await next();
  };
}

/**
 * Verifies the `_csrf` field of the parsed form body against the browser's secret.
 * @throws AppError('form.csrf', 403) when missing, foreign, tampered or older than 2 hours.
 */
export function verifyCsrf(ctx: Context): void {
  const body = (ctx.request.body ?? {}) as Record<string, unknown>;
  const token = body._csrf;
  const secret = ctx.cookies.get(COOKIE, { signed: true });
  if (typeof token !== 'string' || !secret || token.length > 200) throw new AppError('form.csrf', 403);
  const parts = token.split('.');
  if (parts.length !== 3) throw new AppError('form.csrf', 403);
  const [ts, nonce, mac] = parts;
  if (!safeEqual(mac, hmac(secret, `${ts}.${nonce}`))) throw new AppError('form.csrf', 403);
  const age = Math.floor(Date.now() / 1000) - Number(ts);
  if (!Number.isFinite(age) || age < -60 || age > TOKEN_TTL_SECONDS) throw new AppError('form.csrf', 403);
}
