import { describe, expect, it } from 'vitest';
import {
  CODE_ALPHABET,
  CODE_LENGTH,
  codeMessage,
  deriveCodeKey,
  generateCode,
  isWellFormedCode,
  normalizeCodeEntry,
  ONE_TIME_CODE_POLICY,
} from '../../src/security/one-time-codes.ts';

describe('one-time code shape (guide: "OTP should be 8 characters")', () => {
  it('uses 31 distinct characters without look-alikes', () => {
    expect(CODE_ALPHABET).toHaveLength(31);
    expect(new Set(CODE_ALPHABET).size).toBe(CODE_ALPHABET.length);
    for (const c of ['0', 'O', '1', 'I', 'L', 'l', 'o', 'i']) expect(CODE_ALPHABET).not.toContain(c);
    expect(CODE_ALPHABET).toMatch(/^[A-Z2-9]+$/);
  });

  it('generates 8 characters of the alphabet, every character about equally often', () => {
    expect(CODE_LENGTH).toBe(8);
    const counts = new Map<string, number>();
    const n = 10_000;
    for (let i = 0; i < n; i++) {
      const code = generateCode();
      expect(code).toHaveLength(8);
      expect(isWellFormedCode(code)).toBe(true);
      for (const c of code) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    // 80 000 characters over 31 symbols: 2581 expected each, standard deviation ≈ 50.
    expect(counts.size).toBe(31);
    for (const count of counts.values()) {
      expect(count).toBeGreaterThan(2100);
      expect(count).toBeLessThan(3100);
    }
  });

  it('keeps the policy of the guide and NIST SP 800-63B', () => {
    expect(ONE_TIME_CODE_POLICY).toEqual({ ttlSeconds: 600, maxAttempts: 5, resendSeconds: 30, sendsPerHour: 5 });
  });

  it('derives a dedicated key, different per secret and from the secret itself', () => {
    const a = deriveCodeKey('a'.repeat(40));
    expect(a).not.toBe('a'.repeat(40));
    expect(a).not.toBe(deriveCodeKey('b'.repeat(40)));
    expect(a).toBe(deriveCodeKey('a'.repeat(40)));
  });
});

describe('entry normalization', () => {
  const cases: [description: string, input: string, normalized: string, wellFormed: boolean][] = [
    ['as sent', 'ABCD2345', 'ABCD2345', true],
    ['lower case', 'abcd2345', 'ABCD2345', true],
    ['mixed case', 'aBcD2345', 'ABCD2345', true],
    ['leading and trailing spaces', '  ABCD2345 ', 'ABCD2345', true],
    ['grouped with a dash', 'abcd-2345', 'ABCD2345', true],
    ['grouped with a space', 'ABCD 2345', 'ABCD2345', true],
    ['several separators', ' a-b c-d 2-3 4-5 ', 'ABCD2345', true],
    ['en dash and non-breaking space (pasted)', 'ABCD\u2013\u00a02345', 'ABCD2345', true],
    ['tab and newline', 'ABCD\t2345\n', 'ABCD2345', true],
    ['full-width letters', 'ＡＢＣＤ２３４５', 'ABCD2345', true],
    ['too short', 'ABCD234', 'ABCD234', false],
    ['too long', 'ABCD23456', 'ABCD23456', false],
    ['look-alike zero is not mapped', 'ABCD0345', 'ABCD0345', false],
    ['letter O is not in the alphabet', 'ABCDO345', 'ABCDO345', false],
    ['other punctuation stays (no match)', 'ABCD.2345', 'ABCD.2345', false],
    ['empty', '', '', false],
  ];
  it.each(cases)('%s', (_d, input, normalized, wellFormed) => {
    expect(normalizeCodeEntry(input)).toBe(normalized);
    expect(isWellFormedCode(normalizeCodeEntry(input))).toBe(wellFormed);
  });
});

describe('code message', () => {
  const branding = { productName: 'Producer Experience Portal' };

  it('says only the code, its lifetime and to ignore it if not requested, in one SMS segment', () => {
    const text = codeMessage('ABCD2345', 10, branding);
    expect(text).toBe('Your Producer Experience Portal verification code is ABCD2345. It expires in 10 minutes. If you did not request it, ignore this message.');
    expect(text.length).toBeLessThan(160);
    expect(text).not.toMatch(/https?:|www\./);
  });

  it('uses the singular for one minute', () => {
    expect(codeMessage('ABCD2345', 1, branding)).toContain('expires in 1 minute.');
  });

  it('leaves out a product name that would make it 160 characters or more', () => {
    const text = codeMessage('ABCD2345', 10, { productName: 'A'.repeat(60) });
    expect(text).toBe('Your verification code is ABCD2345. It expires in 10 minutes. If you did not request it, ignore this message.');
    expect(text.length).toBeLessThan(160);
  });
});
