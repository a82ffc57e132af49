import type { Context, Next } from 'koa';

/**
 * Security headers for the IdP's own pages: a CSP without inline script, frame-ancestors 'none',
 * nosniff, no referrer, and HSTS in production. `ctx.state.formActionOrigins` adds origins to
 * `form-action` (browsers apply it to the redirects after a form post, so an interaction page
 * must allow the client's redirect origin).
 */
export function securityHeaders(opts: { production: boolean }) {
  return async (ctx: Context, next: Next) => {
    await next();
    if (!ctx.response.is('html')) return;
    const extra = ((ctx.state.formActionOrigins as string[] | undefined) ?? []).join(' ');
    ctx.set(
      'Content-Security-Policy',
      [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        `form-action 'self'${extra ? ` ${extra}` : ''}`,
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
      ].join('; '),
    );
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    if (opts.production) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
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
