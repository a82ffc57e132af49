import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import type { Context } from 'koa';
import { t } from '../i18n/messages.ts';

export const viewsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views');

let compileOnce = false;

/**
 * Whether {@link render} compiles each template once and keeps it (ejs `cache`), or reads and
 * compiles it at every render so edited views show at once. `createIdp` turns it on outside
 * NODE_ENV=development (issue 12: compiling cost main-thread time on every page).
 */
export function cacheTemplates(on: boolean): void {
  compileOnce = on;
}

/** Values every IdP page receives (branding from configuration). */
export interface PageGlobals {
  organizationName: string;
  productName: string;
  helpDeskPhone: string;
  supportEmail: string;
}

/**
 * Renders `views/<view>.ejs` into the response with `status` (HTML, no-store).
 * Every value is HTML-escaped by `<%= %>`; `t` (the message catalog) and `csrfToken` are available.
 */
export async function render(ctx: Context, view: string, data: Record<string, unknown> = {}, status = 200): Promise<void> {
  const globals = ctx.state.pageGlobals as PageGlobals;
  ctx.state.ownPage = true;
  const html = await ejs.renderFile(path.join(viewsDir, `${view}.ejs`), {
    ...globals,
    // Branding values (e.g. {helpDeskPhone}) fill any message's placeholders.
    t: (code: string, params: Record<string, string | number> = {}) => t(code, { ...(globals as unknown as Record<string, string>), ...params }),
    csrfToken: typeof ctx.state.csrfToken === 'function' ? ctx.state.csrfToken() : '',
    title: '',
    notice: null,
    errors: {},
    formError: null,
    values: {},
    ...data,
  }, { async: false, cache: compileOnce });
  ctx.status = status;
  if (status === 429) {
    // RFC 9110 §10.2.3: tell clients when to retry, from the wait the page announces.
    const p = { ...(data.formErrorParams as Record<string, number> | undefined), ...(data.noticeParams as Record<string, number> | undefined) };
    const seconds = typeof p.seconds === 'number' ? p.seconds : typeof p.minutes === 'number' ? p.minutes * 60 : undefined;
    if (seconds !== undefined) ctx.set('Retry-After', String(seconds));
  }
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = html;
}
