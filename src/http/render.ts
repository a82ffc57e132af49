import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import type { Context } from 'koa';
import { t } from '../i18n/messages.ts';

export const viewsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views');

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
  const html = await ejs.renderFile(path.join(viewsDir, `${view}.ejs`), {
    ...globals,
    t,
    csrfToken: typeof ctx.state.csrfToken === 'function' ? ctx.state.csrfToken() : '',
    title: '',
    notice: null,
    errors: {},
    formError: null,
    values: {},
    ...data,
  }, { async: false });
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = html;
}
