import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import { isTemporarilyUnavailable } from '../db/availability.ts';
import { AppError } from '../http/errors.ts';
import { render } from '../http/render.ts';
import { originsOf } from '../http/security-headers.ts';
import type { Services } from '../services.ts';
import { postStep, showStep, type Position, type StepHost } from '../steps/engine.ts';
import { requestInfo, type Page, type StepResult } from '../steps/step.ts';
import type { InteractionContext, InteractionDetails, InteractionState, PromptSteps } from './context.ts';
import { pendingOf, savePending } from './pending.ts';

/**
 * Where interaction steps run (the engine's {@link StepHost}): the state is the interaction's own
 * pending sign-in (pending.ts), the shown step is the one of the prompt for that state (a saved
 * state may move the person to another sub-step), `next` answers 303 to `/interaction/:uid`
 * (GET-after-POST), which shows the new sub-step, and `finish` hands the result to oidc-provider
 * (303 to where it resumes the authorization request).
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

  /**
   * The interaction of this browser (uid of the URL), or AppError `interaction.expired` (400).
   * Read once per request (issue 12): later calls of the same request get the same context.
   */
  async load(ctx: Context): Promise<InteractionContext> {
    const loaded = ctx.state.interactionContext as InteractionContext | undefined;
    if (loaded) return loaded;
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
    const c: InteractionContext = { ctx, provider: this.#provider, details, services: this.#services, info, state: pendingOf(details) };
    ctx.state.interactionContext = c;
    return c;
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

  /** `/interaction/:uid`: the page of the interaction's current step. */
  urlOf(c: InteractionContext): string {
    return `/interaction/${c.details.uid}`;
  }

  /** The interaction of the URL (`here` when the form's prompt is the current one, else `elsewhere`: its page). */
  async locate(ctx: Context): Promise<Position<InteractionContext>> {
    const c = await this.load(ctx);
    return ctx.params.step === this.promptOf(c).name ? { at: 'here', c } : { at: 'elsewhere', location: this.urlOf(c) };
  }

  /** The current step again with the refusal's status and message (the interaction is read, not changed). */
  async refuse(ctx: Context, refusal: AppError): Promise<void> {
    await this.show(undefined, await this.load(ctx), { status: refusal.status, data: { formError: refusal.code } });
  }

  async startOver(): Promise<void> {
    throw new AppError('interaction.expired', 400); // load() answers this before any step is found
  }

  async settle(_step: unknown, c: InteractionContext, result: Exclude<StepResult<InteractionState>, { kind: 'retry' }>): Promise<void> {
    if (result.kind === 'next') {
      c.ctx.status = 303;
      c.ctx.redirect(this.urlOf(c));
      return;
    }
    if ('page' in result) return render(c.ctx, result.page.view ?? 'idp/error', result.page.data, result.page.status);
    if (!('result' in result)) throw new Error('an interaction step finishes with an interaction result or a page');
    c.ctx.status = 303;
    c.ctx.redirect(await finishInteraction(c.details, result.result, true));
  }
}

/**
 * Stores the result of an interaction on the interaction already read in this request and returns
 * where oidc-provider resumes the authorization request: what `provider.interactionResult` does
 * (merging with the last submission unless `merge` is false or the result is an error), without
 * reading the interaction and its session again (issue 12).
 */
async function finishInteraction(details: InteractionDetails, result: InteractionResults, merge: boolean): Promise<string> {
  details.result = merge && !('error' in result) ? { ...details.lastSubmission, ...result } : result;
  await details.save(details.exp - Math.floor(Date.now() / 1000));
  return details.returnTo;
}

/**
 * GET /interaction/:uid shows the current step; POST /interaction/:uid/:prompt submits it through
 * the engine ({@link postStep}: CSRF, then the position, then the step). A POST for a prompt that
 * is not current (back button, a stale tab) answers 303 to the current one, as does every `next`
 * (GET-after-POST); an interaction that expired or belongs to another browser gets a page that
 * leads back to the portal, never a 500. A foreign or missing CSRF token shows the current step
 * again with 403. The step of a prompt is chosen by the interaction's state
 * (`PromptSteps.stepFor`): a form of an earlier sub-step is read by the current one. The router
 * never changes when steps are added (oidc/policy.ts lists the prompts).
 */
export function interactionRoutes(router: Router, services: Services, provider: Provider, prompts: PromptSteps[]): void {
  const host = new InteractionHost(services, provider, prompts);

  router.get('/interaction/:uid', async (ctx) => {
    const c = await host.load(ctx);
    await showStep(host, host.promptOf(c).stepFor(c.state), c);
  });

  router.post('/interaction/:uid/:step', (ctx) =>
    postStep(services, host, ctx, () => host.locate(ctx), (c) => host.promptOf(c).stepFor(c.state)),
  );

  // The address bar shows /interaction/:uid/<step> after a form post; reloading or reopening it
  // (a GET) shows the current step instead of "405 Method Not Allowed".
  router.get('/interaction/:uid/:step', async (ctx, next) => {
    if (ctx.params.step === 'abort') return next();
    ctx.redirect(`/interaction/${encodeURIComponent(ctx.params.uid)}`);
  });

  router.get('/interaction/:uid/abort', async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res).catch((err: unknown) => {
      if (isTemporarilyUnavailable(err)) throw err;
      throw new AppError('interaction.expired', 400);
    });
    ctx.status = 303;
    ctx.redirect(await finishInteraction(details, { error: 'access_denied', error_description: 'End-User aborted interaction' }, false));
  });
}
