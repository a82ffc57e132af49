import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  formatImportError,
  parseProducerCsv,
  PRODUCER_CSV_COLUMNS,
  type ProducerCsvColumn,
} from '../../src/producers/csv-import.ts';
import type { ProducerRecord } from '../../src/producers/records.ts';

// Fictitious data only: made-up names, example.com addresses, 555-01xx phone numbers.
type Row = Partial<Record<ProducerCsvColumn, string>>;

/** A valid row for fictitious producer number n (1..99). */
function row(n: number, overrides: Row = {}): Row {
  const two = String(n).padStart(2, '0');
  return {
    producer_number: `0000000${two}`,
    npn: `80000${two}`,
    first_name: `Tester${two}`,
    last_name: 'Example',
    agency_name: 'Fictional Agency',
    email: `tester${two}@example.com`,
    mobile_phone: `312-555-01${two}`,
    business_zip: '60601',
    bap_zip: '60614',
    parent_producer_number: '',
    status: 'active',
    ...overrides,
  };
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Builds CSV text with the given columns (in that order) and rows. */
function csv(columns: readonly string[], rows: Row[], eol = '\n'): string {
  const lines = [columns.join(',')];
  for (const r of rows) lines.push(columns.map((c) => csvField((r as Record<string, string>)[c] ?? '')).join(','));
  return lines.join(eol) + eol;
}

const ALL = PRODUCER_CSV_COLUMNS;

describe('parseProducerCsv: valid files', () => {
  it('reads a good file with the columns in shuffled order and mixed-case, padded header names', () => {
    const columns = [
      ' Status ',
      'EMAIL',
      'bap_zip',
      'npn',
      'Last_Name',
      'parent_producer_number',
      'business_zip',
      'mobile_phone',
      'first_name',
      'agency_name',
      'producer_number',
    ];
    const rows = [
      row(1),
      row(2, {
        producer_number: '2',
        npn: '0080000002',
        mobile_phone: '(312) 555-0102',
        business_zip: '60601-1234',
        bap_zip: '',
        agency_name: '',
        parent_producer_number: '1',
        status: 'INACTIVE',
      }),
      row(3, { mobile_phone: '', status: '' }),
    ];
    // The header with padded names is written by hand; rows are written in the trimmed order.
    const trimmed = columns.map((c) => c.trim().toLowerCase());
    const text = [columns.join(','), ...rows.map((r) => trimmed.map((c) => csvField((r as Record<string, string>)[c] ?? '')).join(','))].join('\n');

    const result = parseProducerCsv(text);
    expect(result.errors).toEqual([]);
    expect(result.records).toEqual<ProducerRecord[]>([
      {
        producerNumber: '000000001',
        npn: '8000001',
        firstName: 'Tester01',
        lastName: 'Example',
        agencyName: 'Fictional Agency',
        email: 'tester01@example.com',
        mobilePhone: '+13125550101',
        businessZip: '60601',
        bapZip: '60614',
        parentProducerNumber: null,
        status: 'active',
      },
      {
        producerNumber: '000000002',
        npn: '80000002',
        firstName: 'Tester02',
        lastName: 'Example',
        agencyName: null,
        email: 'tester02@example.com',
        mobilePhone: '+13125550102',
        businessZip: '60601',
        bapZip: null,
        parentProducerNumber: '000000001',
        status: 'inactive',
      },
      {
        producerNumber: '000000003',
        npn: '8000003',
        firstName: 'Tester03',
        lastName: 'Example',
        agencyName: 'Fictional Agency',
        email: 'tester03@example.com',
        mobilePhone: null,
        businessZip: '60601',
        bapZip: '60614',
        parentProducerNumber: null,
        status: 'active',
      },
    ]);
  });

  it('accepts a file with only the required columns', () => {
    const columns = ['producer_number', 'npn', 'first_name', 'last_name', 'email', 'business_zip'];
    const result = parseProducerCsv(csv(columns, [row(1)]));
    expect(result.errors).toEqual([]);
    expect(result.records).toMatchObject([
      { producerNumber: '000000001', agencyName: null, mobilePhone: null, bapZip: null, parentProducerNumber: null, status: 'active' },
    ]);
  });

  it('trims values and keeps the email as given', () => {
    const result = parseProducerCsv(
      csv(ALL, [row(1, { first_name: '  Tester01 ', email: ' Tester01@Example.COM ', npn: ' 8000001 ' })]),
    );
    expect(result.errors).toEqual([]);
    expect(result.records[0]).toMatchObject({ firstName: 'Tester01', email: 'Tester01@Example.COM', npn: '8000001' });
  });

  it.each([
    ['LF', '\n', ''],
    ['CRLF', '\r\n', ''],
    ['CR', '\r', ''],
    ['CRLF with BOM', '\r\n', '\uFEFF'],
    ['LF with BOM', '\n', '\uFEFF'],
  ])('handles %s line endings', (_name, eol, bom) => {
    const text = bom + csv(ALL, [row(1), row(2)], eol) + eol + eol; // plus blank trailing lines
    const result = parseProducerCsv(text);
    expect(result.errors).toEqual([]);
    expect(result.records.map((r) => r.producerNumber)).toEqual(['000000001', '000000002']);
    expect(result.records[1].status).toBe('active');
  });

  it('handles quoted fields with commas and doubled quotes', () => {
    const result = parseProducerCsv(
      csv(ALL, [row(1, { agency_name: 'Quill, Ink & "Parchment" Agency', last_name: "O'Example" })]),
    );
    expect(result.errors).toEqual([]);
    expect(result.records[0].agencyName).toBe('Quill, Ink & "Parchment" Agency');
    expect(result.records[0].lastName).toBe("O'Example");
  });

  it('skips blank lines and lines of only commas', () => {
    const text = csv(ALL, [row(1)]) + '\n   \n,,,,,,,,,,\n' + csv(ALL, [row(2)]).split('\n')[1] + '\n';
    const result = parseProducerCsv(text);
    expect(result.errors).toEqual([]);
    expect(result.records).toHaveLength(2);
  });

  it('accepts a header-only file as zero records', () => {
    expect(parseProducerCsv(ALL.join(',') + '\n')).toEqual({ records: [], errors: [], recordLines: [] });
  });
});

describe('parseProducerCsv: bad rows', () => {
  // Each case: overrides for one bad row placed at data row 3 (file line 4), between two good rows.
  it.each<[string, Row, string[]]>([
    ['npn with a letter', { npn: '12a' }, ['npn "12a" is not a number of 1 to 10 digits']],
    ['npn of 11 digits', { npn: '12345678901' }, ['npn "12345678901" is not a number of 1 to 10 digits']],
    ['npn zero', { npn: '000' }, ['npn "000" is not a number of 1 to 10 digits']],
    ['empty npn', { npn: '' }, ['npn is required but empty']],
    ['empty producer_number', { producer_number: '  ' }, ['producer_number is required but empty']],
    [
      'producer_number of 10 digits',
      { producer_number: '1234567890' },
      ['producer_number "1234567890" is not a number of 1 to 9 digits'],
    ],
    [
      'parent_producer_number not digits',
      { parent_producer_number: 'P-1' },
      ['parent_producer_number "P-1" is not a number of 1 to 9 digits'],
    ],
    [
      'parent_producer_number is itself',
      { parent_producer_number: '3' },
      ['parent_producer_number "3" is the row\'s own producer_number'],
    ],
    ['empty first_name', { first_name: '' }, ['first_name is required but empty']],
    ['empty last_name', { last_name: '' }, ['last_name is required but empty']],
    ['first_name too long', { first_name: 'A'.repeat(101) }, ['first_name is longer than 100 characters']],
    ['agency_name too long', { agency_name: 'B'.repeat(101) }, ['agency_name is longer than 100 characters']],
    ['control character in last_name', { last_name: 'Exa\u0007mple' }, ['last_name "Exa\\u0007mple" contains control characters']],
    ['bidi override in first_name', { first_name: 'Tes\u202Eter' }, ['first_name "Tes\u202Eter" contains control characters']],
    ['bad email', { email: 'not-an-email' }, ['email "not-an-email" is not a valid email address']],
    ['email with a space', { email: 'tester 03@example.com' }, ['email "tester 03@example.com" is not a valid email address']],
    ['empty email', { email: '' }, ['email is required but empty']],
    ['short phone', { mobile_phone: '555' }, ['mobile_phone "555" is not a valid phone number']],
    ['phone with extension', { mobile_phone: '312-555-0103 x12' }, ['mobile_phone "312-555-0103 x12" is not a valid phone number']],
    ['4-digit business_zip', { business_zip: '6060' }, ['business_zip "6060" is not a 5-digit ZIP code or ZIP+4']],
    ['empty business_zip', { business_zip: '' }, ['business_zip is required but empty']],
    ['bad bap_zip', { bap_zip: '60614-12' }, ['bap_zip "60614-12" is not a 5-digit ZIP code or ZIP+4']],
    ['unknown status', { status: 'pending' }, ['status "pending" is not "active" or "inactive"']],
    [
      'several problems',
      { npn: 'x', email: 'y', business_zip: 'z' },
      [
        'npn "x" is not a number of 1 to 10 digits',
        'email "y" is not a valid email address',
        'business_zip "z" is not a 5-digit ZIP code or ZIP+4',
      ],
    ],
  ])('%s', (_name, overrides, reasons) => {
    const result = parseProducerCsv(csv(ALL, [row(1), row(2), row(3, overrides), row(4)]));
    expect(result.errors).toEqual(reasons.map((reason) => ({ line: 4, reason })));
    expect(result.records.map((r) => r.producerNumber)).toEqual(['000000001', '000000002', '000000004']);
  });

  it('formats an error as "line N: reason"', () => {
    const result = parseProducerCsv(csv(ALL, [row(1), row(2), row(3, { npn: '12a' })]));
    expect(result.errors.map(formatImportError)).toEqual(['line 4: npn "12a" is not a number of 1 to 10 digits']);
  });

  it('shortens long values quoted in a reason', () => {
    const result = parseProducerCsv(csv(ALL, [row(1, { email: 'x'.repeat(300) })]));
    expect(result.errors).toEqual([{ line: 2, reason: `email "${'x'.repeat(40)}…" is not a valid email address` }]);
  });

  it('reports a duplicated producer_number on the later line, comparing normalized numbers', () => {
    const result = parseProducerCsv(
      csv(ALL, [row(1), row(2), row(3), row(4, { producer_number: '2' }), row(5, { producer_number: '000000001' })]),
    );
    expect(result.errors).toEqual([
      { line: 5, reason: 'producer_number "2" is a duplicate of the producer number on line 3' },
      { line: 6, reason: 'producer_number "000000001" is a duplicate of the producer number on line 2' },
    ]);
    expect(result.records.map((r) => r.firstName)).toEqual(['Tester01', 'Tester02', 'Tester03']);
  });

  it('counts a producer_number as used even when its first row is bad', () => {
    const result = parseProducerCsv(csv(ALL, [row(1, { email: 'bad' }), row(2, { producer_number: '1' })]));
    expect(result.errors).toEqual([
      { line: 2, reason: 'email "bad" is not a valid email address' },
      { line: 3, reason: 'producer_number "1" is a duplicate of the producer number on line 2' },
    ]);
    expect(result.records).toEqual([]);
  });

  it('reports rows with the wrong number of fields', () => {
    const good = csv(ALL, [row(1)]);
    const text = good + '000000002,8000002,Tester02\n' + good.split('\n')[1].replace('000000001', '000000003') + ',extra\n';
    const result = parseProducerCsv(text);
    expect(result.errors).toEqual([
      { line: 3, reason: 'the row has 3 field(s) but the header has 11' },
      { line: 4, reason: 'the row has 12 field(s) but the header has 11' },
    ]);
    expect(result.records).toHaveLength(1);
  });

  it.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
  ])('gives physical line numbers across blank lines and multi-line quoted fields (%s)', (_name, eol) => {
    const lines = csv(ALL, [row(1), row(2, { agency_name: `Multi${eol}Line Agency` }), row(3, { npn: 'bad' })], eol).split(eol);
    // lines: 0 header, 1 row 1, 2-3 row 2 (quoted field spans two lines), 4 row 3
    const text = ['', lines[0], lines[1], '', lines[2], lines[3], '', '', lines[4], ''].join(eol);
    const result = parseProducerCsv('\uFEFF' + text);
    expect(result.errors).toEqual([
      { line: 5, reason: 'agency_name "Multi\\nLine Agency" contains control characters' },
      { line: 9, reason: 'npn "bad" is not a number of 1 to 10 digits' },
    ]);
    expect(result.records.map((r) => r.producerNumber)).toEqual(['000000001']);
  });
});

describe('parseProducerCsv: header problems', () => {
  it.each<[string, string, string[]]>([
    [
      'missing a required column',
      ALL.filter((c) => c !== 'npn').join(','),
      ['missing required column npn'],
    ],
    [
      'missing two required columns',
      ALL.filter((c) => c !== 'email' && c !== 'business_zip').join(','),
      ['missing required column email', 'missing required column business_zip'],
    ],
    [
      'unknown columns',
      [...ALL, 'Fax', 'nickname'].join(','),
      [`unknown column(s) "Fax", "nickname"; the known columns are ${ALL.join(', ')}`],
    ],
    ['a repeated column', [...ALL, 'EMAIL'].join(','), ['repeated column(s) email']],
    ['an empty column name', [...ALL, ''].join(','), ['the header has an empty column name at position(s) 12']],
  ])('%s', (_name, header, reasons) => {
    const body = csv(ALL, [row(1)]).split('\n')[1];
    const result = parseProducerCsv(`${header}\n${body}\n`);
    expect(result).toEqual({ records: [], errors: reasons.map((reason) => ({ line: 1, reason })) });
  });

  it.each([[''], ['\uFEFF'], ['\n\n  \n'], ['\r\n']])('reports an empty file (%j)', (text) => {
    expect(parseProducerCsv(text)).toEqual({
      records: [],
      errors: [{ line: 1, reason: 'the file is empty: expected a header row naming the columns' }],
    });
  });
});

describe('parseProducerCsv: malformed CSV', () => {
  it('returns one error for an unclosed quote, naming where the record starts', () => {
    const lines = csv(ALL, [row(1), row(2), row(3)]).split('\n');
    lines[2] = lines[2].replace('Fictional Agency', '"Fictional Agency');
    const result = parseProducerCsv(lines.join('\n'));
    expect(result.records).toEqual([]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0].line).toBe(4);
    expect(result.errors[0].reason).toMatch(/^the file is not valid CSV: .*Quote Not Closed/);
    expect(result.errors[0].reason).toMatch(/starts on line 3\)$/);
  });

  it('names the start of an unclosed-quote record after blank lines', () => {
    const lines = csv(ALL, [row(1), row(2), row(3)]).split('\n');
    lines[3] = lines[3].replace('Fictional Agency', '"Fictional Agency');
    const text = [lines[0], lines[1], '', '', lines[2], '', lines[3], lines[4], ''].join('\r\n');
    const result = parseProducerCsv(text);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0].reason).toMatch(/starts on line 7\)$/);
  });

  it('returns one error at the parser line for a stray quote', () => {
    const lines = csv(ALL, [row(1), row(2), row(3)]).split('\n');
    lines[3] = lines[3].replace('Fictional Agency', '"Fictional" Agency');
    const result = parseProducerCsv(lines.join('\n'));
    expect(result.records).toEqual([]);
    expect(result.errors).toEqual([{ line: 4, reason: expect.stringMatching(/^the file is not valid CSV: /) }]);
  });

  it('never throws on arbitrary input', () => {
    for (const text of ['"', '""""', ',', '\u0000', 'a\n"b', '\uFEFF"', 'producer_number\n"1']) {
      expect(() => parseProducerCsv(text)).not.toThrow();
    }
  });
});

describe('test/fixtures/producers-demo.csv', () => {
  it('parses without errors into the 5 demo producers', () => {
    const text = readFileSync(new URL('../fixtures/producers-demo.csv', import.meta.url), 'utf8');
    const result = parseProducerCsv(text);
    expect(result.errors).toEqual([]);
    expect(result.records).toHaveLength(5);
    expect(result.records.map((r) => r.firstName)).toEqual(['Avery', 'Jordan', 'Morgan', 'Riley', 'Casey']);
    expect(result.records.filter((r) => r.status === 'inactive')).toHaveLength(1);
    expect(result.records.filter((r) => r.mobilePhone === null)).toHaveLength(1);
    const numbers = new Set(result.records.map((r) => r.producerNumber));
    const withParent = result.records.filter((r) => r.parentProducerNumber !== null);
    expect(withParent).toHaveLength(1);
    expect(numbers.has(withParent[0].parentProducerNumber!)).toBe(true);
    for (const r of result.records) {
      expect(r.email).toMatch(/@example\.com$/);
      if (r.mobilePhone !== null) expect(r.mobilePhone).toMatch(/^\+1\d{3}55501\d{2}$/);
    }
  });
});
