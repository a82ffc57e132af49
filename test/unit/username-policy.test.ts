import { describe, expect, it } from 'vitest';
import { en } from '../../src/i18n/messages.ts';
import { checkUsername, normalizeUsername, type UsernameCode } from '../../src/security/username-policy.ts';

type Case = [description: string, username: string, expected: UsernameCode[]];

const cases: Case[] = [
  ['empty', '', ['username.required']],
  // length (7..40 inclusive)
  ['1 char', 'a', ['username.too_short']],
  ['6 chars', 'jsmith', ['username.too_short']],
  ['7 chars', 'jsmith1', []],
  ['8 chars', 'jsmith01', []],
  ['40 chars', 'a'.repeat(40), []],
  ['41 chars', 'a'.repeat(41), ['username.too_long']],
  ['digits only', '1234567', []],
  ['upper case only', 'JSMITHX', []],
  ['mixed case and digits', 'JSmith2024', []],
  // characters
  ['period', 'j.smith01', ['username.characters']],
  ['underscore', 'j_smith01', ['username.characters']],
  ['hyphen', 'j-smith01', ['username.characters']],
  ['at sign (email)', 'jsmith@example.com', ['username.characters']],
  ['inner space', 'j smith01', ['username.characters']],
  ['leading space is not trimmed', ' jsmith01', ['username.characters']],
  ['trailing space is not trimmed', 'jsmith01 ', ['username.characters']],
  ['whitespace only', '       ', ['username.characters']],
  ['accented letter', 'jsmíth01', ['username.characters']],
  ['full-width digit', 'jsmith０１', ['username.characters']],
  ['allowed password special', 'jsmith01!', ['username.characters']],
  // combinations
  ['short and bad characters', 'j.s', ['username.characters', 'username.too_short']],
  ['long and bad characters', 'a'.repeat(40) + '.', ['username.characters', 'username.too_long']],
  // code points, not UTF-16 units
  ['6 letters + emoji = 7 code points', 'jsmith😀', ['username.characters']],
  ['39 letters + emoji = 40 code points', 'a'.repeat(39) + '😀', ['username.characters']],
  ['40 letters + emoji = 41 code points', 'a'.repeat(40) + '😀', ['username.characters', 'username.too_long']],
];

describe('checkUsername', () => {
  it.each(cases)('%s', (_description, username, expected) => {
    expect(checkUsername(username)).toEqual(expected);
  });

  it('uses only codes of the message catalog', () => {
    const codes: UsernameCode[] = ['username.required', 'username.characters', 'username.too_short', 'username.too_long'];
    for (const code of codes) expect(Object.keys(en)).toContain(code);
  });
});

describe('normalizeUsername', () => {
  it.each([
    ['JSmith01', 'jsmith01'],
    ['jsmith01', 'jsmith01'],
    ['JSMITH01', 'jsmith01'],
    ['1234567', '1234567'],
    ['', ''],
  ])('%s → %s', (input, expected) => {
    expect(normalizeUsername(input)).toBe(expected);
  });

  it('makes usernames differing only in case equal', () => {
    expect(normalizeUsername('JSmith01')).toBe(normalizeUsername('jSMITH01'));
  });

  it('does not trim', () => {
    expect(normalizeUsername(' JSmith01 ')).toBe(' jsmith01 ');
  });
});
