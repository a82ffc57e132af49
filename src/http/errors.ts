/**
 * The one application error: a stable dotted `code` (a key of the message catalog), the HTTP
 * status to answer with, and optionally the form field it concerns.
 */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly field?: string;
  readonly params?: Record<string, string | number>;
  constructor(code: string, status = 400, opts: { field?: string; params?: Record<string, string | number> } = {}) {
    super(code);
    this.code = code;
    this.status = status;
    this.field = opts.field;
    this.params = opts.params;
  }
}
