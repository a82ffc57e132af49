import type { AccountPage } from './pages.ts';

/**
 * GET /account, "My Account" (issue 14 item 6): who is signed in, and the links to the pages that
 * manage sign-in and security (remembered devices, signed-in sessions, Change Password, typing
 * pattern, recent activity). Reached from the portal's My Information ("Manage sign-in and
 * security"). No form.
 */
export const overviewPage: AccountPage = {
  name: 'overview',
  path: '/account',
  view: 'idp/account',
  postsHere: false,
  async model() {
    return { title: 'My Account' };
  },
  async submit() {
    return { kind: 'retry', status: 405 };
  },
};
