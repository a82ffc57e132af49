import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { render } from '../http/render.ts';
import { verifyCsrf } from '../security/csrf.ts';
import type { Services } from '../services.ts';
import { runStep, type StepHost } from '../steps/engine.ts';
import { bodyOf, requestInfo, type Fields, type Page, type Step, type StepContextBase } from '../steps/step.ts';
import { loginUrl } from './login-link.ts';
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
  /** Values shown on a GET only (e.g. "we sent a code" when arriving from the previous step). */
  greeting?(c: FlowContext<S>): Fields;
  /** A GET here begins the flow at once (registration's Terms of Use; `at` then applies to POST only), or refuses with a page. */
  enter?(c: FlowContext<S>): Promise<{ state: S } | Page>;
  /** More buttons of the same screen (e.g. Resend): POST `path`, run like a step without input. */
  actions?: { path: string; rateLimit?: string; submit: FlowStep<S, Fields>['submit'] }[];
}

/** A self-service flow: its steps, where its state lives, and its one answer to a step taken out of order. */
export interface FlowDefinition<S extends FlowState> {
  /** Flow kind: the cookie is `pidp.flow.<kind>` (see store.ts). */
  kind: string;
  ttlSeconds: number;
  steps: FlowStep<S, any>[];
  /**
   * A step taken out of order (a later URL, the back button, a replayed form) while the flow is
   * alive: `resume` answers 303 to the flow's current step; `restart` ends the flow and shows the
   * first step again (409 `recovery.start_over`): for flows where going back must not reuse what was
   * done (Forgot Password: a code was already sent or verified).
   */
  outOfOrder: 'resume' | 'restart';
  /** The page shown when there is no usable flow (409), or it expired (410), or it restarts. */
  restartPage(c: FlowContext<S>, reason: { expired: boolean; formError?: string }): Page;
}

/**
 * Mounts a flow's steps on the router. The rules every flow shares live here and in the engine:
 * - every POST checks the CSRF token first (403 error page, nothing read or written);
 * - a step needs a live flow of this browser at one of its `at` steps. No flow: the flow's restart
 *   page, 409 (410 with `…flow_expired` while the browser still carries the cookie of an expired
 *   flow); a flow at another step: {@link FlowDefinition.outOfOrder};
 * - input, rate limits, 422/429 and the outcomes: {@link runStep}; `next` saves the state and
 *   answers 303 to its step's URL (GET-after-POST); `finish` ends the flow.
 */
export function mountFlow<S extends FlowState>(router: Router, services: Services, provider: Provider, def: FlowDefinition<S>): FlowStore<S> {
  const { config } = services;
  const store = new FlowStore<S>(def.kind, services.db, services.clock, def.ttlSeconds, config.NODE_ENV === 'production');
  const first = def.steps[0];
  const pathOf = (step: string) => def.steps.find((s) => s.name === step)?.path ?? first.path;

  const context = (ctx: Context, state: S | undefined, stored: boolean): FlowContext<S> => ({
    ctx,
    state: state as S,
    stored,
    info: requestInfo(ctx),
    services,
    provider,
    loginUrl: (notice) => loginUrl(provider, config, state?.interactionUid, notice),
  });

  async function show(step: Step<FlowContext<S>, S, unknown>, c: FlowContext<S>, page: Page): Promise<void> {
    const data = { ...(await step.model(c)), ...page.data };
    const view = page.view ?? (typeof data.view === 'string' ? data.view : step.view);
    await render(c.ctx, view, data, page.status);
  }

  async function restart(ctx: Context, state: S | undefined, reason: { expired: boolean; formError?: string }, status: number): Promise<void> {
    if (state) await store.end(ctx);
    const c = context(ctx, state, false);
    const page = def.restartPage(c, reason);
    await show(first, c, { ...page, status });
  }

  /** The browser's flow when `step` may be used now; otherwise answers and returns undefined. */
  async function guard(ctx: Context, step: FlowStep<S, unknown>, entering = false): Promise<FlowContext<S> | undefined> {
    if (step.at === 'start' || entering) return context(ctx, undefined, false);
    const state = await store.load(ctx);
    if (state && step.at.includes(state.step)) return context(ctx, state, true);
    if (!state) {
      await restart(ctx, undefined, { expired: store.hasCookie(ctx) }, store.hasCookie(ctx) ? 410 : 409);
    } else if (def.outOfOrder === 'resume') {
      ctx.status = 303;
      ctx.redirect(pathOf(state.step));
    } else {
      await restart(ctx, state, { expired: false, formError: 'recovery.start_over' }, 409);
    }
    return undefined;
  }

  const host: StepHost<FlowContext<S>, S> = {
    show,
    async save(c, state) {
      if (c.stored) await store.save(c.ctx, state);
      else await store.start(c.ctx, state);
      c.state = state;
      c.stored = true;
    },
    async settle(step, c, result) {
      const { ctx } = c;
      if (result.kind === 'next') {
        ctx.status = 303;
        ctx.redirect(pathOf(result.state.step));
      } else if ('redirect' in result) {
        await store.end(ctx);
        ctx.status = 303;
        ctx.redirect(result.redirect);
      } else if ('page' in result) {
        await store.end(ctx);
        await show(step, c, result.page);
      } else if ('restart' in result) {
        await restart(ctx, c.state, { expired: false, formError: result.restart.formError }, result.restart.status);
      } else {
        throw new Error(`flow ${def.kind}: an interaction result cannot finish a flow`);
      }
    },
  };

  for (const step of def.steps as FlowStep<S, unknown>[]) {
    router.get(step.path, async (ctx) => {
      const c = await guard(ctx, step, !!step.enter);
      if (!c) return;
      if (step.enter) {
        const entered = await step.enter(c);
        if (!('state' in entered)) return show(step, c, entered);
        await host.save(c, entered.state);
      }
      await show(step, c, { status: 200, data: step.greeting?.(c) ?? {} });
    });
    if (step.postPath !== null) {
      router.post(step.postPath ?? step.path, async (ctx) => {
        verifyCsrf(ctx);
        const c = await guard(ctx, step);
        if (c) await runStep(services, host, step, c, bodyOf(ctx));
      });
    }
    for (const action of step.actions ?? []) {
      router.post(action.path, async (ctx) => {
        verifyCsrf(ctx);
        const c = await guard(ctx, step);
        if (c) await runStep(services, host, { ...step, input: undefined, rateLimit: action.rateLimit, submit: action.submit }, c, bodyOf(ctx));
      });
    }
  }
  return store;
}
