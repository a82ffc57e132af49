import type { Kysely } from 'kysely';
import { audit } from '../audit.ts';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/schema.ts';
import type { RateLimits } from '../security/rate-limit.ts';
import { fieldErrors, type Fields, type Page, type Step, type StepContextBase, type StepResult } from './step.ts';

/** What the engine needs from the application. */
export interface EngineDeps {
  db: Kysely<Database>;
  clock: Clock;
  rateLimits: RateLimits;
}

/**
 * Where steps run: an interaction (state in oidc-provider's interaction) or a self-service flow
 * (state in a {@link FlowStore} row). The engine decides; the host shows pages and keeps state.
 */
export interface StepHost<C extends StepContextBase<S>, S> {
  /** Shows `step` (its model, then `page.data`) with `page.status`; `page.view` replaces the step's view. */
  show(step: Step<C, S, unknown>, c: C, page: Page): Promise<void>;
  /** Saves the state (a `retry` that moves the person, or a `next`). */
  save(c: C, state: S): Promise<void>;
  /** Carries out `next` (after saving) and every kind of `finish`. */
  settle(step: Step<C, S, unknown>, c: C, result: Exclude<StepResult<S>, { kind: 'retry' }>): Promise<void>;
}

/** Minutes to show for a wait of `seconds` (at least 1). */
export function minutesOf(seconds: number): number {
  return Math.max(1, Math.ceil(seconds / 60));
}

/**
 * Consumes one point of the named limit for the client address. Refused: audit `rate_limited`
 * (with the limit's name) and the form message `http.rate_limited` with the minutes to wait
 * (render() turns it into `Retry-After`, RFC 9110 §10.2.3).
 * @returns undefined when allowed, else the 429 page data.
 */
export async function consumeLimit(deps: EngineDeps, limit: string, info: StepContextBase<unknown>['info']): Promise<Page | undefined> {
  const limited = await deps.rateLimits.consume(limit, info.ip);
  if (limited.allowed) return undefined;
  await audit(deps.db, deps.clock, 'rate_limited', null, info, { limit });
  return { status: 429, data: { formError: 'http.rate_limited', formErrorParams: { minutes: minutesOf(limited.retryAfterSeconds) } } };
}

/**
 * Runs the POST of one step (CSRF was checked by the host before the state was read):
 * 1. parses the body with `step.input` — a failure shows the step again, 422, with field messages;
 * 2. consumes `step.rateLimit` per client address — refused: 429 with Retry-After, audit `rate_limited`;
 * 3. calls `step.submit` and carries out its result: `retry` shows the step again (after saving the
 *    state it carries), `next` saves and moves on, `finish` ends the prompt or the flow.
 * Never throws for bad input: every refusal is a page with a 4xx.
 */
export async function runStep<C extends StepContextBase<S>, S, I>(deps: EngineDeps, host: StepHost<C, S>, step: Step<C, S, I>, c: C, body: Fields): Promise<void> {
  const anyStep = step as unknown as Step<C, S, unknown>;
  const echo = step.echo?.(body) ?? {};
  let input = body as unknown as I;
  if (step.input) {
    const schema = typeof step.input === 'function' ? step.input(c) : step.input;
    const parsed = await schema.safeParseAsync(body); // async: a rule may ask the database (e.g. a username taken)
    if (!parsed.success) {
      // Messages about the form as a whole (no field) show above it.
      const { form, ...errors } = fieldErrors(parsed.error);
      return host.show(anyStep, c, { status: 422, data: { values: echo, errors, ...(form ? { formError: form[0] } : {}) } });
    }
    input = parsed.data;
  }
  if (step.rateLimit) {
    const refused = await consumeLimit(deps, step.rateLimit, c.info);
    if (refused) return host.show(anyStep, c, { status: 429, data: { values: echo, ...refused.data } });
  }
  const result = await step.submit(c, input);
  if (result.kind === 'retry') {
    if (result.state !== undefined) await host.save(c, result.state);
    const data: Fields = { values: echo, ...result.data };
    if (result.formError !== undefined) data.formError = result.formError;
    if (result.formErrorParams) data.formErrorParams = result.formErrorParams;
    if (result.errors) data.errors = result.errors;
    return host.show(anyStep, c, { status: result.status, data });
  }
  if (result.kind === 'next') await host.save(c, result.state);
  return host.settle(anyStep, c, result);
}

/** A `retry` with a form message (a code of the catalog) and optional placeholders. */
export function retry<S>(status: number, formError: string, formErrorParams?: Fields, extra: Partial<Extract<StepResult<S>, { kind: 'retry' }>> = {}): StepResult<S> {
  return { kind: 'retry', status, formError, formErrorParams, ...extra };
}
