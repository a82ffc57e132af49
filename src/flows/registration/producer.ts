import { z } from 'zod';
import { audit } from '../../audit.ts';
import { producerHasAccount } from '../../db/repositories/accounts.ts';
import { findProducer } from '../../db/repositories/producers.ts';
import { normalizeNpn, normalizeProducerNumber, normalizeZip, zipMatches } from '../../producers/records.ts';
import { field } from '../../steps/step.ts';
import { MAX_FIELD, REGISTER_IP_LIMIT, type RegistrationStep } from './state.ts';

/** One identifying field: required, at most MAX_FIELD characters, normalized by `normalize` (null: wrong format). */
function identifier(normalize: (raw: string) => string | null, format: string) {
  return z.any().transform((raw, ctx) => {
    const value = typeof raw === 'string' ? raw : '';
    if (value.length > MAX_FIELD) ctx.addIssue({ code: 'custom', message: 'form.too_long' });
    const normalized = normalize(value);
    if (!value.trim()) ctx.addIssue({ code: 'custom', message: 'form.required' });
    else if (!normalized) ctx.addIssue({ code: 'custom', message: format });
    return normalized ?? '';
  });
}

const input = z.object({
  producerNumber: identifier(normalizeProducerNumber, 'register.producer_number.format'),
  npn: identifier(normalizeNpn, 'register.npn.format'),
  zip: identifier(normalizeZip, 'register.zip.format'),
});

/**
 * Step 1 of 3, "Enter Producer Information" (guide slide 3): Producer Number, National Producer
 * Number and Zip Code must match one active producer record without an account. Refusals name no
 * record detail ("no match"); rate-limited per client address (REGISTER_IP_LIMIT).
 */
export const producerStep: RegistrationStep<z.infer<typeof input>> = {
  name: 'producer',
  path: '/register/producer',
  view: 'idp/register-producer',
  at: ['producer', 'login'],
  input,
  rateLimit: REGISTER_IP_LIMIT,
  echo: (body) => ({
    producerNumber: (field(body, 'producerNumber') ?? '').slice(0, 20),
    npn: (field(body, 'npn') ?? '').slice(0, 20),
    zip: (field(body, 'zip') ?? '').slice(0, 20),
  }),
  async model() {
    return { title: 'Enter Producer Information' };
  },
  async submit(c, { producerNumber, npn, zip }) {
    const { db, clock } = c.services;
    const record = await findProducer(db, producerNumber);
    if (!record || normalizeNpn(record.npn) !== npn || !zipMatches(record, zip)) {
      await audit(db, clock, 'registration.producer_rejected', null, c.info, { reason: 'no_match' });
      return { kind: 'retry', status: 422, formError: 'register.no_match' };
    }
    if (record.status !== 'active') {
      await audit(db, clock, 'registration.producer_rejected', null, c.info, { reason: 'inactive', producerNumber });
      return { kind: 'retry', status: 422, formError: 'register.inactive' };
    }
    if (await producerHasAccount(db, producerNumber)) {
      await audit(db, clock, 'registration.producer_rejected', null, c.info, { reason: 'already_registered', producerNumber });
      return { kind: 'retry', status: 409, formError: 'register.already_registered', data: { showRecovery: true } };
    }
    await audit(db, clock, 'registration.producer_matched', null, c.info, { producerNumber });
    return { kind: 'next', state: { ...c.state, step: 'login', producerNumber } };
  },
};
