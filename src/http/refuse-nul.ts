import type { Context, Next } from 'koa';
import { AppError } from './errors.ts';

/** True when `value` (a string, or arrays/objects of them, keys included) holds a NUL character anywhere. */
export function holdsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (depth > 8 || value === null || typeof value !== 'object') return false;
  return Object.entries(value as Record<string, unknown>).some(([k, v]) => k.includes('\u0000') || holdsNul(v, depth + 1));
}

/** The decoded path, or the raw one when it is not valid percent-encoding (the router answers that). */
function decodedPath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/**
 * Refuses any request to the IdP's own pages and API whose path (ids such as
 * `/delegates/%00/remove`) or query holds a NUL character (U+0000, `%00`): PostgreSQL cannot store
 * or even compare text with one (it fails the statement: "invalid byte sequence for encoding UTF8:
 * 0x00", a 500). No valid value of ours holds one. Form fields are checked by the step engine after
 * the step's schema (src/steps/engine.ts: the schema's own field message first, else the form's
 * message, 422). oidc-provider's endpoints are guarded in the adapter (src/oidc/adapter.ts) and
 * answer in the OAuth error format.
 * @throws AppError('form.invalid_characters', 400): the error page (or JSON) with that message.
 */
export function refuseNul() {
  return async function refuseNulInput(ctx: Context, next: Next): Promise<void> {
    if (decodedPath(ctx.path).includes('\u0000') || holdsNul(ctx.query)) {
      throw new AppError('form.invalid_characters', 400);
    }
    await next();
  };
}
