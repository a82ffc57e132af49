import path from 'node:path';
import type { Middleware } from 'koa';
import serve from 'koa-static';
import { viewsDir } from './render.ts';

/** The folder of the IdP's stylesheets and scripts (`public/`). */
export const publicDir = path.resolve(viewsDir, '../public');

/** URL prefixes of the files in `public/` that pages link to (`/css/idp.css`, `/js/password-checklist.js`, …). */
export const STATIC_PREFIXES = ['/css/', '/js/'] as const;

/** How long browsers may keep a static file, milliseconds (Cache-Control max-age=3600). */
export const STATIC_MAX_AGE_MS = 3600_000;

/**
 * Serves `public/` (koa-static, no directory index, Cache-Control max-age=3600) for GET and HEAD
 * requests under {@link STATIC_PREFIXES} only. Every other request (`/auth`, `/token`,
 * `/interaction/…`, `/jwks`, `/me`, …) passes straight on without touching the file system, so the
 * protocol endpoints do not queue `fs.stat` calls on the libuv pool behind password hashes (issue 12).
 * Requests it serves are labelled `static` in logs and metrics.
 */
export function staticFiles(): Middleware {
  const files = serve(publicDir, { maxage: STATIC_MAX_AGE_MS, index: false });
  return async (ctx, next) => {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || !STATIC_PREFIXES.some((p) => ctx.path.startsWith(p))) return next();
    ctx.state.routeTemplate = 'static';
    return files(ctx, next);
  };
}
