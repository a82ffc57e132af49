import { createHmac } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../../config/index.ts';
import { hmac } from '../../security/tokens.ts';

/**
 * Shared input rules and keyed hashes of the account-recovery flows (guide slides 12-17).
 * Pure functions: no I/O, no clock.
 */

export { INTERACTION_UID } from '../login-link.ts';
export { readText, type TextProblem } from '../../steps/fields.ts';

/** The longest email address accepted (RFC 5321 path limit; the producer CSV import uses the same). */
export const MAX_EMAIL_LENGTH = 254;

const emailSchema = z.email();

/**
 * True when `text` is an email address as the producer CSV import accepts them (zod's `z.email()`,
 * at most 254 characters). The guide's rule (slide 12): otherwise "Please enter a valid email address."
 */
export function isEmailAddress(text: string): boolean {
  return text.length <= MAX_EMAIL_LENGTH && emailSchema.safeParse(text).success;
}

/**
 * The recovery key derived from one configured secret: HMAC-SHA256(COOKIE_KEYS[0],
 * "producer-idp/recovery/v1"), base64url. A dedicated key, so these HMACs never equal a cookie
 * signature, a one-time code's MAC or another token's.
 */
export function recoveryKey(config: Pick<Config, 'COOKIE_KEYS'>): string {
  return createHmac('sha256', config.COOKIE_KEYS[0]).update('producer-idp/recovery/v1', 'utf8').digest('base64url');
}

/**
 * The key under which Forgot Username limits count sends for an address: HMAC of the trimmed,
 * lower-cased address (base64url, 43 characters). The address itself is never stored.
 */
export function emailKey(key: string, email: string): string {
  return hmac(key, `email|${email.trim().toLowerCase()}`);
}

/**
 * The opaque, stable identifier of a username in Forgot Password (base64url, 43 characters): HMAC
 * of the trimmed, lower-cased username (usernames are unique ignoring case). It is the one-time
 * code's subject, so the resend spacing and the code itself belong to the username whether or not
 * an account exists, and it seeds the placeholder destinations of an unknown username.
 */
export function usernameKey(key: string, username: string): string {
  return hmac(key, `username|${username.trim().toLowerCase()}`);
}
