import { audit } from '../../audit.ts';
import { acceptTerms } from '../../db/repositories/accounts.ts';
import { activeTerms } from '../../db/repositories/terms.ts';
import { AppError } from '../../http/errors.ts';
import { field, requestInfo, type Step } from '../step.ts';

/**
 * Terms acceptance at sign-in: shown when the account accepted an older Terms of Use version than the
 * active one (guide slide 3: "current active version will be displayed"). Accept records the version
 * and time; Reject ends the authorization request with `access_denied`.
 */
export const termsStep: Step = {
  prompt: 'terms',
  view: 'idp/terms',
  async viewModel({ services }) {
    const terms = await activeTerms(services.db);
    return { terms, mode: 'signin' };
  },
  async submit({ ctx, details, services }, body) {
    const accountId = details.session?.accountId;
    const terms = await activeTerms(services.db);
    if (!accountId || !terms) throw new AppError('interaction.expired', 400);
    const info = { ...requestInfo(ctx), clientId: String(details.params.client_id ?? '') };
    const decision = field(body, 'decision');
    if (decision === 'reject') {
      await audit(services.db, services.clock, 'terms.rejected', accountId, info, { version: terms.version });
      return { kind: 'finish', result: { error: 'access_denied', error_description: 'End-User rejected the Terms of Use' } };
    }
    if (decision !== 'accept' || field(body, 'version') !== terms.version) {
      return { kind: 'render', status: 422, data: { terms, mode: 'signin', formError: 'terms.must_accept' } };
    }
    await acceptTerms(services.db, accountId, terms.version, services.clock.now());
    await audit(services.db, services.clock, 'terms.accepted', accountId, info, { version: terms.version });
    return { kind: 'finish', result: { terms: { accepted: terms.version } } };
  },
};
