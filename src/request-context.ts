import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** What counts audit events (the process's metrics, src/observability/metrics.ts). */
export interface AuditObserver {
  observeAudit(type: string, details: Record<string, unknown>): void;
}

/**
 * What every piece of code running for one HTTP request may want to know without it being passed
 * down: the request id (written on audit rows and log lines) and the process's metrics.
 */
export interface RequestContext {
  requestId: string;
  metrics?: AuditObserver;
  /** The name of the rate limit that refused this request, when one did (for the refusal metric). */
  rateLimit?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** The context of the request being served, or undefined outside a request (CLI, jobs). */
export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}

/** Runs `fn` (and everything it awaits) inside `context`. */
export function runInRequest<T>(context: RequestContext, fn: () => Promise<T>): Promise<T> {
  return storage.run(context, fn);
}

/** What an incoming X-Request-Id may look like to be kept (printable, no spaces, ≤ 128 characters). */
const REQUEST_ID = /^[A-Za-z0-9._:\-]{1,128}$/;

/**
 * The request id of an incoming request: the `X-Request-Id` header when a trusted proxy sent it
 * (TRUST_PROXY) and it is well-formed, else a new random UUID (RFC 9562 v4).
 */
export function requestIdFor(header: string | undefined, trustProxy: boolean): string {
  if (trustProxy && header && REQUEST_ID.test(header)) return header;
  return randomUUID();
}
