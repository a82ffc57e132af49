import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import type { Services } from '../services.ts';

/** What oidc-provider knows about the interaction in progress. */
export type InteractionDetails = Awaited<ReturnType<Provider['interactionDetails']>>;

/** Everything a step sees. */
export interface StepContext {
  ctx: Context;
  provider: Provider;
  details: InteractionDetails;
  services: Services;
}

/**
 * The outcome of a submit (ARCHITECTURE "How a step works"): finish the prompt with a result
 * merged into the interaction's last submission, or show the same view again with messages.
 */
export type StepOutcome =
  | { kind: 'finish'; result: InteractionResults }
  | { kind: 'render'; status: number; data: Record<string, unknown> };

/**
 * One screen of the interaction. `prompt` is the oidc-provider prompt it serves (policy.ts orders
 * them); `view` is views/<view>.ejs; `viewModel` gives the values to show; `submit` handles a POST
 * of the form (already CSRF-checked).
 */
export interface Step {
  prompt: string;
  view: string;
  viewModel(s: StepContext): Promise<Record<string, unknown>>;
  submit(s: StepContext, body: Record<string, unknown>): Promise<StepOutcome>;
}

/** Reads a string field of a parsed form body (arrays and objects are not strings). */
export function field(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  return typeof v === 'string' ? v : undefined;
}

/** Client address and user agent of the request, for audit events and rate limits. */
export function requestInfo(ctx: Context): { ip: string; userAgent: string | null } {
  return { ip: ctx.ip, userAgent: ctx.get('user-agent') || null };
}
