import { z } from 'zod';
import { findAccountById } from '../../db/repositories/accounts.ts';
import { checkPassword, PASSWORD_RULES } from '../../security/password-policy.ts';
import { anyText } from '../../steps/fields.ts';
import { completePasswordReset, passwordWasUsed } from '../recovery/forgot-password.ts';
import type { ResetStep } from './state.ts';

/** Longest password accepted before the policy check (the policy allows 40). */
const MAX_PASSWORD = 200;

const input = z.object({ password: anyText });

/**
 * Step 4 of 4, "Create New Password" → "Update Password" (guide slide 17): the password rules
 * (with the account's username), none of the last 10 passwords; then completePasswordReset (signs
 * out everywhere). Then back to the live sign-in's "Log In" with "your password was changed", or —
 * outside a sign-in — the flow's own end page (done.ts; issue 9, item 10: a redirect to the portal
 * after this form's POST would be blocked by the page's CSP `form-action 'self'`).
 */
export const newPasswordStep: ResetStep<z.infer<typeof input>> = {
  name: 'password',
  path: '/forgot-password/new-password',
  view: 'idp/forgot-password-new',
  at: ['password'],
  input,
  async model(c) {
    return { title: 'Create New Password', rules: PASSWORD_RULES, loginUrl: await c.loginUrl() };
  },
  async submit(c, { password }) {
    const { state, services } = c;
    const account = state.accountId ? await findAccountById(services.db, state.accountId) : undefined;
    if (!account || account.status !== 'active' || !state.passwordChangedAt) return { kind: 'finish', restart: { status: 409, formError: 'recovery.start_over' } };
    const problems = password.length > MAX_PASSWORD ? ['password.length'] : checkPassword(password, { username: account.username });
    if (problems.length) return { kind: 'retry', status: 422, errors: { password: problems } };
    if (await passwordWasUsed(services, account.id, password)) return { kind: 'retry', status: 422, errors: { password: ['recovery.password_reused'] } };
    const done = await completePasswordReset(services, { accountId: account.id, passwordChangedAt: state.passwordChangedAt, password, emailProven: state.channel === 'email' }, c.info);
    if (!done.ok) return { kind: 'finish', restart: { status: 409, formError: 'recovery.start_over' } };
    const next = await c.loginUrl('password_changed');
    if (next.startsWith('/')) return { kind: 'finish', redirect: next };
    return { kind: 'next', state: { ...state, step: 'done' } };
  },
};
