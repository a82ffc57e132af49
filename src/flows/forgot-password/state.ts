import type { CodeChannel } from '../../security/one-time-codes.ts';
import type { FlowState, FlowStep } from '../flow.ts';
import type { Destinations } from '../recovery/forgot-password.ts';

/** Flow state of Forgot Password (guide slides 14-17); `step` is the step the browser may do next. */
export interface ResetState extends FlowState {
  step: 'choose' | 'code' | 'password' | 'done';
  accountId: string | null;
  subject: string;
  /** The flow's random id: codes are bound to it and to `channel` (issue 9, item 7). */
  flowKey: string;
  destinations: Destinations;
  /** The channel the code went by (a code works only on it; only `email` confirms the address). */
  channel?: CodeChannel;
  /** `password_changed_at` when the code was verified (a later change makes "Update Password" stale). */
  passwordChangedAt?: string;
}

export type ResetStep<I = Record<string, unknown>> = FlowStep<ResetState, I>;
