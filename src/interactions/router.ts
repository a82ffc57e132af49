import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { isTemporarilyUnavailable } from '../db/availability.ts';
import { AppError } from '../http/errors.ts';
import { render } from '../http/render.ts';
import { originsOf } from '../http/security-headers.ts';
import { STEPS } from '../oidc/policy.ts';
import { verifyCsrf } from '../security/csrf.ts';
import type { Services } from '../services.ts';
import type { InteractionDetails, Step, StepContext } from './step.ts';

const byPrompt = new Map<string, Step>(STEPS.map((s) => [s.prompt, s]));

/**
 * GET /interaction/:uid shows the current step; POST /interaction/:uid/:step submits it. A POST for
 * a step that is not current (back button, a stale tab) redirects to the current one; an interaction
 * that expired or belongs to another browser gets a page that leads back to the portal, never a 500.
 * The router never changes when steps are added (policy.ts lists them).
 */
export function interactionRoutes(router: Router, services: Services, provider: Provider): void {
  async function load(ctx: Context): Promise<InteractionDetails> {
    try {
      return await provider.interactionDetails(ctx.req, ctx.res);
    } catch (err) {
      // A database outage is not an expired sign-in: the error middleware answers 503.
      if (isTemporarilyUnavailable(err)) throw err;
      throw new AppError('interaction.expired', 400);
    }
  }

  async function show(ctx: Context, s: StepContext, step: Step, data: Record<string, unknown> | undefined, status: number) {
    const client = await provider.Client.find(String(s.details.params.client_id));
    const redirectUri = typeof s.details.params.redirect_uri === 'string' ? [s.details.params.redirect_uri] : [];
    ctx.state.formActionOrigins = originsOf(redirectUri);
    const model: Record<string, unknown> = {
      uid: s.details.uid,
      clientName: client?.clientName ?? client?.clientId ?? '',
      ...(await step.viewModel(s)),
      ...(data ?? {}),
    };
    // A step may show another view for a sub-step (e.g. "Verify your Account" inside `login`).
    await render(ctx, typeof model.view === 'string' ? model.view : step.view, model, status);
  }

  function current(details: InteractionDetails): Step {
    const step = byPrompt.get(details.prompt.name);
    if (!step) throw new AppError('interaction.expired', 400);
    return step;
  }

  router.get('/interaction/:uid', async (ctx) => {
    const details = await load(ctx);
    if (details.uid !== ctx.params.uid) throw new AppError('interaction.expired', 400);
    const s = { ctx, provider, details, services };
    await show(ctx, s, current(details), undefined, 200);
  });

  router.post('/interaction/:uid/:step', async (ctx) => {
    const details = await load(ctx);
    if (details.uid !== ctx.params.uid) throw new AppError('interaction.expired', 400);
    const step = current(details);
    const s = { ctx, provider, details, services };
    if (ctx.params.step !== step.prompt) {
      ctx.status = 303;
      ctx.redirect(`/interaction/${details.uid}`);
      return;
    }
    try {
      verifyCsrf(ctx);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      await show(ctx, s, step, { formError: err.code }, err.status);
      return;
    }
    const outcome = await step.submit(s, (ctx.request.body ?? {}) as Record<string, unknown>);
    if (outcome.kind === 'render') {
      await show(ctx, s, step, outcome.data, outcome.status);
      return;
    }
    const redirectTo = await provider.interactionResult(ctx.req, ctx.res, outcome.result, { mergeWithLastSubmission: true });
    ctx.status = 303;
    ctx.redirect(redirectTo);
  });

  // The address bar shows /interaction/:uid/<step> after a form post; reloading or reopening it
  // (a GET) shows the current step instead of "405 Method Not Allowed".
  router.get('/interaction/:uid/:step', async (ctx, next) => {
    if (ctx.params.step === 'abort') return next();
    ctx.redirect(`/interaction/${encodeURIComponent(ctx.params.uid)}`);
  });

  router.get('/interaction/:uid/abort', async (ctx) => {
    const details = await load(ctx);
    const redirectTo = await provider.interactionResult(ctx.req, ctx.res, { error: 'access_denied', error_description: 'End-User aborted interaction' }, { mergeWithLastSubmission: false });
    void details;
    ctx.status = 303;
    ctx.redirect(redirectTo);
  });
}
