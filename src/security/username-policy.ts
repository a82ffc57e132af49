/**
 * The username policy for producer accounts, as the carrier's user guide states it on slide 4
 * ("Create Your Secure Login"): 7 to 40 characters, only the letters A-Z, a-z and the digits 0-9
 * (no special characters, periods or dots). Usernames are unique case-insensitively, compared via
 * {@link normalizeUsername}. Pure; no I/O.
 */
import type { MessageCode } from '../i18n/messages.ts';

const USERNAME_CODES = [
  'username.required',
  'username.characters',
  'username.too_short',
  'username.too_long',
] as const satisfies readonly MessageCode[];

/** Every code {@link checkUsername} can return; each is a key of the message catalog. */
export type UsernameCode = (typeof USERNAME_CODES)[number];

const MIN_LENGTH = 7;
const MAX_LENGTH = 40;

/**
 * Checks a candidate username.
 *
 * @param username the candidate, exactly as given (not trimmed: surrounding spaces are characters
 *   that are not allowed).
 * @returns the codes of every broken rule, empty when acceptable: `['username.required']` alone when
 *   empty; otherwise, in this order, `username.characters` (anything other than A-Z a-z 0-9),
 *   `username.too_short` (fewer than 7 characters) and `username.too_long` (more than 40), lengths
 *   counted in Unicode code points. Does not check uniqueness (`username.taken` is the store's job).
 *   Never throws.
 */
export function checkUsername(username: string): UsernameCode[] {
  if (username === '') return ['username.required'];
  const codes: UsernameCode[] = [];
  const length = Array.from(username).length;
  if (!/^[A-Za-z0-9]+$/.test(username)) codes.push('username.characters');
  if (length < MIN_LENGTH) codes.push('username.too_short');
  if (length > MAX_LENGTH) codes.push('username.too_long');
  return codes;
}

/**
 * The form of a username used to store and compare it for case-insensitive uniqueness
 * ("JSmith01" and "jsmith01" are the same account): the username lowercased, nothing else changed
 * (no trimming). Meant for usernames that passed {@link checkUsername}. Never throws.
 */
export function normalizeUsername(u: string): string {
  return u.toLowerCase();
}
