import type { Config } from '../config/index.ts';
import { emailFactor, smsFactor } from './code-factors.ts';
import { FactorRegistry, type Factor } from './factor.ts';

/** Every factor the product knows, by id. */
const KNOWN: Record<string, Factor> = { email: emailFactor, sms: smsFactor };

/**
 * The registry of second factors named by MFA_FACTORS, in that order; names without an
 * implementation are skipped.
 */
export function buildFactorRegistry(config: Pick<Config, 'MFA_FACTORS'>): FactorRegistry {
  return new FactorRegistry(config.MFA_FACTORS.map((id) => KNOWN[id]).filter((f): f is Factor => !!f));
}
