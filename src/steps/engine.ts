import type { Context } from 'koa';
import type { Kysely } from 'kysely';
import { audit } from '../audit.ts';
import type { Clock } from '../clock.ts';
import type { Database } from '../db/schema.ts';
import { AppError } from '../http/errors.ts';
import { holdsNul } from '../http/refuse-nul.ts';
import { verifyCsrf } from '../security/csrf.ts';
import type { RateLimits } from '../security/rate-limit.ts';
import { bodyOf, fieldErrors, type Fields, type Page, type Step, type StepContextBase, type StepResult } from './step.ts';

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
  /**
   * Carries out `next` (after saving: 303 to the URL that shows the new current step,
   * GET-after-POST) and every kind of `finish`.
   */
  settle(step: Step<C, S, unknown>, c: C, result: Exclude<StepResult<S>, { kind: 'retry' }>): Promise<void>;
  /**
   * Answers a form whose CSRF token failed ({@link postStep}) with `refusal` (403 `form.csrf`): a
   * page with its message; nothing is written.
   */
  refuse(ctx: Context, refusal: AppError): Promise<void>;
  /** Shows the first step again with a message: no usable state (409), or it expired (410). */
  startOver(ctx: Context, reason: { expired: boolean }): Promise<void>;
}

/**
 * Where a browser stands for the step it asked for (hosts find it, {@link arrive} answers):
 * - `here`: the step may be used now, with its context;
 * - `elsewhere`: the state is alive but at another step (a later URL, the back button, a replayed
 *   form): 303 to `location`, the URL that shows the step the person is actually at;
 * - `nowhere`: there is no usable state (none, or `expired`): the first step with a message;
 * - `shown`: the host already answered with a page (e.g. a step that refuses to begin).
 */
export type Position<C> = { at: 'here'; c: C } | { at: 'elsewhere'; location: string } | { at: 'nowhere'; expired: boolean } | { at: 'shown' };

/**
 * THE answer to a step taken out of order, for every flow and every interaction (README
 * "Steps taken out of order"): the step the person is actually at, by 303 (GET-after-POST for a
 * form; the state is unchanged, nothing is submitted); with no usable state, the first step again
 * with a message ({@link StepHost.startOver}: 409, 410 when it expired).
 * @returns the step's context when it may be used now, else undefined (the answer is given).
 */
export async function arrive<C extends StepContextBase<S>, S>(host: StepHost<C, S>, ctx: Context, position: Position<C>): Promise<C | undefined> {
  if (position.at === 'here') return position.c;
  if (position.at === 'elsewhere') {
    ctx.status = 303;
    ctx.redirect(position.location);
  } else if (position.at === 'nowhere') {
    await host.startOver(ctx, { expired: position.expired });
  }
  return undefined;
}

/**
 * Shows a step on a GET: its model, then what it says on arrival only (`greeting`, e.g. "we sent
 * a code" after the previous step's 303).
 */
export async function showStep<C extends StepContextBase<S>, S>(host: StepHost<C, S>, step: Step<C, S, unknown>, c: C): Promise<void> {
  await host.show(step, c, { status: 200, data: step.greeting?.(c) ?? {} });
}

/**
 * The POST of a step, for every flow and interaction:
 * 1. checks the CSRF token of the form (src/security/csrf.ts) before anything is read or written —
 *    a missing, foreign, tampered or expired token gets {@link StepHost.refuse} (403 `form.csrf`);
 * 2. finds where the browser stands (`locate`) and applies {@link arrive} (out of order: 303 to the
 *    current step; no usable state: the first step with a message);
 * 3. runs the step with the parsed body ({@link runStep}).
 * @param step the step to run at the position found (an interaction's depends on its state).
 */
export async function postStep<C extends StepContextBase<S>, S>(deps: EngineDeps, host: StepHost<C, S>, ctx: Context, locate: () => Promise<Position<C>>, step: (c: C) => Step<C, S, unknown>): Promise<void> {
  try {
    verifyCsrf(ctx);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return host.refuse(ctx, err);
  }
  const c = await arrive(host, ctx, await locate());
  if (c) await runStep(deps, host, step(c), c, bodyOf(ctx));
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
 * Runs the POST of one step (CSRF and the position were checked by {@link postStep}):
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
  // A NUL character that the step's schema let through (a field it reads as any text) must not reach
  // PostgreSQL, which refuses text holding one (500): the form's message, 422, nothing done.
  if (holdsNul(input)) return host.show(anyStep, c, { status: 422, data: { values: {}, formError: 'form.invalid_characters' } });
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
