import { describe, expect, it } from 'vitest';
import {
  normalizeNpn,
  normalizePhone,
  normalizeProducerNumber,
  normalizeZip,
  zipMatches,
} from '../../src/producers/records.ts';

describe('normalizeProducerNumber', () => {
  it.each([
    ['123456789', '123456789'],
    ['12345', '000012345'],
    ['0012345', '000012345'],
    ['000012345', '000012345'],
    ['  12345  ', '000012345'],
    ['1', '000000001'],
    ['000000000', '000000000'],
  ])('%j -> %j', (input, expected) => {
    expect(normalizeProducerNumber(input)).toBe(expected);
  });

  it.each([
    [''],
    ['   '],
    ['1234567890'], // 10 digits
    ['0123456789'], // 10 characters even with a leading zero
    ['12a45'],
    ['123-456'],
    ['123 456'],
    ['-12345'],
    ['+12345'],
    ['1.5'],
    ['１２３'], // full-width digits
  ])('%j -> null', (input) => {
    expect(normalizeProducerNumber(input)).toBeNull();
  });
});

describe('normalizeNpn', () => {
  it.each([
    ['12345', '12345'],
    ['0012345', '12345'],
    [' 12345 ', '12345'],
    ['1234567890', '1234567890'],
    ['0000000001', '1'],
    ['7', '7'],
  ])('%j -> %j', (input, expected) => {
    expect(normalizeNpn(input)).toBe(expected);
  });

  it('makes 0012345 and 12345 compare equal', () => {
    expect(normalizeNpn('0012345')).toBe(normalizeNpn('12345'));
  });

  it.each([[''], ['  '], ['12a'], ['12345678901'], ['0'], ['0000'], ['12 345'], ['1e5'], ['-1']])(
    '%j -> null',
    (input) => {
      expect(normalizeNpn(input)).toBeNull();
    },
  );
});

describe('normalizeZip', () => {
  it.each([
    ['60601', '60601'],
    ['60601-1234', '60601'],
    ['606011234', '60601'],
    [' 02134 ', '02134'],
    ['00501', '00501'],
  ])('%j -> %j', (input, expected) => {
    expect(normalizeZip(input)).toBe(expected);
  });

  it.each([
    [''],
    ['6060'],
    ['2134'], // leading zero lost in a spreadsheet: not guessed
    ['606011'],
    ['60601-123'],
    ['60601-12345'],
    ['60601 1234'],
    ['6060a'],
    ['K1A 0B1'],
  ])('%j -> null', (input) => {
    expect(normalizeZip(input)).toBeNull();
  });
});

describe('normalizePhone', () => {
  it.each([
    ['(312) 555-0101', '+13125550101'],
    ['312-555-0101', '+13125550101'],
    ['312.555.0101', '+13125550101'],
    ['3125550101', '+13125550101'],
    ['1-312-555-0101', '+13125550101'],
    ['+1 312 555 0101', '+13125550101'],
    ['  (212) 555-0199  ', '+12125550199'],
  ])('%j -> %j', (input, expected) => {
    expect(normalizePhone(input)).toBe(expected);
  });

  it('reads international numbers and honours the default country', () => {
    expect(normalizePhone('+44 20 7946 0958')).toBe('+442079460958');
    expect(normalizePhone('020 7946 0958', 'GB')).toBe('+442079460958');
  });

  it.each([[''], ['555'], ['312-555-01011'], ['(000) 555-0101'], ['abc'], ['312 555 0101 ext 5'], ['+']])(
    '%j -> null',
    (input) => {
      expect(normalizePhone(input)).toBeNull();
    },
  );
});

describe('zipMatches', () => {
  const record = { businessZip: '60601', bapZip: '60614' };
  const noBap = { businessZip: '60601', bapZip: null };

  it.each([
    [record, '60601', true],
    [record, '60614', true],
    [record, '60614-0001', true],
    [record, ' 60601 ', true],
    [record, '60602', false],
    [record, '', false],
    [record, 'abcde', false],
    [noBap, '60601', true],
    [noBap, '60614', false],
    [noBap, '', false],
  ])('%j with %j -> %j', (rec, zip, expected) => {
    expect(zipMatches(rec, zip)).toBe(expected);
  });
});
