/**
 * The password policy for producer accounts, as the carrier's user guide states it on slide 4
 * ("Create Your Secure Login"), in its on-screen "Password Must Have" / "Password Cannot Have"
 * lists.
 *
 * This module is pure (no I/O, no state). The browser mirror in `public/js/password-checklist.js`
 * re-implements the same rules for live feedback only; this module is authoritative and any change
 * here must be made there too.
 *
 * Case folding is ASCII-only (A-Z → a-z) on purpose, so that no non-ASCII character can fold into an
 * ASCII letter and trip a rule by accident; such characters are reported as
 * `password.invalid_characters` anyway.
 */
import type { MessageCode } from '../i18n/messages.ts';

/** The codes of the guide's listed rules, in the order the page shows them. */
const RULE_CODES = [
  'password.length',
  'password.uppercase',
  'password.lowercase',
  'password.number',
  'password.special',
  'password.sequential',
  'password.repeated',
  'password.month',
  'password.day',
  'password.restricted_term',
  'password.forbidden_special',
] as const satisfies readonly MessageCode[];

/** Codes {@link checkPassword} can return besides the listed rules' own. */
const EXTRA_CODES = [
  'password.required',
  'password.contains_username',
  'password.invalid_characters',
] as const satisfies readonly MessageCode[];

/** The code of one rule in {@link PASSWORD_RULES} (one of the 11 `password.*` codes the guide lists). */
export type PasswordRuleCode = (typeof RULE_CODES)[number];

/**
 * Every code {@link checkPassword} can return: a {@link PasswordRuleCode}, or `password.required`,
 * `password.contains_username`, `password.invalid_characters`. Each is a key of the message catalog.
 */
export type PasswordCode = PasswordRuleCode | (typeof EXTRA_CODES)[number];

/**
 * One line of the page's password checklist.
 * - `code`: the rule's message code (also the `data-rule` attribute of its `<li>`).
 * - `group`: `'must'` (the password must have it) or `'cannot'` (the password must not have it).
 * - `label`: the guide's on-screen wording.
 * - `example`: the guide's example, shown after the label (only some 'cannot' rules have one).
 */
export interface PasswordRule {
  readonly code: PasswordRuleCode;
  readonly group: 'must' | 'cannot';
  readonly label: string;
  readonly example?: string;
}

/**
 * The rules as the page shows them, in display order: the five "Password Must Have" rules, then the
 * six "Password Cannot Have" rules, with the labels and examples worded exactly as on the carrier
 * user guide, slide 4 "Create Your Secure Login". A frozen array of frozen objects; never throws.
 */
export const PASSWORD_RULES: readonly PasswordRule[] = Object.freeze(
  (
    [
      { code: 'password.length', group: 'must', label: '8-40 characters' },
      { code: 'password.uppercase', group: 'must', label: 'An uppercase letter' },
      { code: 'password.lowercase', group: 'must', label: 'A lowercase letter' },
      { code: 'password.number', group: 'must', label: 'A number' },
      { code: 'password.special', group: 'must', label: 'A special character ~!@#$%^&*(){}' },
      {
        code: 'password.sequential',
        group: 'cannot',
        label: 'More than two sequential characters',
        example: 'Like 123 or ABC',
      },
      {
        code: 'password.repeated',
        group: 'cannot',
        label: 'More than two repeated characters',
        example: 'Like 111 or AAA',
      },
      { code: 'password.month', group: 'cannot', label: 'Abbreviations for months', example: 'Like Jan, Feb, or Mar' },
      { code: 'password.day', group: 'cannot', label: 'Abbreviations for days', example: 'Like Mon, Tue, or Wed' },
      {
        code: 'password.restricted_term',
        group: 'cannot',
        label: 'Restricted terms',
        example: 'Appl, Asdf, Basic, Cadam, Demo, Focus, Game, Net, New, Pas, Ros, Sign, Sys, Tso, Valid, Vtam, Log',
      },
      { code: 'password.forbidden_special', group: 'cannot', label: 'A special character = _ - +' },
    ] satisfies PasswordRule[]
  ).map((rule) => Object.freeze(rule)),
);

// ---- rule data (keep identical to public/js/password-checklist.js) ----
const MIN_LENGTH = 8;
const MAX_LENGTH = 40;
const ALLOWED_SPECIALS = '~!@#$%^&*(){}';
const FORBIDDEN_SPECIALS = '=_-+';
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const RESTRICTED_TERMS = [
  'appl', 'asdf', 'basic', 'cadam', 'demo', 'focus', 'game', 'net',
  'new', 'pas', 'ros', 'sign', 'sys', 'tso', 'valid', 'vtam', 'log',
];

/** Lowercases A-Z only; every other character is left as it is. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

function isLowerLetter(c: string): boolean {
  return c >= 'a' && c <= 'z';
}

/** Three characters in a row, all digits or all letters (case ignored), each one more (or each one less) than the one before: 123, 321, abc, CBA, aBc. */
function hasSequential(chars: readonly string[]): boolean {
  for (let i = 0; i + 2 < chars.length; i++) {
    const a = chars[i];
    const b = chars[i + 1];
    const c = chars[i + 2];
    const sameClass =
      (isDigit(a) && isDigit(b) && isDigit(c)) || (isLowerLetter(a) && isLowerLetter(b) && isLowerLetter(c));
    if (!sameClass) continue;
    const d1 = b.charCodeAt(0) - a.charCodeAt(0);
    const d2 = c.charCodeAt(0) - b.charCodeAt(0);
    if ((d1 === 1 && d2 === 1) || (d1 === -1 && d2 === -1)) return true;
  }
  return false;
}

/** The same character three times in a row (case ignored: aAa counts); any character, not only letters and digits. */
function hasRepeated(chars: readonly string[]): boolean {
  for (let i = 0; i + 2 < chars.length; i++) {
    if (chars[i] === chars[i + 1] && chars[i + 1] === chars[i + 2]) return true;
  }
  return false;
}

function containsAny(lower: string, words: readonly string[]): boolean {
  return words.some((w) => lower.includes(w));
}

function hasAnyOf(s: string, set: string): boolean {
  for (let i = 0; i < s.length; i++) if (set.includes(s[i])) return true;
  return false;
}

/**
 * Whether each listed rule is broken. `lower` is the password with A-Z lowercased, `lowerChars` its
 * code points.
 */
const BROKEN: Record<PasswordRuleCode, (password: string, lower: string, lowerChars: readonly string[]) => boolean> = {
  'password.length': (_p, _l, chars) => chars.length < MIN_LENGTH || chars.length > MAX_LENGTH,
  'password.uppercase': (p) => !/[A-Z]/.test(p),
  'password.lowercase': (p) => !/[a-z]/.test(p),
  'password.number': (p) => !/[0-9]/.test(p),
  'password.special': (p) => !hasAnyOf(p, ALLOWED_SPECIALS),
  'password.sequential': (_p, _l, chars) => hasSequential(chars),
  'password.repeated': (_p, _l, chars) => hasRepeated(chars),
  'password.month': (_p, lower) => containsAny(lower, MONTHS),
  'password.day': (_p, lower) => containsAny(lower, DAYS),
  'password.restricted_term': (_p, lower) => containsAny(lower, RESTRICTED_TERMS),
  'password.forbidden_special': (p) => hasAnyOf(p, FORBIDDEN_SPECIALS),
};

/**
 * Checks a candidate password against the carrier's policy (user guide, slide 4 "Create Your Secure
 * Login").
 *
 * @param password the candidate, exactly as typed (not trimmed).
 * @param opts.username the account's username; when given and non-empty, a password containing it
 *   (case-insensitive) is refused with `password.contains_username`.
 * @returns the codes of every broken rule, empty when the password is acceptable:
 *   - `['password.required']` alone for an empty password;
 *   - otherwise each broken rule of {@link PASSWORD_RULES}, in that order (length counts Unicode
 *     code points, 8-40 inclusive);
 *   - then `password.contains_username` if it applies;
 *   - then `password.invalid_characters` if the password holds anything other than ASCII letters,
 *     digits, `~!@#$%^&*(){}` and `=_-+` (the last four are reported only as
 *     `password.forbidden_special`).
 *   Never throws.
 */
export function checkPassword(password: string, opts: { username?: string } = {}): PasswordCode[] {
  if (password === '') return ['password.required'];
  const lower = asciiLower(password);
  const lowerChars = Array.from(lower);
  const codes: PasswordCode[] = PASSWORD_RULES.filter((rule) => BROKEN[rule.code](password, lower, lowerChars)).map(
    (rule) => rule.code,
  );
  const username = opts.username;
  if (username !== undefined && username !== '' && password.toLowerCase().includes(username.toLowerCase())) {
    codes.push('password.contains_username');
  }
  if (!/^[A-Za-z0-9~!@#$%^&*(){}=_\-+]*$/.test(password)) codes.push('password.invalid_characters');
  return codes;
}
