/**
 * Error codes that mean "the database cannot be reached right now" rather than "this query is
 * wrong": socket errors (ECONNREFUSED …), PostgreSQL's class 08 (connection exception) and 57P01-03
 * (the server is shutting down, or not accepting connections yet). Source: PostgreSQL "Appendix A.
 * PostgreSQL Error Codes"; Node.js `os.constants.errno`.
 */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  '57P01', '57P02', '57P03',
]);

/** Messages of `pg` (node-postgres) for a connection that failed, timed out or was cut. */
const UNAVAILABLE_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection refused|the database system is (starting up|shutting down)|terminating connection due to administrator command/i;

/**
 * True when `err` (or an error it wraps, through `cause` or AggregateError's `errors`) says that
 * the database is unreachable, so the request should get 503 "temporarily unavailable" instead of
 * 500, and may be retried.
 */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 4) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  if (typeof e.message === 'string' && UNAVAILABLE_MESSAGES.test(e.message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isDatabaseUnavailable(x, depth + 1))) return true;
  return isDatabaseUnavailable(e.cause, depth + 1);
}

/** Thrown when the database stays unreachable at start-up after the bounded wait. */
export class DatabaseUnreachableError extends Error {}

/** Thrown when PostgreSQL answers but refuses (no such database or role, wrong password): DATABASE_URL is wrong. */
export class DatabaseConfigError extends Error {}

/**
 * True for a database outage ({@link isDatabaseUnavailable}) or the OAuth `temporarily_unavailable`
 * error that the oidc-provider adapter turns it into.
 */
export function isTemporarilyUnavailable(err: unknown): boolean {
  return isDatabaseUnavailable(err) || (!!err && typeof err === 'object' && (err as { error?: unknown }).error === 'temporarily_unavailable');
}
