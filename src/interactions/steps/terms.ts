import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { z } from 'zod';
import { optionalText } from '../../steps/fields.ts';
import { audit } from '../../audit.ts';
import { acceptTerms } from '../../db/repositories/accounts.ts';
import { activeTerms } from '../../db/repositories/terms.ts';
import { AppError } from '../../http/errors.ts';
import type { InteractionStep, PromptSteps } from '../context.ts';

const { Check } = interactionPolicy;

const input = z.object({ decision: optionalText, version: optionalText });

/**
 * Terms acceptance at sign-in: shown when the account accepted an older Terms of Use version than the
 * active one (guide slide 3: "current active version will be displayed"). Accept records the version
 * and time; Reject ends the authorization request with `access_denied`.
 */
export const termsStep: InteractionStep<z.infer<typeof input>> = {
  name: 'terms',
  view: 'idp/terms',
  input,
  async model({ services }) {
    return { terms: await activeTerms(services.db, services.caches.terms), mode: 'signin' };
  },
  async submit({ details, services, info }, { decision, version }) {
    const accountId = details.session?.accountId;
    const terms = await activeTerms(services.db, services.caches.terms);
    if (!accountId || !terms) throw new AppError('interaction.expired', 400);
    if (decision === 'reject') {
      await audit(services.db, services.clock, 'terms.rejected', accountId, info, { version: terms.version });
      return { kind: 'finish', result: { error: 'access_denied', error_description: 'End-User rejected the Terms of Use' } };
    }
    if (decision !== 'accept' || version !== terms.version) return { kind: 'retry', status: 422, formError: 'terms.must_accept' };
    await acceptTerms(services.db, accountId, terms.version, services.clock.now());
    await audit(services.db, services.clock, 'terms.accepted', accountId, info, { version: terms.version });
    return { kind: 'finish', result: { terms: { accepted: terms.version } } };
  },
};

/** The `terms` prompt (after `login`): requested when the session's account accepted an older version than the active one. */
export const termsPrompt: PromptSteps = {
  name: 'terms',
  stepFor: () => termsStep,
  checks(services, sessionAccount) {
    return [
      new Check('terms_outdated', 'the active Terms of Use have not been accepted', 'interaction_required', async (ctx: KoaContextWithOIDC) => {
        const accountId = ctx.oidc.session?.accountId;
        if (!accountId) return Check.NO_NEED_TO_PROMPT;
        const [account, active] = await Promise.all([sessionAccount(ctx, accountId), activeTerms(services.db, services.caches.terms)]);
        if (!account || !active) return Check.NO_NEED_TO_PROMPT;
        return account.termsVersion === active.version ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
      }),
    ];
  },
};
