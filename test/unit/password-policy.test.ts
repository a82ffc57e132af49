import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { en } from '../../src/i18n/messages.ts';
import { checkPassword, PASSWORD_RULES, type PasswordCode } from '../../src/security/password-policy.ts';

/** Passes every rule on its own; appending a fragment after the '{' cannot join a sequence or a term. */
const BASE = 'Qz7!kR9{';
const GOOD = 'Qz7!kR9{mW';

describe('PASSWORD_RULES', () => {
  it('lists the guide slide 4 rules, in page order, with its exact wording', () => {
    expect(PASSWORD_RULES).toEqual([
      { code: 'password.length', group: 'must', label: '8-40 characters' },
      { code: 'password.uppercase', group: 'must', label: 'An uppercase letter' },
      { code: 'password.lowercase', group: 'must', label: 'A lowercase letter' },
      { code: 'password.number', group: 'must', label: 'A number' },
      { code: 'password.special', group: 'must', label: 'A special character ~!@#$%^&*(){}' },
      { code: 'password.sequential', group: 'cannot', label: 'More than two sequential characters', example: 'Like 123 or ABC' },
      { code: 'password.repeated', group: 'cannot', label: 'More than two repeated characters', example: 'Like 111 or AAA' },
      { code: 'password.month', group: 'cannot', label: 'Abbreviations for months', example: 'Like Jan, Feb, or Mar' },
      { code: 'password.day', group: 'cannot', label: 'Abbreviations for days', example: 'Like Mon, Tue, or Wed' },
      {
        code: 'password.restricted_term',
        group: 'cannot',
        label: 'Restricted terms',
        example: 'Appl, Asdf, Basic, Cadam, Demo, Focus, Game, Net, New, Pas, Ros, Sign, Sys, Tso, Valid, Vtam, Log',
      },
      { code: 'password.forbidden_special', group: 'cannot', label: 'A special character = _ - +' },
    ]);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(PASSWORD_RULES)).toBe(true);
    for (const rule of PASSWORD_RULES) expect(Object.isFrozen(rule)).toBe(true);
  });

  it('uses only codes of the message catalog', () => {
    const codes: PasswordCode[] = [
      ...PASSWORD_RULES.map((r) => r.code),
      'password.required',
      'password.contains_username',
      'password.invalid_characters',
    ];
    for (const code of codes) expect(Object.keys(en)).toContain(code);
  });
});

type Case = [description: string, password: string, expected: PasswordCode[]];

const cases: Case[] = [
  // acceptable
  ['the reference good password', GOOD, []],
  ['the base alone (8 chars)', BASE, []],
  ['every allowed special', 'Qz7~!@#$%^&*(){}', []],
  // required
  ['empty', '', ['password.required']],
  // length (code points, 8..40 inclusive)
  ['7 chars', 'Qz7!kR9', ['password.length']],
  ['8 chars', 'Qz7!kR9{', []],
  ['40 chars', GOOD.repeat(4), []],
  ['41 chars', GOOD.repeat(4) + 'k', ['password.length']],
  ['single character', 'Q', ['password.length', 'password.lowercase', 'password.number', 'password.special']],
  // must-have classes
  ['no uppercase', 'qz7!kr9{mw', ['password.uppercase']],
  ['no lowercase', 'QZ7!KR9{MW', ['password.lowercase']],
  ['no number', 'Qzx!kRq{mW', ['password.number']],
  ['no special', 'Qz7xkR9ymW', ['password.special']],
  ['only a forbidden special', 'Qz7-kR9xmW', ['password.special', 'password.forbidden_special']],
  // sequential
  ['ab is fine', BASE + 'ab', []],
  ['12 is fine', BASE + '12', []],
  ['abc', BASE + 'abc', ['password.sequential']],
  ['ABC', BASE + 'ABC', ['password.sequential']],
  ['aBc (mixed case)', BASE + 'aBc', ['password.sequential']],
  ['cba (descending)', BASE + 'cba', ['password.sequential']],
  ['CbA (descending, mixed case)', BASE + 'CbA', ['password.sequential']],
  ['xyz', BASE + 'xyz', ['password.sequential']],
  ['zyx', BASE + 'zyx', ['password.sequential']],
  ['123', BASE + '123', ['password.sequential']],
  ['321', BASE + '321', ['password.sequential']],
  ['789', BASE + '789', ['password.sequential']],
  ['abcd (longer run)', BASE + 'abcd', ['password.sequential']],
  ['sequence at the very start', 'abcQ7!kR9{', ['password.sequential']],
  ['yza does not wrap around', BASE + 'yza', []],
  ['890 does not wrap around', BASE + '890', []],
  ['abd is not a sequence', BASE + 'abd', []],
  ['ace is not a sequence', BASE + 'ace', []],
  ['aba goes up then down', BASE + 'aba', []],
  ['@AB: @ is not a letter', BASE + '@AB', []],
  ['a digit and letters do not chain (9ab)', BASE + '9ab', []],
  ['9:; is not within digits', BASE + '9:;', ['password.invalid_characters']],
  ['z{| is not within letters', 'Qz7!kR9xz{|', ['password.invalid_characters']],
  // repeated
  ['aa is fine', BASE + 'aa', []],
  ['11 is fine', BASE + '11', []],
  ['aaa', BASE + 'aaa', ['password.repeated']],
  ['AAA', BASE + 'AAA', ['password.repeated']],
  ['AaA (case-insensitive)', BASE + 'AaA', ['password.repeated']],
  ['aAa (case-insensitive)', BASE + 'aAa', ['password.repeated']],
  ['111', BASE + '111', ['password.repeated']],
  ['!!! (any character)', BASE + '!!!', ['password.repeated']],
  ['{{{ joins the base brace', BASE + '{{', ['password.repeated']],
  ['aabb is fine', BASE + 'aabb', []],
  ['aaaa', BASE + 'aaaa', ['password.repeated']],
  // months
  ...['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'].flatMap((m): Case[] => [
    [`month ${m}`, BASE + m, ['password.month']],
    [`month ${m.toUpperCase()}`, BASE + m.toUpperCase(), ['password.month']],
  ]),
  ['month Jan as written in the guide', BASE + 'Jan', ['password.month']],
  ['month mAy, mixed case', BASE + 'mAy', ['password.month']],
  ['ja + n split by a digit is fine', BASE + 'ja7n', []],
  ['Janet hides Jan (and Net)', BASE + 'Janet', ['password.month', 'password.restricted_term']],
  ['xdecx hides dec', BASE + 'xdecx', ['password.month']],
  // days
  ...['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].flatMap((d): Case[] => [
    [`day ${d}`, BASE + d, ['password.day']],
    [`day ${d.toUpperCase()}`, BASE + d.toUpperCase(), ['password.day']],
  ]),
  ['Money hides Mon', BASE + 'Money', ['password.day']],
  ['xWEDx hides Wed', BASE + 'xWEDx', ['password.day']],
  // restricted terms
  ...['Appl', 'Asdf', 'Basic', 'Cadam', 'Demo', 'Focus', 'Game', 'Net', 'New', 'Pas', 'Ros', 'Sign', 'Sys', 'Tso', 'Valid', 'Vtam', 'Log'].flatMap(
    (term): Case[] => [
      [`term ${term}`, BASE + term, ['password.restricted_term']],
      [`term ${term.toLowerCase()}`, BASE + term.toLowerCase(), ['password.restricted_term']],
      [`term ${term.toUpperCase()}`, BASE + term.toUpperCase(), ['password.restricted_term']],
      [`term x${term}x`, BASE + 'x' + term + 'x', ['password.restricted_term']],
    ],
  ),
  ['xNEWx', BASE + 'xNEWx', ['password.restricted_term']],
  ['Password hides Pas', 'Password7!', ['password.restricted_term']],
  ['App without l is fine', BASE + 'App', []],
  ['Ne + t split by a digit is fine', BASE + 'Ne7t', []],
  // forbidden specials (never also invalid_characters)
  ...['=', '_', '-', '+'].map((c): Case => [`forbidden ${c}`, GOOD + c, ['password.forbidden_special']]),
  ['all forbidden specials together', GOOD + '=_-+', ['password.forbidden_special']],
  // invalid characters
  ['space', 'Qz7! kR9{mW', ['password.invalid_characters']],
  ['tab', 'Qz7!\tkR9{mW', ['password.invalid_characters']],
  ['accented letter', GOOD + 'é', ['password.invalid_characters']],
  ['non-ASCII letter alone does not count as lowercase', 'QZ7!KR9{MWé', ['password.lowercase', 'password.invalid_characters']],
  ['full-width digit does not count as a number', 'Qzx!kRq{mW７', ['password.number', 'password.invalid_characters']],
  ['Cyrillic а (looks like a) does not make a sequence', BASE + '\u0430bc', ['password.invalid_characters']],
  ['Kelvin sign K does not fold into k', BASE + 'j\u212Al', ['password.invalid_characters']],
  ['other ASCII punctuation', GOOD + '.', ['password.invalid_characters']],
  ...['"', "'", ',', '/', ':', ';', '<', '>', '?', '[', ']', '\\', '`', '|'].map(
    (c): Case => [`ASCII ${JSON.stringify(c)}`, GOOD + c, ['password.invalid_characters']],
  ),
  ['emoji counts as one character: 7 + 1 = 8', 'Qz7!kR9😀', ['password.invalid_characters']],
  ['emoji counts as one character: 39 + 1 = 40', GOOD.repeat(3) + 'Qz7!kR9{m' + '😀', ['password.invalid_characters']],
  ['forbidden special and invalid character', GOOD + '-é', ['password.forbidden_special', 'password.invalid_characters']],
  // many at once, in rule order
  ['abc', 'abc', ['password.length', 'password.uppercase', 'password.number', 'password.special', 'password.sequential']],
  ['password', 'password', ['password.uppercase', 'password.number', 'password.special', 'password.restricted_term']],
  [
    'everything wrong',
    'aaa123janmonnet_ é',
    [
      'password.uppercase',
      'password.special',
      'password.sequential',
      'password.repeated',
      'password.month',
      'password.day',
      'password.restricted_term',
      'password.forbidden_special',
      'password.invalid_characters',
    ],
  ],
];

describe('checkPassword', () => {
  it.each(cases)('%s', (_description, password, expected) => {
    expect(checkPassword(password)).toEqual(expected);
  });

  it('builds the 40-character cases it claims to', () => {
    expect([...(GOOD.repeat(4))].length).toBe(40);
    expect([...(GOOD.repeat(3) + 'Qz7!kR9{m' + '😀')].length).toBe(40);
    expect((GOOD.repeat(3) + 'Qz7!kR9{m' + '😀').length).toBe(41); // UTF-16 units: would fail if counted so
    expect([...'Qz7!kR9😀'].length).toBe(8);
  });

  it('returns only password.required for an empty password, even with a username', () => {
    expect(checkPassword('', { username: 'jsmith01' })).toEqual(['password.required']);
  });

  const usernameCases: [description: string, password: string, username: string | undefined, expected: PasswordCode[]][] = [
    ['username exact case', 'Qz7!JSmith01{', 'JSmith01', ['password.contains_username']],
    ['username lower in password, mixed in account', 'Qz7!jsmith01{', 'JSmith01', ['password.contains_username']],
    ['username upper in password', 'Qz7!JSMITH01{', 'jsmith01', ['password.contains_username']],
    ['username alternating case', 'Qz7!jSmItH01{', 'JSMITH01', ['password.contains_username']],
    ['password equal to username (plus the rest of the rules)', 'jsmith01', 'jsmith01', [
      'password.uppercase',
      'password.special',
      'password.contains_username',
    ]],
    ['only part of the username', 'Qz7!jsmith0{', 'jsmith01', []],
    ['no username given', 'Qz7!jsmith01{', undefined, []],
    ['empty username ignored', GOOD, '', []],
    ['username after rule codes', 'Qz7!jsmith01{-', 'jsmith01', ['password.forbidden_special', 'password.contains_username']],
    ['username before invalid_characters', 'Qz7!jsmith01{é', 'jsmith01', ['password.contains_username', 'password.invalid_characters']],
  ];

  it.each(usernameCases)('%s', (_description, password, username, expected) => {
    expect(checkPassword(password, username === undefined ? {} : { username })).toEqual(expected);
  });

  it('does not mutate or depend on prior calls', () => {
    expect(checkPassword(GOOD)).toEqual([]);
    expect(checkPassword('abc')).toHaveLength(5);
    expect(checkPassword(GOOD)).toEqual([]);
  });
});

// ---- the browser mirror (public/js/password-checklist.js) must agree with the server rules ----

class FakeClassList {
  readonly set = new Set<string>();
  toggle(name: string, force: boolean): boolean {
    if (force) this.set.add(name);
    else this.set.delete(name);
    return force;
  }
}

class FakeLi {
  readonly classList = new FakeClassList();
  readonly attrs = new Map<string, string>();
  constructor(code: string) {
    this.attrs.set('data-rule', code);
  }
  getAttribute(name: string): string | null {
    return this.attrs.get(name) ?? null;
  }
  setAttribute(name: string, value: string): void {
    this.attrs.set(name, value);
  }
}

class FakeInput {
  value = '';
  private listener: (() => void) | undefined;
  addEventListener(type: string, fn: () => void): void {
    if (type === 'input') this.listener = fn;
  }
  type(value: string): void {
    this.value = value;
    this.listener?.();
  }
}

function loadChecklist(extraCodes: string[] = []) {
  const items = [...PASSWORD_RULES.map((r) => r.code), ...extraCodes].map((code) => new FakeLi(code));
  const input = new FakeInput();
  const list = {
    closest: () => null,
    querySelectorAll: (sel: string) => (sel === 'li[data-rule]' ? items : []),
  };
  const document = {
    readyState: 'complete',
    querySelectorAll: (sel: string) => (sel === '[data-password-rules]' ? [list] : []),
    querySelector: (sel: string) => (sel === 'input[name="password"]' ? input : null),
    addEventListener: () => undefined,
  };
  const source = readFileSync(new URL('../../public/js/password-checklist.js', import.meta.url), 'utf8');
  vm.runInNewContext(source, { document });
  /** Types a password and returns the codes the checklist shows as unmet, plus the raw items. */
  const show = (password: string) => {
    input.type(password);
    return items.filter((li) => li.getAttribute('data-state') === 'unmet').map((li) => li.getAttribute('data-rule'));
  };
  return { show, items };
}

/** Deterministic pseudo-random generator (mulberry32) so the fuzz below is reproducible. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('public/js/password-checklist.js mirrors checkPassword', () => {
  const ruleCodes = new Set<string>(PASSWORD_RULES.map((r) => r.code));
  const serverRuleCodes = (password: string) => checkPassword(password).filter((c) => ruleCodes.has(c));

  it('marks every li met or unmet, with matching classes', () => {
    const { show, items } = loadChecklist();
    expect(show('abc')).toEqual(['password.length', 'password.uppercase', 'password.number', 'password.special', 'password.sequential']);
    for (const li of items) {
      const state = li.getAttribute('data-state');
      expect(['met', 'unmet']).toContain(state);
      expect([...li.classList.set]).toEqual([state]);
    }
    expect(show(GOOD)).toEqual([]);
    for (const li of items) expect([...li.classList.set]).toEqual(['met']);
  });

  it('on an empty password, the must rules are unmet and the cannot rules met', () => {
    const { show } = loadChecklist();
    expect(show('')).toEqual(PASSWORD_RULES.filter((r) => r.group === 'must').map((r) => r.code));
  });

  it('leaves li items of codes it does not know alone', () => {
    const { show, items } = loadChecklist(['password.contains_username']);
    show('abc');
    const extra = items.find((li) => li.getAttribute('data-rule') === 'password.contains_username');
    expect(extra?.getAttribute('data-state')).toBeNull();
    expect(extra?.classList.set.size).toBe(0);
  });

  it('agrees on every table case', () => {
    const { show } = loadChecklist();
    for (const [, password] of cases) {
      if (password === '') continue;
      expect(show(password), password).toEqual(serverRuleCodes(password));
    }
  });

  it('agrees on 5000 random passwords, including the characters the server refuses', () => {
    const { show } = loadChecklist(['password.invalid_characters']);
    const withInvalid = new Set<string>([...ruleCodes, 'password.invalid_characters']);
    const serverCodes = (password: string) => checkPassword(password).filter((c) => withInvalid.has(c));
    // single characters, plus every listed word in two cases, so each rule is hit often
    const words = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec',
      'mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun', 'appl', 'asdf', 'basic', 'cadam', 'demo', 'focus',
      'game', 'net', 'new', 'pas', 'ros', 'sign', 'sys', 'tso', 'valid', 'vtam', 'log'];
    const tokens = [
      ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789~!@#$%^&*(){}=_-+ .:;[`é😀\u212A',
      ...words,
      ...words.map((w) => w.toUpperCase()),
    ];
    const next = rng(20240604);
    for (let n = 0; n < 5000; n++) {
      const count = 1 + Math.floor(next() * 30);
      let password = '';
      for (let i = 0; i < count; i++) password += tokens[Math.floor(next() * tokens.length)];
      expect(show(password), password).toEqual(serverCodes(password));
    }
  });
});
