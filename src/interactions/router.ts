import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { isTemporarilyUnavailable } from '../db/availability.ts';
import { AppError } from '../http/errors.ts';
import { render } from '../http/render.ts';
import { originsOf } from '../http/security-headers.ts';
import { verifyCsrf } from '../security/csrf.ts';
import type { Services } from '../services.ts';
import { runStep, type StepHost } from '../steps/engine.ts';
import { bodyOf, requestInfo, type Page, type StepResult } from '../steps/step.ts';
import type { InteractionContext, InteractionDetails, InteractionState, PromptSteps } from './context.ts';
import { pendingOf, savePending } from './pending.ts';

/**
 * Where interaction steps run (the engine's {@link StepHost}): the state is the interaction's own
 * pending sign-in (pending.ts), the shown step is the one of the prompt for that state (a saved
 * state may move the person to another sub-step), `next` shows the new sub-step at once, and
 * `finish` hands the result to oidc-provider (303 to where it resumes the authorization request).
 */
class InteractionHost implements StepHost<InteractionContext, InteractionState> {
  readonly #services: Services;
  readonly #provider: Provider;
  readonly #byName: Map<string, PromptSteps>;

  constructor(services: Services, provider: Provider, prompts: PromptSteps[]) {
    this.#services = services;
    this.#provider = provider;
    this.#byName = new Map(prompts.map((p) => [p.name, p]));
  }

  /** The interaction of this browser (uid of the URL), or AppError `interaction.expired` (400). */
  async load(ctx: Context): Promise<InteractionContext> {
    let details: InteractionDetails;
    try {
      details = await this.#provider.interactionDetails(ctx.req, ctx.res);
    } catch (err) {
      // A database outage is not an expired sign-in: the error middleware answers 503.
      if (isTemporarilyUnavailable(err)) throw err;
      throw new AppError('interaction.expired', 400);
    }
    if (details.uid !== ctx.params.uid) throw new AppError('interaction.expired', 400);
    const info = { ...requestInfo(ctx), clientId: String(details.params.client_id ?? '') };
    return { ctx, provider: this.#provider, details, services: this.#services, info, state: pendingOf(details) };
  }

  promptOf(c: InteractionContext): PromptSteps {
    const prompt = this.#byName.get(c.details.prompt.name);
    if (!prompt) throw new AppError('interaction.expired', 400);
    return prompt;
  }

  async show(_step: unknown, c: InteractionContext, page: Page): Promise<void> {
    const step = this.promptOf(c).stepFor(c.state);
    const client = await this.#provider.Client.find(String(c.details.params.client_id));
    const redirectUri = typeof c.details.params.redirect_uri === 'string' ? [c.details.params.redirect_uri] : [];
    c.ctx.state.formActionOrigins = originsOf(redirectUri);
    const model = { uid: c.details.uid, clientName: client?.clientName ?? client?.clientId ?? '', ...(await step.model(c)), ...page.data };
    await render(c.ctx, page.view ?? step.view, model, page.status);
  }

  async save(c: InteractionContext, state: InteractionState): Promise<void> {
    await savePending(c.details, state);
    c.state = state;
  }

  async settle(_step: unknown, c: InteractionContext, result: Exclude<StepResult<InteractionState>, { kind: 'retry' }>): Promise<void> {
    if (result.kind === 'next') return this.show(undefined, c, result.page ?? { status: 200, data: {} });
    if ('page' in result) return render(c.ctx, result.page.view ?? 'idp/error', result.page.data, result.page.status);
    if (!('result' in result)) throw new Error('an interaction step finishes with an interaction result or a page');
    const redirectTo = await this.#provider.interactionResult(c.ctx.req, c.ctx.res, result.result, { mergeWithLastSubmission: true });
    c.ctx.status = 303;
    c.ctx.redirect(redirectTo);
  }
}

/**
 * GET /interaction/:uid shows the current step; POST /interaction/:uid/:prompt submits it. A POST for
 * a prompt that is not current (back button, a stale tab) redirects to the current one (303); an
 * interaction that expired or belongs to another browser gets a page that leads back to the portal,
 * never a 500. A foreign or missing CSRF token shows the current step again with 403. The step of
 * a prompt is chosen by the interaction's state (`PromptSteps.stepFor`); the engine does the rest.
 * The router never changes when steps are added (oidc/policy.ts lists the prompts).
 */
export function interactionRoutes(router: Router, services: Services, provider: Provider, prompts: PromptSteps[]): void {
  const host = new InteractionHost(services, provider, prompts);

  router.get('/interaction/:uid', async (ctx) => {
    await host.show(undefined, await host.load(ctx), { status: 200, data: {} });
  });

  router.post('/interaction/:uid/:step', async (ctx) => {
    const c = await host.load(ctx);
    const prompt = host.promptOf(c);
    if (ctx.params.step !== prompt.name) {
      ctx.status = 303;
      ctx.redirect(`/interaction/${c.details.uid}`);
      return;
    }
    try {
      verifyCsrf(ctx);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      await host.show(undefined, c, { status: err.status, data: { formError: err.code } });
      return;
    }
    await runStep(services, host, prompt.stepFor(c.state), c, bodyOf(ctx));
  });

  // The address bar shows /interaction/:uid/<step> after a form post; reloading or reopening it
  // (a GET) shows the current step instead of "405 Method Not Allowed".
  router.get('/interaction/:uid/:step', async (ctx, next) => {
    if (ctx.params.step === 'abort') return next();
    ctx.redirect(`/interaction/${encodeURIComponent(ctx.params.uid)}`);
  });

  router.get('/interaction/:uid/abort', async (ctx) => {
    await provider.interactionDetails(ctx.req, ctx.res).catch(() => {
      throw new AppError('interaction.expired', 400);
    });
    const redirectTo = await provider.interactionResult(ctx.req, ctx.res, { error: 'access_denied', error_description: 'End-User aborted interaction' }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(redirectTo);
  });
}
