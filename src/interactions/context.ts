import type { KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { interactionPolicy } from 'oidc-provider';
import type { Account } from '../db/repositories/accounts.ts';
import type { Services } from '../services.ts';
import type { Fields, Step, StepContextBase } from '../steps/step.ts';
import type { InteractionDetails, PendingLogin } from './pending.ts';

export type { InteractionDetails } from './pending.ts';

/** The interaction's own state: where a sign-in stands after the password (undefined before). */
export type InteractionState = PendingLogin | undefined;

/** Everything an interaction step sees. */
export interface InteractionContext extends StepContextBase<InteractionState> {
  provider: Provider;
  details: InteractionDetails;
  services: Services;
  info: StepContextBase<InteractionState>['info'] & { clientId: string };
}

/** One screen of an interaction prompt (views/<view>.ejs; POST /interaction/:uid/<prompt>). */
export type InteractionStep<I = Fields> = Step<InteractionContext, InteractionState, I>;

/** Reads the session's account once per authorization request, for every check that needs it. */
export type SessionAccount = (ctx: KoaContextWithOIDC, accountId: string) => Promise<Account | undefined>;

/**
 * One prompt of oidc-provider's interaction policy with its screens (oidc/policy.ts orders them):
 * `stepFor` gives the screen for the interaction's state (a prompt may have sub-steps), `checks`
 * the conditions that request the prompt, besides oidc-provider's own.
 */
export interface PromptSteps {
  name: string;
  stepFor(state: InteractionState): InteractionStep<any>;
  checks?(services: Pick<Services, 'db' | 'clock' | 'config' | 'caches'>, sessionAccount: SessionAccount): InstanceType<typeof interactionPolicy.Check>[];
}
