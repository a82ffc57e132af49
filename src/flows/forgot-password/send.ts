import type { CodeChannel } from '../../security/one-time-codes.ts';
import type { StepResult } from '../../steps/step.ts';
import type { FlowContext } from '../flow.ts';
import { sendResetCode } from '../recovery/forgot-password.ts';
import { sendRefused } from '../recovery/limits.ts';
import type { ResetState } from './state.ts';

/**
 * "Send Code" (step 2) and "Resend Code" (step 3): sends a code by `channel`. Sent: step 2 moves on
 * to the code page, step 3 says "we sent a new code". A text that could not be sent: back to the
 * choice with "try email" (502). Refused by the send limits: 429 on the same page.
 */
export async function sendCode(c: FlowContext<ResetState>, channel: CodeChannel, from: 'choose' | 'code'): Promise<StepResult<ResetState>> {
  const result = await sendResetCode(c.services, c.state, channel, c.info);
  if (result.sent) {
    return from === 'choose'
      ? { kind: 'next', state: { ...c.state, step: 'code', channel } }
      : { kind: 'retry', status: 200, data: { notice: 'recovery.code_resent' } };
  }
  if (result.reason === 'sms_failed') {
    const back: ResetState = { ...c.state, step: 'choose', channel: undefined };
    return { kind: 'retry', status: 502, formError: 'recovery.sms_failed', state: back, data: { view: 'idp/forgot-password-choose', title: 'Get Verification Code', values: { channel: 'email' } } };
  }
  return sendRefused(result, from === 'choose' ? { values: { channel } } : undefined);
}
