import { z } from 'zod';
import { optionalText } from '../../steps/fields.ts';
import { audit } from '../../audit.ts';
import { activeTerms } from '../../db/repositories/terms.ts';
import { interactionUidOf } from '../login-link.ts';
import type { RegistrationStep } from './state.ts';

/**
 * Registration's Terms of Use (guide slide 3): GET /register starts the flow (503 while no terms
 * are published) and shows the active version; Accept (with the version shown) moves to Step 1,
 * Reject ends the flow with "registration was cancelled". A later step may come back here.
 */
export const termsStep: RegistrationStep<{ decision?: string; version?: string }> = {
  name: 'terms',
  path: '/register',
  postPath: '/register/terms',
  view: 'idp/terms',
  at: ['terms', 'producer', 'login'],
  input: z.object({ decision: optionalText, version: optionalText, interaction: optionalText }),
  async model({ services, state }) {
    return { title: 'Terms of Use', terms: await activeTerms(services.db, services.caches.terms), mode: 'register', registrationInteraction: state?.interactionUid ?? null };
  },
  // Entering shows the page from this state without storing it: the flow's row is written when
  // Accept is submitted (an anonymous page view leaves nothing to purge). The sign-in to return to
  // rides in the form (`interaction`).
  storeOnEnter: false,
  async enter({ ctx, services }) {
    if (!(await activeTerms(services.db, services.caches.terms))) return { status: 503, view: 'idp/register-restart', data: { title: 'Registration', message: null, closed: true } };
    const body = (ctx.request as { body?: Record<string, unknown> }).body ?? {};
    return { state: { step: 'terms', interactionUid: interactionUidOf(ctx.method === 'POST' ? body.interaction : ctx.query.interaction) } };
  },
  async submit(c, { decision, version }) {
    const { services, state } = c;
    if (decision === 'reject') {
      await audit(services.db, services.clock, 'terms.rejected', null, c.info, { during: 'registration' });
      return { kind: 'finish', page: { status: 200, view: 'idp/register-cancelled', data: { title: 'Registration cancelled', loginUrl: await c.loginUrl() } } };
    }
    const terms = await activeTerms(services.db, services.caches.terms);
    if (!terms || decision !== 'accept' || version !== terms.version) return { kind: 'retry', status: 422, formError: 'terms.must_accept' };
    return { kind: 'next', state: { ...state, step: 'producer', termsVersion: terms.version } };
  },
};
