import type { Context, Next } from 'koa';

/** Paths where a form POST is answered with a 303 to the same request as a GET. */
const PATHS = new Set(['/auth', '/session/end']);

/** Largest form accepted, bytes (the parameters become the query string of the redirect). */
const MAX_FORM_BYTES = 8 * 1024;

/**
 * POST at the authorization endpoint (OpenID Connect Core 1.0 §3.1.2.1) and at the end-session
 * endpoint (RP-Initiated Logout 1.0 §2): the form (`application/x-www-form-urlencoded`) is answered
 * with `303 See Other` to the same endpoint, built from ISSUER, with the parameters as the query.
 * oidc-provider accepts POST itself, but a cross-site form POST carries no `SameSite=Lax` cookie,
 * so the IdP session would not be seen; the browser's GET after the 303 is a top-level navigation
 * and carries it. A body over 8 KB gets 413; a parameter given twice stays twice (oidc-provider
 * then answers `invalid_request`, as for a GET).
 */
export function postToGet(issuer: string) {
  const base = issuer.replace(/\/$/, '');
  return async (ctx: Context, next: Next) => {
    if (ctx.method !== 'POST' || !PATHS.has(ctx.path) || !ctx.is('application/x-www-form-urlencoded')) return next();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of ctx.req) {
      size += (chunk as Buffer).length;
      if (size > MAX_FORM_BYTES) {
        ctx.status = 413;
        ctx.body = { error: 'invalid_request', error_description: `the request has more than ${MAX_FORM_BYTES} bytes` };
        return;
      }
      chunks.push(chunk as Buffer);
    }
    const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    ctx.status = 303;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(`${base}${ctx.path}?${params.toString()}`);
  };
}
