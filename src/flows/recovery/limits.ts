import { minutesOf } from '../../steps/engine.ts';
import type { Page, StepResult } from '../../steps/step.ts';

/** Rate-limit name for account-recovery requests per client address (defined in app.ts). */
export const RECOVERY_IP_LIMIT = 'recovery_ip';

/** The 429 answer to a send refused by the send limits (30 s spacing, hourly count) of recovery messages. */
export function sendRefused<S>(r: { reason: 'resend_too_soon' | 'hourly_limit'; retryAfterSeconds: number }, data?: Record<string, unknown>): StepResult<S> {
  return r.reason === 'resend_too_soon'
    ? { kind: 'retry', status: 429, formError: 'recovery.resend_too_soon', formErrorParams: { seconds: r.retryAfterSeconds }, data }
    : { kind: 'retry', status: 429, formError: 'recovery.hourly_limit', formErrorParams: { minutes: minutesOf(r.retryAfterSeconds) }, data };
}

/**
 * The restart page of the recovery flows: their first page again with "this page expired (it is
 * valid for N minutes)" or "please start again from the first step".
 * @param ttlSeconds RECOVERY_FLOW_TTL_SECONDS.
 */
export function recoveryRestartPage(ttlSeconds: number) {
  return (_c: unknown, { expired, formError }: { expired: boolean; formError?: string }): Page => ({
    status: 409,
    data: { formError: expired ? 'recovery.flow_expired' : formError ?? 'recovery.start_over', formErrorParams: { minutes: Math.round(ttlSeconds / 60) } },
  });
}
