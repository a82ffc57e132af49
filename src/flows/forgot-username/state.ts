import type { FlowState, FlowStep } from '../flow.ts';

/** Flow state of Forgot Username (guide slides 12-13). */
export interface UsernameState extends FlowState {
  step: 'sent';
  /** The address as typed (trimmed): shown on the page and used by "Resend Email". */
  email: string;
}

export type UsernameStep<I = Record<string, unknown>> = FlowStep<UsernameState, I>;
