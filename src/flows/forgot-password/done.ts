import type { ResetStep } from './state.ts';

/**
 * The end of Forgot Password when no sign-in is waiting (issue 9, item 10): GET
 * /forgot-password/done says "Your password was changed" and links to the portal (PORTAL_URL).
 * Every flow ends on a page the person sees; this page has no form of its own.
 */
export const doneStep: ResetStep = {
  name: 'done',
  path: '/forgot-password/done',
  postPath: null,
  view: 'idp/notice',
  at: ['done'],
  async model(c) {
    return { title: 'Password changed', formError: null, notice: 'login.password_reset_done', loginUrl: await c.loginUrl() };
  },
  async submit() {
    return { kind: 'retry', status: 405 }; // never mounted (postPath null)
  },
};
