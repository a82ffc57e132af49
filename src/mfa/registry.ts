import type { Config } from '../config/index.ts';
import { emailFactor, smsFactor } from './code-factors.ts';
import { FactorRegistry, type Factor } from './factor.ts';
import { keystrokeFactor } from './keystroke.ts';

/**
 * The registry of second factors named by MFA_FACTORS, in that order; names without an
 * implementation are skipped.
 */
export function buildFactorRegistry(config: Pick<Config, 'MFA_FACTORS' | 'KEYSTROKE_AMR' | 'KEYSTROKE_STRONG'>): FactorRegistry {
  const KNOWN: Record<string, Factor> = { email: emailFactor, sms: smsFactor, keystroke: keystrokeFactor(config) };
  return new FactorRegistry(config.MFA_FACTORS.map((id) => KNOWN[id]).filter((f): f is Factor => !!f));
}
