import { minutesOf } from '../../steps/engine.ts';
import type { StepResult } from '../../steps/step.ts';

/** Rate-limit name for account-recovery requests per client address (defined in app.ts). */
export const RECOVERY_IP_LIMIT = 'recovery_ip';

/** The 429 answer to a send refused by the send limits (30 s spacing, hourly count) of recovery messages. */
export function sendRefused<S>(r: { reason: 'resend_too_soon' | 'hourly_limit'; retryAfterSeconds: number }, data?: Record<string, unknown>): StepResult<S> {
  return r.reason === 'resend_too_soon'
    ? { kind: 'retry', status: 429, formError: 'recovery.resend_too_soon', formErrorParams: { seconds: r.retryAfterSeconds }, data }
    : { kind: 'retry', status: 429, formError: 'recovery.hourly_limit', formErrorParams: { minutes: minutesOf(r.retryAfterSeconds) }, data };
}
