import type { Context, Next } from 'koa';

const BASE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
];

/**
 * Security headers: a CSP without inline script, frame-ancestors 'none', nosniff, no referrer, and
 * HSTS in production.
 *
 * The CSP is set BEFORE the handler runs, because oidc-provider's own HTML (the `form_post`
 * response mode, the auto-submitted logout confirmation) adds the SHA-256 of its one inline script
 * to the `script-src` it finds. Our pages (rendered by http/render.ts, which sets
 * `ctx.state.ownPage`) then get `form-action 'self'` plus `ctx.state.formActionOrigins`: browsers
 * apply form-action to the redirects after a form post, so an interaction page must allow the
 * client's redirect origin. oidc-provider's pages post to the client's redirect URI themselves, so
 * they get no form-action restriction.
 */
export function securityHeaders(opts: { production: boolean }) {
  return async (ctx: Context, next: Next) => {
    ctx.set('Content-Security-Policy', BASE_CSP.join('; '));
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    if (opts.production) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    await next();
    if (ctx.state.ownPage) {
      const extra = ((ctx.state.formActionOrigins as string[] | undefined) ?? []).join(' ');
      ctx.set('Content-Security-Policy', [...BASE_CSP, `form-action 'self'${extra ? ` ${extra}` : ''}`].join('; '));
    }
  };
}

/** The origins of a list of URLs (invalid ones skipped), for CSP source lists. */
export function originsOf(urls: readonly string[]): string[] {
  const out = new Set<string>();
  for (const u of urls) {
    try {
      const o = new URL(u).origin;
      if (o !== 'null') out.add(o);
    } catch {
      /* not a URL */
    }
  }
  return [...out];
}
