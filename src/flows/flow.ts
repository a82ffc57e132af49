import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { render } from '../http/render.ts';
import type { AppError } from '../http/errors.ts';
import type { Services } from '../services.ts';
import { arrive, postStep, showStep, type Position, type StepHost } from '../steps/engine.ts';
import { bodyOf, requestInfo, type Fields, type Page, type Step, type StepContextBase, type StepResult } from '../steps/step.ts';
import { interactionUidOf, loginUrl } from './login-link.ts';
import { FlowStore } from './store.ts';

/** The state every flow keeps: the step the browser may do next, and the interaction it came from. */
export interface FlowState extends Record<string, unknown> {
  step: string;
  interactionUid?: string;
}

/** What a flow step sees. `state` is undefined only on a step that starts the flow. */
export interface FlowContext<S extends FlowState> extends StepContextBase<S> {
  services: Services;
  provider: Provider;
  /** True when `state` is stored (false on a step that starts the flow: `next` then starts one). */
  stored: boolean;
  /** "Return to Log In" for this flow (see login-link.ts). */
  loginUrl(notice?: 'password_changed' | 'unlocked'): Promise<string>;
  /**
   * The interaction the flow came from: the state's, else the first page's `?interaction=` or its
   * hidden `interaction` field (a flow's first page carries it until the flow starts).
   */
  interactionUid(): string | undefined;
}

/** One screen of a self-service flow. */
export interface FlowStep<S extends FlowState, I = Fields> extends Step<FlowContext<S>, S, I> {
  /** GET shows the step here; POST submits here unless `postPath` says otherwise. */
  path: string;
  /** `null`: the screen has no form of its own (only `actions`). */
  postPath?: string | null;
  /**
   * The flow steps (`state.step`) at which this screen may be used; `'start'`: none needed, the
   * step's `next` starts a new flow (replacing the browser's previous one).
   */
  at: string[] | 'start';
  /** A GET here begins the flow at once (registration's Terms of Use; `at` then applies to POST only), or refuses with a page. */
  enter?(c: FlowContext<S>): Promise<{ state: S } | Page>;
  /** false: the state `enter` makes is not stored until the step is submitted (no row for a page view). */
  storeOnEnter?: boolean;
  /** More buttons of the same screen (e.g. Resend): POST `path`, run like a step without input. */
  actions?: { path: string; rateLimit?: string; submit: FlowStep<S, Fields>['submit'] }[];
}

/**
 * A self-service flow: its steps, where its state lives, and its first page when there is no usable
 * flow. A step taken out of order has ONE answer for every flow, the engine's ({@link arrive}).
 */
export interface FlowDefinition<S extends FlowState> {
  /** Flow kind: the cookie is `pidp.flow.<kind>` (see store.ts). */
  kind: string;
  ttlSeconds: number;
  steps: FlowStep<S, any>[];
  /** The page shown when there is no usable flow (409), or it expired (410), or it restarts. */
  restartPage(c: FlowContext<S>, reason: { expired: boolean; formError?: string }): Page;
}

/**
 * Where flow steps run (the engine's {@link StepHost}): the flow's state in a {@link FlowStore}
 * row bound to the browser, pages rendered from the step's view, `next` as 303 to the next step's
 * URL (GET-after-POST), `finish` ending the flow.
 */
class FlowHost<S extends FlowState> implements StepHost<FlowContext<S>, S> {
  readonly store: FlowStore<S>;
  readonly #services: Services;
  readonly #provider: Provider;
  readonly #def: FlowDefinition<S>;

  constructor(services: Services, provider: Provider, def: FlowDefinition<S>) {
    this.#services = services;
    this.#provider = provider;
    this.#def = def;
    this.store = new FlowStore<S>(def.kind, services.db, services.clock, def.ttlSeconds, services.config.NODE_ENV === 'production');
  }

  #pathOf(step: string): string {
    return (this.#def.steps.find((s) => s.name === step) ?? this.#def.steps[0]).path;
  }

  context(ctx: Context, state: S | undefined, stored: boolean): FlowContext<S> {
    const uid = () => state?.interactionUid ?? interactionUidOf(ctx.query.interaction) ?? interactionUidOf(bodyOf(ctx).interaction);
    return {
      ctx,
      state: state as S,
      stored,
      info: requestInfo(ctx),
      services: this.#services,
      provider: this.#provider,
      loginUrl: (notice) => loginUrl(this.#provider, this.#services.config, uid(), notice),
      interactionUid: uid,
    };
  }

  async show(step: Step<FlowContext<S>, S, unknown>, c: FlowContext<S>, page: Page): Promise<void> {
    const data = { ...(await step.model(c)), ...page.data };
    const view = page.view ?? (typeof data.view === 'string' ? data.view : step.view);
    await render(c.ctx, view, data, page.status);
  }

  /** Ends the browser's flow (when there is one) and shows the flow's restart page with `status`. */
  async restart(ctx: Context, state: S | undefined, reason: { expired: boolean; formError?: string }, status: number): Promise<void> {
    if (state) await this.store.end(ctx);
    const c = this.context(ctx, state, false);
    await this.show(this.#def.steps[0], c, { ...this.#def.restartPage(c, reason), status });
  }

  async refuse(_ctx: Context, refusal: AppError): Promise<void> {
    throw refusal; // the error page (src/http/error-pages.ts) with the refusal's status and message
  }

  async startOver(ctx: Context, reason: { expired: boolean }): Promise<void> {
    await this.restart(ctx, undefined, reason, reason.expired ? 410 : 409);
  }

  /**
   * Where this browser's flow stands for `step` (see {@link mountFlow}): `here` at one of the
   * step's `at` steps (or a step that starts the flow), `elsewhere` (the current step's URL) in a
   * live flow at another step, `nowhere` without one (`expired` while the browser still carries the
   * cookie of an expired flow).
   */
  async locate(ctx: Context, step: FlowStep<S, unknown>, entering = false): Promise<Position<FlowContext<S>>> {
    if (step.at === 'start' || entering) return { at: 'here', c: this.context(ctx, undefined, false) };
    const state = await this.store.load(ctx);
    if (state && step.at.includes(state.step)) return { at: 'here', c: this.context(ctx, state, true) };
    if (state) return { at: 'elsewhere', location: this.#pathOf(state.step) };
    return { at: 'nowhere', expired: this.store.hasCookie(ctx) };
  }

  async save(c: FlowContext<S>, state: S): Promise<void> {
    if (c.stored) await this.store.save(c.ctx, state);
    else await this.store.start(c.ctx, state);
    c.state = state;
    c.stored = true;
  }

  async settle(step: Step<FlowContext<S>, S, unknown>, c: FlowContext<S>, result: Exclude<StepResult<S>, { kind: 'retry' }>): Promise<void> {
    const { ctx } = c;
    if (result.kind === 'next') {
      ctx.status = 303;
      ctx.redirect(this.#pathOf(result.state.step));
    } else if ('redirect' in result) {
      await this.store.end(ctx);
      ctx.status = 303;
      ctx.redirect(result.redirect);
    } else if ('page' in result) {
      await this.store.end(ctx);
      await this.show(step, c, result.page);
    } else if ('restart' in result) {
      await this.restart(ctx, c.state, { expired: false, formError: result.restart.formError }, result.restart.status);
    } else {
      throw new Error(`flow ${this.#def.kind}: an interaction result cannot finish a flow`);
    }
  }
}

/**
 * Mounts a flow's steps on the router. The rules every flow shares live in the engine
 * (src/steps/engine.ts):
 * - every POST checks the CSRF token first (403 error page, nothing read or written);
 * - a step needs a live flow of this browser at one of its `at` steps. No flow: the flow's restart
 *   page, 409 (410 with `…flow_expired` while the browser still carries the cookie of an expired
 *   flow); a flow at another step: 303 to that step's URL ({@link arrive});
 * - input, rate limits, 422/429 and the outcomes: {@link runStep}; `next` saves the state and
 *   answers 303 to its step's URL (GET-after-POST); `finish` ends the flow.
 * @returns the flow's store (pages outside the steps read the browser's flow with it).
 */
export function mountFlow<S extends FlowState>(router: Router, services: Services, provider: Provider, def: FlowDefinition<S>): FlowStore<S> {
  const host = new FlowHost(services, provider, def);
  for (const step of def.steps as FlowStep<S, unknown>[]) {
    router.get(step.path, async (ctx) => {
      const c = await arrive(host, ctx, await host.locate(ctx, step, !!step.enter));
      if (!c) return;
      if (step.enter) {
        const entered = await step.enter(c);
        if (!('state' in entered)) return host.show(step, c, entered);
        if (step.storeOnEnter === false) c.state = entered.state;
        else await host.save(c, entered.state);
      }
      await showStep(host, step, c);
    });
    const posts = [...(step.postPath === null ? [] : [{ path: step.postPath ?? step.path, run: step }])];
    for (const action of step.actions ?? []) posts.push({ path: action.path, run: { ...step, input: undefined, rateLimit: action.rateLimit, submit: action.submit } });
    for (const post of posts) {
      router.post(post.path, (ctx) => postStep(services, host, ctx, () => locatePost(host, ctx, step), () => post.run));
    }
  }
  return host.store;
}

/**
 * The position of a flow POST. A step entered without storing its state (`storeOnEnter: false`) is
 * submitted from no stored state, or from a flow at a step that cannot come back here (which the
 * new one replaces, as a new GET did): it is entered again first.
 */
async function locatePost<S extends FlowState>(host: FlowHost<S>, ctx: Context, step: FlowStep<S, unknown>): Promise<Position<FlowContext<S>>> {
  const stored = step.enter && step.storeOnEnter === false ? await host.store.load(ctx) : undefined;
  const fresh = !!step.enter && step.storeOnEnter === false && (!stored || (step.at !== 'start' && !step.at.includes(stored.step)));
  const position = await host.locate(ctx, step, fresh);
  if (!fresh || position.at !== 'here') return position;
  const entered = await step.enter!(position.c);
  if (!('state' in entered)) {
    await host.show(step, position.c, entered);
    return { at: 'shown' };
  }
  position.c.state = entered.state;
  return position;
}
