import type { FlowContext, FlowState, FlowStep } from '../flow.ts';

/** The persisted state of one registration (guide slides 3-5): the step the browser may do next. */
export interface RegistrationState extends FlowState {
  step: 'terms' | 'producer' | 'login' | 'verify';
  termsVersion?: string;
  producerNumber?: string;
  accountId?: string;
}

/** Rate-limit name for registration attempts per client address (defined in app.ts). */
export const REGISTER_IP_LIMIT = 'register_ip';

/** Longest value of a registration field accepted before its own rules are checked. */
export const MAX_FIELD = 200;

export type RegistrationContext = FlowContext<RegistrationState>;
export type RegistrationStep<I = Record<string, unknown>> = FlowStep<RegistrationState, I>;
