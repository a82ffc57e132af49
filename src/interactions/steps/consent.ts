import { audit } from '../../audit.ts';
import { field } from '../../steps/step.ts';
import type { InteractionStep, PromptSteps } from '../context.ts';

type PromptDetails = { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };

/**
 * Consent for third-party clients (first-party clients never reach it: their grant is made by
 * `loadExistingGrant`, see configuration.ts). Shows the scopes and claims asked for; "Allow" grants
 * exactly those, "Deny" ends the request with `access_denied` (RFC 6749 §4.1.2.1).
 */
export const consentStep: InteractionStep = {
  name: 'consent',
  view: 'idp/consent',
  async model({ details }) {
    const d = details.prompt.details as PromptDetails;
    return { scopes: d.missingOIDCScope ?? [], claims: d.missingOIDCClaims ?? [] };
  },
  async submit({ provider, details, services, info }, body) {
    const accountId = details.session!.accountId;
    const clientId = String(details.params.client_id);
    if (field(body, 'decision') !== 'allow') {
      return { kind: 'finish', result: { error: 'access_denied', error_description: 'End-User denied consent' } };
    }
    const d = details.prompt.details as PromptDetails;
    const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId });
    if (!grant) return { kind: 'finish', result: { error: 'access_denied', error_description: 'grant not found' } };
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    await audit(services.db, services.clock, 'consent.granted', accountId, info, { scopes: d.missingOIDCScope ?? [] });
    return { kind: 'finish', result: { consent: details.grantId ? {} : { grantId } } };
  },
};

/** The `consent` prompt (oidc-provider's own checks request it). */
export const consentPrompt: PromptSteps = { name: 'consent', stepFor: () => consentStep };
