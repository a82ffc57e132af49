/**
 * Import of the carrier's producer records from CSV.
 *
 * The file has a header row naming its columns (any order, case-insensitive, surrounding spaces
 * ignored) followed by one producer per row. See {@link parseProducerCsv} for the rules; the field
 * rules themselves live in `./records.ts` (source: the carrier's user guide, slide 3).
 *
 * Pure: no I/O; the caller reads the file and decides what to do with the records and errors.
 */
import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import {
  normalizeNpn,
  normalizePhone,
  normalizeProducerNumber,
  normalizeZip,
  type ProducerRecord,
  type ProducerStatus,
} from './records.ts';

/** Every column the producer CSV may have, in the carrier's documented order. */
export const PRODUCER_CSV_COLUMNS = [
  'producer_number',
  'npn',
  'first_name',
  'last_name',
  'agency_name',
  'email',
  'mobile_phone',
  'business_zip',
  'bap_zip',
  'parent_producer_number',
  'status',
] as const;

/** One column name of the producer CSV. */
export type ProducerCsvColumn = (typeof PRODUCER_CSV_COLUMNS)[number];

/** The columns that must be present in the header and non-empty in every row. */
export const REQUIRED_PRODUCER_CSV_COLUMNS: readonly ProducerCsvColumn[] = [
  'producer_number',
  'npn',
  'first_name',
  'last_name',
  'email',
  'business_zip',
];

/**
 * One problem found in the file.
 * - `line`: 1-based physical line of the file (the header is line 1; for a row whose quoted field
 *   spans several lines, the line the row starts on).
 * - `reason`: English text naming the column and (quoted, shortened) value, without the line, e.g.
 *   `npn "12a" is not a number of 1 to 10 digits`. Use {@link formatImportError} to print it.
 */
export interface CsvImportError {
  line: number;
  reason: string;
}

/** What {@link parseProducerCsv} returns. */
export interface ProducerCsvResult {
  /** The valid rows, in file order. */
  records: ProducerRecord[];
  /** The file line of each record (same index as `records`), for problems found later (hierarchy). */
  recordLines?: number[];
  /** The problems, ordered by line (header problems first). Empty when the whole file is valid. */
  errors: CsvImportError[];
}

/** Maximum length, in Unicode code points, of first_name, last_name and agency_name. */
export const MAX_NAME_LENGTH = 100;

/** Maximum length of an email address (RFC 5321 path limit). */
const MAX_EMAIL_LENGTH = 254;

/** Values quoted in error reasons are shortened to this many code points. */
const MAX_QUOTED_VALUE_LENGTH = 40;

/**
 * C0/C1 control characters (`\p{Cc}`: tab, newline, NUL, DEL...) and the bidirectional
 * embedding/override/isolate controls (U+202A-U+202E, U+2066-U+2069) that can make a name display
 * as something else.
 */
const FORBIDDEN_NAME_CHARS = /[\p{Cc}\u202A-\u202E\u2066-\u2069]/u;

const emailSchema = z.email();

/**
 * Renders an import error as one line of text: `line 4: npn "12a" is not a number of 1 to 10 digits`.
 *
 * @param error an element of {@link ProducerCsvResult.errors}.
 * @returns the text, without a trailing newline.
 */
export function formatImportError(error: CsvImportError): string {
  return `line ${error.line}: ${error.reason}`;
}

/**
 * Parses and validates the carrier's producer CSV.
 *
 * Format:
 * - UTF-8 text; a leading byte-order mark is ignored; lines may end in LF, CRLF or CR; fields may be
 *   quoted with `"` (a quote inside a quoted field is doubled); blank lines (including lines of
 *   only commas/spaces) are skipped anywhere.
 * - Line 1 is the header. Column names (see {@link PRODUCER_CSV_COLUMNS}) may come in any order and
 *   any case, with surrounding spaces. A missing required column (see
 *   {@link REQUIRED_PRODUCER_CSV_COLUMNS}) gives one error per column; unknown, empty or repeated
 *   column names give one error each kind. Any header error rejects the whole file (no records).
 * - Every value is trimmed; an empty optional value is `null`.
 *
 * Row rules (a row with any problem is left out of `records`; each problem is one error):
 * - the row has as many fields as the header;
 * - required values are non-empty;
 * - producer_number and parent_producer_number: 1 to 9 digits, zero-padded to 9
 *   (`normalizeProducerNumber`); a parent may not be the row itself;
 * - npn: 1 to 10 digits, leading zeros dropped (`normalizeNpn`);
 * - first_name, last_name, agency_name: at most 100 characters, no control characters;
 * - email: a valid address (zod's `z.email()`), at most 254 characters, kept as given;
 * - mobile_phone: optional; when given must be a valid phone number, stored in E.164
 *   (`normalizePhone`, US by default);
 * - business_zip, bap_zip: 5 digits or ZIP+4, stored as 5 digits (`normalizeZip`);
 * - status: optional, `active` (default) or `inactive`, any case;
 * - a producer_number already used on an earlier row is an error on the later row (the earlier
 *   row keeps it even if it has other problems).
 *
 * @param text the whole file content.
 * @returns the valid records and the problems found. Never throws for bad content: a file the CSV
 *   parser cannot read (e.g. an unclosed quote) gives a single error at the parser's line.
 */
// long-function: one pass over the rows, in the order of the rules listed above.
export function parseProducerCsv(text: string): ProducerCsvResult {
  if (typeof text !== 'string') {
    return { records: [], errors: [{ line: 1, reason: 'the input is not text' }] };
  }
  // One line-break form, so that the parser's line count equals the physical line numbers.
  const normalized = text.replace(/\r\n?/g, '\n');

  let rows: { record: string[]; info: { lines: number } }[];
  let lastRecordEndLine = 0;
  try {
    rows = parse(normalized, {
      bom: true,
      info: true,
      record_delimiter: '\n',
      relax_column_count: true,
      skip_empty_lines: true,
      on_record: (record, context) => {
        lastRecordEndLine = context.lines;
        return record;
      },
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (err) {
    return { records: [], errors: [malformedCsvError(err, normalized, lastRecordEndLine)] };
  }

  const lines = rows
    .map((row) => ({
      // info.lines is the line the record ends on; go back over line breaks inside quoted fields.
      line: row.info.lines - countLineBreaks(row.record),
      fields: row.record,
    }))
    .filter((row) => row.fields.some((field) => field.trim() !== ''));

  const header = lines[0];
  if (header === undefined) {
    return { records: [], errors: [{ line: 1, reason: 'the file is empty: expected a header row naming the columns' }] };
  }

  const headerResult = readHeader(header.fields);
  if ('errors' in headerResult) {
    return { records: [], errors: headerResult.errors.map((reason) => ({ line: header.line, reason })) };
  }
  const { columnIndex } = headerResult;

  const records: ProducerRecord[] = [];
  const recordLines: number[] = [];
  const errors: CsvImportError[] = [];
  const firstLineOfProducerNumber = new Map<string, number>();

  for (const { line, fields } of lines.slice(1)) {
    if (fields.length !== header.fields.length) {
      errors.push({
        line,
        reason: `the row has ${fields.length} field(s) but the header has ${header.fields.length}`,
      });
      continue;
    }
    const get = (column: ProducerCsvColumn): string => {
      const index = columnIndex.get(column);
      return index === undefined ? '' : (fields[index] ?? '').trim();
    };
    const problems: string[] = [];
    const record = validateRow(get, problems);

    if (record.producerNumber !== null) {
      const firstLine = firstLineOfProducerNumber.get(record.producerNumber);
      if (firstLine === undefined) {
        firstLineOfProducerNumber.set(record.producerNumber, line);
      } else {
        problems.push(
          `producer_number ${quote(get('producer_number'))} is a duplicate of the producer number on line ${firstLine}`,
        );
      }
    }

    if (problems.length > 0) {
      for (const reason of problems) errors.push({ line, reason });
    } else {
      records.push(record as ProducerRecord);
      recordLines.push(line);
    }
  }

  return { records, errors, recordLines };
}

/** A row under validation: `null` in a required field means it was invalid (and a problem was recorded). */
type PartialRecord = { [K in keyof ProducerRecord]: ProducerRecord[K] | null };

/** Validates one data row; pushes one reason per problem into `problems`. */
// long-function: one short block per column, in the column order of the CSV (reads top to bottom).
function validateRow(get: (column: ProducerCsvColumn) => string, problems: string[]): PartialRecord {
  const required = (column: ProducerCsvColumn): string | null => {
    const value = get(column);
    if (value === '') {
      problems.push(`${column} is required but empty`);
      return null;
    }
    return value;
  };

  const producerNumber = (column: ProducerCsvColumn, value: string | null): string | null => {
    if (value === null || value === '') return null;
    const normalized = normalizeProducerNumber(value);
    if (normalized === null) problems.push(`${column} ${quote(value)} is not a number of 1 to 9 digits`);
    return normalized;
  };

  const name = (column: ProducerCsvColumn, value: string | null): string | null => {
    if (value === null || value === '') return null;
    if ([...value].length > MAX_NAME_LENGTH) {
      problems.push(`${column} is longer than ${MAX_NAME_LENGTH} characters`);
      return null;
    }
    if (FORBIDDEN_NAME_CHARS.test(value)) {
      problems.push(`${column} ${quote(value)} contains control characters`);
      return null;
    }
    return value;
  };

  const zip = (column: ProducerCsvColumn, value: string | null): string | null => {
    if (value === null || value === '') return null;
    const normalized = normalizeZip(value);
    if (normalized === null) problems.push(`${column} ${quote(value)} is not a 5-digit ZIP code or ZIP+4`);
    return normalized;
  };

  const producerNumberValue = producerNumber('producer_number', required('producer_number'));

  const npnRaw = required('npn');
  let npn: string | null = null;
  if (npnRaw !== null) {
    npn = normalizeNpn(npnRaw);
    if (npn === null) problems.push(`npn ${quote(npnRaw)} is not a number of 1 to 10 digits`);
  }

  const firstName = name('first_name', required('first_name'));
  const lastName = name('last_name', required('last_name'));
  const agencyName = name('agency_name', get('agency_name'));

  const emailRaw = required('email');
  let email: string | null = null;
  if (emailRaw !== null) {
    if (emailRaw.length > MAX_EMAIL_LENGTH || !emailSchema.safeParse(emailRaw).success) {
      problems.push(`email ${quote(emailRaw)} is not a valid email address`);
    } else {
      email = emailRaw;
    }
  }

  const phoneRaw = get('mobile_phone');
  let mobilePhone: string | null = null;
  if (phoneRaw !== '') {
    mobilePhone = normalizePhone(phoneRaw);
    if (mobilePhone === null) problems.push(`mobile_phone ${quote(phoneRaw)} is not a valid phone number`);
  }

  const businessZip = zip('business_zip', required('business_zip'));
  const bapZip = zip('bap_zip', get('bap_zip'));

  const parentProducerNumber = producerNumber('parent_producer_number', get('parent_producer_number'));
  if (parentProducerNumber !== null && parentProducerNumber === producerNumberValue) {
    problems.push(
      `parent_producer_number ${quote(get('parent_producer_number'))} is the row's own producer_number`,
    );
  }

  const statusRaw = get('status');
  let status: ProducerStatus | null = 'active';
  if (statusRaw !== '') {
    const lower = statusRaw.toLowerCase();
    if (lower === 'active' || lower === 'inactive') {
      status = lower;
    } else {
      status = null;
      problems.push(`status ${quote(statusRaw)} is not "active" or "inactive"`);
    }
  }

  return {
    producerNumber: producerNumberValue,
    npn,
    firstName,
    lastName,
    agencyName,
    email,
    mobilePhone,
    businessZip,
    bapZip,
    parentProducerNumber,
    status,
  };
}

/** Maps header names to column indexes, or lists the header's problems. */
function readHeader(fields: string[]): { columnIndex: Map<ProducerCsvColumn, number> } | { errors: string[] } {
  const known = new Set<string>(PRODUCER_CSV_COLUMNS);
  const columnIndex = new Map<ProducerCsvColumn, number>();
  const unknown: string[] = [];
  const repeated: string[] = [];
  const emptyPositions: number[] = [];

  fields.forEach((field, index) => {
    const name = field.trim().toLowerCase();
    if (name === '') {
      emptyPositions.push(index + 1);
    } else if (!known.has(name)) {
      unknown.push(field.trim());
    } else if (columnIndex.has(name as ProducerCsvColumn)) {
      if (!repeated.includes(name)) repeated.push(name);
    } else {
      columnIndex.set(name as ProducerCsvColumn, index);
    }
  });

  const errors: string[] = [];
  for (const column of REQUIRED_PRODUCER_CSV_COLUMNS) {
    if (!columnIndex.has(column)) errors.push(`missing required column ${column}`);
  }
  if (unknown.length > 0) {
    errors.push(
      `unknown column(s) ${unknown.map(quote).join(', ')}; the known columns are ${PRODUCER_CSV_COLUMNS.join(', ')}`,
    );
  }
  if (repeated.length > 0) errors.push(`repeated column(s) ${repeated.join(', ')}`);
  if (emptyPositions.length > 0) {
    errors.push(`the header has an empty column name at position(s) ${emptyPositions.join(', ')}`);
  }
  return errors.length > 0 ? { errors } : { columnIndex };
}

/**
 * The one error returned for a file the CSV parser rejects, at the parser's line.
 * `lastRecordEndLine` is the line the last successfully parsed record ended on (0 if none).
 */
function malformedCsvError(err: unknown, normalized: string, lastRecordEndLine: number): CsvImportError {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; message?: unknown; lines?: unknown };
  const line = typeof e.lines === 'number' && e.lines >= 1 ? e.lines : 1;
  const message = typeof e.message === 'string' ? e.message : String(err);
  let reason = `the file is not valid CSV: ${message}`;
  if (e.code === 'CSV_QUOTE_NOT_CLOSED') {
    // The parser reports the end of the file; also say where the unterminated record begins:
    // the first non-blank line after the last record it did read.
    const physical = normalized.replace(/^\uFEFF/, '').split('\n');
    let start = lastRecordEndLine + 1;
    while (start <= physical.length && (physical[start - 1] ?? '').trim() === '') start += 1;
    if (start <= physical.length && start !== line) {
      reason += ` (the record with the unclosed quote starts on line ${start})`;
    }
  }
  return { line, reason };
}

function countLineBreaks(fields: string[]): number {
  let count = 0;
  for (const field of fields) count += countOf(field, '\n');
  return count;
}

function countOf(text: string, char: string): number {
  let count = 0;
  for (let i = text.indexOf(char); i !== -1; i = text.indexOf(char, i + 1)) count += 1;
  return count;
}

/** A value for an error reason: JSON-quoted (control characters escaped), shortened if long. */
function quote(value: string): string {
  const codePoints = [...value];
  const shown =
    codePoints.length > MAX_QUOTED_VALUE_LENGTH
      ? `${codePoints.slice(0, MAX_QUOTED_VALUE_LENGTH).join('')}…`
      : value;
  return JSON.stringify(shown);
}
