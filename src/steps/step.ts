import type { Context } from 'koa';
import type { InteractionResults } from 'oidc-provider';
import type { z } from 'zod';
import type { AuditContext } from '../audit.ts';

/** A parsed form body, or a view model: names to values. */
export type Fields = Record<string, unknown>;

/** Field messages of a form: field name → message codes (src/i18n/messages.ts), shown next to the input. */
export type FieldErrors = Record<string, string[]>;

/** A page to show: a view (`views/<view>.ejs`, the step's own when absent), its status and values. */
export interface Page {
  view?: string;
  status: number;
  data: Fields;
}

/**
 * What a submit decides (ARCHITECTURE "How a step works"), for interaction sub-steps and
 * self-service flows alike:
 * - `finish`: the prompt or the flow is over: an interaction result (oidc-provider resumes the
 *   authorization request), a redirect that ends the flow (303), a final page, or — for flows whose
 *   state can no longer be used — the first step again with a message (`restart`);
 * - `next`: save `state` and answer 303 to the URL that shows the step it names (GET-after-POST:
 *   flows, the step's URL; interactions, `/interaction/:uid`); what that page says on arrival is
 *   the step's `greeting`, from the state;
 * - `retry`: the same step again with `status`, a form message and/or field messages; `state`, when
 *   given, is saved first (e.g. a failed text message takes the person back to the choice).
 */
export type StepResult<S> =
  | { kind: 'finish'; result: InteractionResults }
  | { kind: 'finish'; redirect: string }
  | { kind: 'finish'; page: Page }
  | { kind: 'finish'; restart: { status: number; formError: string } }
  | { kind: 'next'; state: S }
  | { kind: 'retry'; status: number; formError?: string | null; formErrorParams?: Fields; errors?: FieldErrors; data?: Fields; state?: S };

/** What every step sees: the request, the state of its flow or interaction, and the audit context. */
export interface StepContextBase<S> {
  ctx: Context;
  state: S;
  /** Client address, user agent (and client id in an interaction) for audit events. */
  info: AuditContext & { ip: string };
}

/**
 * One screen. `name` is its URL segment (interactions: the sub-step's name; flows: the path) and
 * `view` its template. The engine (engine.ts) checks CSRF, parses `input` (failures: 422 with field
 * messages, `echo` gives the values typed back), consumes `rateLimit` per client address (429 with
 * Retry-After and an audit event), then calls `submit` with the parsed input. `model` gives the
 * values the view shows (besides the page's own).
 */
export interface Step<C extends StepContextBase<S>, S, I = Fields> {
  name: string;
  view: string;
  /** The form's schema; a function when the rules depend on the state (e.g. the channels offered). */
  input?: z.ZodType<I> | ((c: C) => z.ZodType<I>);
  echo?(body: Fields): Fields;
  rateLimit?: string;
  model(c: C): Promise<Fields>;
  /** Values shown on a GET only (e.g. "we sent a code" when arriving from the previous step). */
  greeting?(c: C): Fields;
  submit(c: C, input: I): Promise<StepResult<S>>;
}

/** Reads a string field of a parsed form body (arrays and objects are not strings). */
export function field(body: Fields, name: string): string | undefined {
  const v = body[name];
  return typeof v === 'string' ? v : undefined;
}

/** Client address and user agent of the request, for audit events and rate limits. */
export function requestInfo(ctx: Context): { ip: string; userAgent: string | null } {
  return { ip: ctx.ip, userAgent: ctx.get('user-agent') || null };
}

/** The form body of a request (`{}` when there is none). */
export function bodyOf(ctx: Context): Fields {
  const body = ctx.request.body;
  return body && typeof body === 'object' ? (body as Fields) : {};
}

/**
 * Field messages of a zod failure: each issue's message is a message code, grouped by the first
 * path segment (issues without a path go to `form`).
 */
export function fieldErrors(error: z.ZodError): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of error.issues) {
    const name = issue.path.length ? String(issue.path[0]) : 'form';
    const list = (out[name] ??= []);
    if (!list.includes(issue.message)) list.push(issue.message);
  }
  return out;
}
