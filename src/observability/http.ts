import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.ts';
import { routeTemplate } from './metrics.ts';
import { requestIdFor, runInRequest, type RequestContext } from '../request-context.ts';

/**
 * The outermost middleware of an app (IdP or portal): gives the request its id (the trusted proxy's
 * `X-Request-Id`, else a new one), sends it back in `X-Request-Id`, runs the request inside that
 * context (audit rows and log lines carry it), and when the response is done writes ONE JSON log
 * line (`method`, `route` template, `status`, `durationMs` in milliseconds, `requestId`) and observes
 * the duration histogram by route template and status class.
 *
 * Never logged: the query string, headers, cookies and bodies (they carry codes, tokens and
 * passwords); the route template stands for the path.
 */
export function requestLogging(options: { logger: Logger; metrics?: Metrics; trustProxy: boolean }) {
  const { logger, metrics, trustProxy } = options;
  return async function requestLog(ctx: Context, next: Next): Promise<void> {
    const started = process.hrtime.bigint();
    const requestId = requestIdFor(ctx.get('x-request-id') || undefined, trustProxy);
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    let failed: unknown;
    const context: RequestContext = { requestId, metrics };
    try {
      await runInRequest(context, next);
    } catch (err) {
      failed = err;
      throw err;
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const status = failed ? ((failed as { status?: number }).status ?? 500) : ctx.status;
      const route = routeTemplate(ctx as never);
      metrics?.httpDuration.observe({ method: ctx.method, route, status_class: `${Math.floor(status / 100)}xx` }, seconds);
      if (status === 429) metrics?.rateLimited.inc({ limit: context.rateLimit ?? route });
      const line = { requestId, method: ctx.method, route, status, durationMs: Math.round(seconds * 1e4) / 10 };
      if (status >= 500) logger.error(line, 'request');
      else logger.info(line, 'request');
    }
  };
}
