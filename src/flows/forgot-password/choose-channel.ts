import { z } from 'zod';
import type { CodeChannel } from '../../security/one-time-codes.ts';
import { RECOVERY_IP_LIMIT } from '../recovery/limits.ts';
import { sendCode } from './send.ts';
import type { ResetStep } from './state.ts';

/**
 * Step 2 of 4, "Get Verification Code" (guide slide 15): "Send an email" or "Send me a text
 * message" (offered only with a mobile number on the record) → "Send Code".
 */
export const chooseChannelStep: ResetStep<{ channel: CodeChannel }> = {
  name: 'choose',
  path: '/forgot-password/verify',
  view: 'idp/forgot-password-choose',
  at: ['choose'],
  input: (c) => {
    const offered = c.state.destinations.sms ? ['email', 'sms'] : ['email'];
    // One message for the whole choice (shown above the form).
    return z.object({ channel: z.any().optional() }).refine((b) => offered.includes(b.channel), 'recovery.channel_required') as unknown as z.ZodType<{ channel: CodeChannel }>;
  },
  rateLimit: RECOVERY_IP_LIMIT,
  async model(c) {
    return { title: 'Get Verification Code', destinations: c.state.destinations, loginUrl: await c.loginUrl() };
  },
  async submit(c, { channel }) {
    return sendCode(c, channel, 'choose');
  },
};
