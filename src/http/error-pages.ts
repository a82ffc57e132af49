import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { isTemporarilyUnavailable } from '../db/availability.ts';
import { AppError } from './errors.ts';
import { render, type PageGlobals } from './render.ts';

/** Seconds a client is asked to wait (Retry-After) while the database is unreachable. */
export const UNAVAILABLE_RETRY_SECONDS = 30;

/**
 * Answers 503 while the database cannot be reached (RFC 9110 §15.6.4, with Retry-After): the OAuth
 * error `temporarily_unavailable` (RFC 6749 §4.1.2.1) as JSON to clients that do not ask for HTML,
 * a "temporarily unavailable" page to browsers; never a stack trace, never "your sign-in expired".
 */
export async function answerUnavailable(ctx: Context, portalUrl: string): Promise<void> {
  ctx.set('Retry-After', String(UNAVAILABLE_RETRY_SECONDS));
  if (ctx.accepts('json', 'html') === 'html') {
    await render(ctx, 'idp/error', { title: 'Temporarily unavailable', error: null, description: null, message: 'http.temporarily_unavailable', portalUrl }, 503);
    return;
  }
  ctx.status = 503;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable. Try again later.' };
}

/**
 * Where an error page leads on: on the signed-in person's own pages (My Account `/account…`, View/Add
 * My Delegates `/delegates…` but not the invitation's pages) back to My Account, whose guard signs
 * in again when needed; elsewhere (sign-in, registration, recovery) the page's default, "Return to
 * Log In" (the portal).
 */
export function errorPageWayOn(path: string): { returnUrl: string; returnLabel: string } | Record<string, never> {
  const own = /^\/account(\/|$)/.test(path) || (/^\/delegates(\/|$)/.test(path) && !/^\/delegates\/(accept|register)(\/|$)/.test(path));
  return own ? { returnUrl: '/account', returnLabel: 'http.link.my_account' } : {};
}

/**
 * The IdP's error middleware (outermost after request logging): gives every page the branding
 * globals, renders our HTML page for a 404 nobody answered, for an AppError (its status and message
 * code), for a 413 body and for anything unexpected (500, logged with the request id, never a
 * stack trace on the page); a database outage anywhere (thrown, or reported by oidc-provider's
 * `server_error` event as `ctx.state.databaseUnavailable`) becomes {@link answerUnavailable} and is
 * counted by `onUnavailable`. The page's link is {@link errorPageWayOn}. Log lines name the request id, never the raw path (it may carry ids).
 */
export function errorPages(options: { globals: PageGlobals; portalUrl: string; logger: Logger; onUnavailable?: () => void }) {
  const { globals, portalUrl, logger, onUnavailable } = options;
  return async function errorPage(ctx: Context, next: Next): Promise<void> {
    ctx.state.pageGlobals = globals;
    try {
      await next();
      if (ctx.state.databaseUnavailable) {
        onUnavailable?.();
        await answerUnavailable(ctx, portalUrl);
      } else if (ctx.status === 503 && !ctx.response.get('Retry-After')) {
        ctx.set('Retry-After', String(UNAVAILABLE_RETRY_SECONDS)); // oidc-provider's temporarily_unavailable
      } else if (ctx.status === 404 && !ctx.body) {
        await render(ctx, 'idp/error', { title: 'Not found', error: null, description: null, message: 'http.not_found', portalUrl, ...errorPageWayOn(ctx.path) }, 404);
      }
    } catch (err) {
      if (isTemporarilyUnavailable(err)) {
        logger.error({ requestId: ctx.state.requestId, err: { message: (err as Error).message } }, 'database unavailable');
        onUnavailable?.();
        await answerUnavailable(ctx, portalUrl);
        return;
      }
      const appError = err instanceof AppError ? err : undefined;
      const raw = (err as { status?: unknown }).status;
      const status = appError?.status ?? (typeof raw === 'number' && raw < 500 ? raw : 500);
      if (status >= 500) logger.error({ err, requestId: ctx.state.requestId }, 'request failed');
      const code = appError?.code ?? (status === 413 ? 'form.too_long' : status < 500 ? 'http.bad_request' : 'http.server_error');
      await render(ctx, 'idp/error', { title: 'Something went wrong', error: null, description: null, message: code, messageParams: appError?.params ?? {}, portalUrl, ...errorPageWayOn(ctx.path) }, status);
    }
  };
}
