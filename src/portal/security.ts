/**
 * Small security helpers of the portal: response headers, the return-to path check, CSRF token
 * comparison and a bounded form-body reader.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';

/**
 * Builds the Content-Security-Policy header value. `form-action` allows the IdP's origin because
 * the Logout form is answered with a redirect to the IdP's end_session_endpoint, and browsers apply
 * form-action to such redirects.
 * @param issuerOrigin e.g. `https://idp.example.com`.
 */
export function contentSecurityPolicy(issuerOrigin: string): string {
  return [
    "default-src 'self'",
    "base-uri 'none'",
    "object-src 'none'",
    `form-action 'self' ${issuerOrigin}`,
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * Koa middleware that sets the security headers on every response (also on errors, because it
 * sets them before calling `next`): CSP, X-Content-Type-Options nosniff, Referrer-Policy
 * no-referrer, X-Frame-Options DENY (for browsers without frame-ancestors) and, unless a route
 * chose otherwise, Cache-Control no-store.
 */
export function securityHeaders(issuerOrigin: string): (ctx: Context, next: Next) => Promise<void> {
  const csp = contentSecurityPolicy(issuerOrigin);
  return async (ctx, next) => {
    ctx.set('Content-Security-Policy', csp);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Cache-Control', 'no-store');
    await next();
  };
}

/**
 * Checks a path to return to after sign-in: accepted only when it is a local absolute path that
 * starts with exactly one '/' (not '//' or '/\', which browsers treat as another host), has no
 * backslash or control character, is at most 2,048 characters, and is not a protocol endpoint of
 * the portal itself (/callback, /logout, /logged-out).
 * @returns the path unchanged, or '/' when it is not acceptable.
 */
export function safeReturnTo(candidate: string | undefined): string {
  if (!candidate || candidate.length > 2048) return '/';
  if (!candidate.startsWith('/') || candidate.startsWith('//')) return '/';
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f\u007f]/.test(candidate)) return '/';
  const pathname = candidate.split(/[?#]/, 1)[0] ?? '/';
  if (pathname === '/callback' || pathname === '/logout' || pathname === '/logged-out') return '/';
  return candidate;
}

/** Compares two secrets in constant time (for equal lengths); false when either is missing. */
export function constantTimeEqual(a: string | undefined, b: string | undefined): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  if (left.length !== right.length) return false;
  return timingSafeEqual(left, right);
}

/**
 * Reads an `application/x-www-form-urlencoded` request body of at most `limitBytes` bytes.
 * @returns the parsed fields; empty when the content type is different.
 * @throws Error with `status` 413 when the body is larger than the limit.
 */
export async function readUrlEncodedForm(ctx: Context, limitBytes = 8192): Promise<URLSearchParams> {
  if (!ctx.is('application/x-www-form-urlencoded')) return new URLSearchParams();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += buffer.length;
    if (size > limitBytes) ctx.throw(413, 'request body too large');
    chunks.push(buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
