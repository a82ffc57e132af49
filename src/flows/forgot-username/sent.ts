import { requestUsernameMail } from '../recovery/forgot-username.ts';
import { RECOVERY_IP_LIMIT, sendRefused } from '../recovery/limits.ts';
import type { UsernameStep } from './state.ts';

/**
 * Forgot Username, "an email has been sent to … if an account exists" (guide slide 13), with
 * "Resend Email" (the same limits as the first send) and "Return to Log In".
 */
export const sentStep: UsernameStep = {
  name: 'sent',
  path: '/forgot-username/sent',
  postPath: null,
  view: 'idp/forgot-username-sent',
  at: ['sent'],
  async model(c) {
    return { title: 'Forgot Username', email: c.state.email, loginUrl: await c.loginUrl() };
  },
  async submit() {
    return { kind: 'retry', status: 405 }; // never mounted (postPath null)
  },
  actions: [
    {
      path: '/forgot-username/resend',
      rateLimit: RECOVERY_IP_LIMIT,
      async submit(c) {
        const result = await requestUsernameMail(c.services, c.state.email, c.info);
        if (!result.accepted) return sendRefused(result);
        return { kind: 'retry', status: 200, data: { notice: 'recovery.username_resent', noticeParams: { email: c.state.email } } };
      },
    },
  ],
};
