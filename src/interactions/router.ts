import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { AppError } from '../http/errors.ts';
import { render } from '../http/render.ts';
import { originsOf } from '../http/security-headers.ts';
import { verifyCsrf } from '../security/csrf.ts';
import type { Services } from '../services.ts';
import { runStep, type StepHost } from '../steps/engine.ts';
import { bodyOf, requestInfo, type Page } from '../steps/step.ts';
import type { InteractionContext, InteractionDetails, InteractionState, PromptSteps } from './context.ts';
import { pendingOf, savePending } from './pending.ts';

/**
 * GET /interaction/:uid shows the current step; POST /interaction/:uid/:prompt submits it. A POST for
 * a prompt that is not current (back button, a stale tab) redirects to the current one (303); an
 * interaction that expired or belongs to another browser gets a page that leads back to the portal,
 * never a 500. A foreign or missing CSRF token shows the current step again with 403. The step of
 * a prompt is chosen by the interaction's state (`prompts[i].stepFor`); the engine does the rest.
 * The router never changes when steps are added (oidc/policy.ts lists the prompts).
 */
export function interactionRoutes(router: Router, services: Services, provider: Provider, prompts: PromptSteps[]): void {
  const byName = new Map(prompts.map((p) => [p.name, p]));

  async function load(ctx: Context): Promise<InteractionContext> {
    let details: InteractionDetails;
    try {
      details = await provider.interactionDetails(ctx.req, ctx.res);
    } catch {
      throw new AppError('interaction.expired', 400);
    }
    if (details.uid !== ctx.params.uid) throw new AppError('interaction.expired', 400);
    const info = { ...requestInfo(ctx), clientId: String(details.params.client_id ?? '') };
    return { ctx, provider, details, services, info, state: pendingOf(details) };
  }

  function promptOf(c: InteractionContext): PromptSteps {
    const prompt = byName.get(c.details.prompt.name);
    if (!prompt) throw new AppError('interaction.expired', 400);
    return prompt;
  }

  /** Shows the step of the interaction's current state (a saved state may have moved it to another sub-step). */
  async function show(c: InteractionContext, page: Page): Promise<void> {
    const step = promptOf(c).stepFor(c.state);
    const client = await provider.Client.find(String(c.details.params.client_id));
    const redirectUri = typeof c.details.params.redirect_uri === 'string' ? [c.details.params.redirect_uri] : [];
    c.ctx.state.formActionOrigins = originsOf(redirectUri);
    const model = { uid: c.details.uid, clientName: client?.clientName ?? client?.clientId ?? '', ...(await step.model(c)), ...page.data };
    await render(c.ctx, page.view ?? step.view, model, page.status);
  }

  const host: StepHost<InteractionContext, InteractionState> = {
    show: (_step, c, page) => show(c, page),
    async save(c, state) {
      await savePending(c.details, state);
      c.state = state;
    },
    async settle(_step, c, result) {
      if (result.kind === 'next') return show(c, result.page ?? { status: 200, data: {} });
      if ('page' in result) return render(c.ctx, result.page.view ?? 'idp/error', result.page.data, result.page.status);
      if (!('result' in result)) throw new Error('an interaction step finishes with an interaction result or a page');
      const redirectTo = await provider.interactionResult(c.ctx.req, c.ctx.res, result.result, { mergeWithLastSubmission: true });
      c.ctx.status = 303;
      c.ctx.redirect(redirectTo);
    },
  };

  router.get('/interaction/:uid', async (ctx) => {
    await show(await load(ctx), { status: 200, data: {} });
  });

  router.post('/interaction/:uid/:step', async (ctx) => {
    const c = await load(ctx);
    const prompt = promptOf(c);
    if (ctx.params.step !== prompt.name) {
      ctx.status = 303;
      ctx.redirect(`/interaction/${c.details.uid}`);
      return;
    }
    try {
      verifyCsrf(ctx);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      await show(c, { status: err.status, data: { formError: err.code } });
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
