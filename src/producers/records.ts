/**
 * Producer records: the carrier's list of appointed insurance producers, and the pure rules used to
 * normalize their identifiers and to match a registrant against them.
 *
 * Source: the carrier's user guide, slide 3 ("Registration step 1"): a producer registers by entering
 * their Producer Number, National Producer Number (NPN) and Zip Code, which must match a producer
 * record. The guide says: "Producer Number should be 9 digits. Please prefix with 0 if your Producer
 * Number is less than 9 digits".
 *
 * Every function here is pure (no I/O, no clock, no randomness) and never throws for bad input:
 * a value that cannot be normalized yields `null`.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

/**
 * Whether a producer may register and sign in. `'inactive'` records are kept (so the registration
 * step can say "not active" instead of "no match") but must not be registered.
 */
export type ProducerStatus = 'active' | 'inactive';

/**
 * One producer as imported from the carrier's CSV (see `parseProducerCsv` in `./csv-import.ts`).
 * All string values are trimmed and normalized by the functions in this module; optional values
 * are `null`, never `''`.
 */
export interface ProducerRecord {
  /** Carrier-assigned Producer Number: exactly 9 ASCII digits, zero-padded (see {@link normalizeProducerNumber}). */
  producerNumber: string;
  /** NIPR National Producer Number: 1 to 10 ASCII digits with no leading zeros (see {@link normalizeNpn}). */
  npn: string;
  /** Given name, 1 to 100 characters, no control characters. */
  firstName: string;
  /** Family name, 1 to 100 characters, no control characters. */
  lastName: string;
  /** Agency (business) name, up to 100 characters, or `null` when not given. */
  agencyName: string | null;
  /** Email address as given (trimmed, case preserved). */
  email: string;
  /** Mobile phone in E.164 form, e.g. `'+13125550101'`, or `null` when not given (see {@link normalizePhone}). */
  mobilePhone: string | null;
  /** Business address ZIP code: exactly 5 ASCII digits (see {@link normalizeZip}). */
  businessZip: string;
  /** Second ZIP code accepted at registration (5 digits), or `null` when not given. */
  bapZip: string | null;
  /** Producer Number (9 digits) of this producer's parent/supervising producer, or `null`. */
  parentProducerNumber: string | null;
  /** Whether the producer may register; see {@link ProducerStatus}. */
  status: ProducerStatus;
}

/** Length of a normalized Producer Number, per the carrier's user guide (slide 3). */
export const PRODUCER_NUMBER_LENGTH = 9;

/** Maximum number of digits of an NIPR National Producer Number. */
export const NPN_MAX_LENGTH = 10;

/**
 * Normalizes a Producer Number to its canonical 9-digit form.
 *
 * The input is trimmed; it must then be 1 to 9 ASCII digits (no spaces, dashes or other
 * characters), and is left-padded with zeros to 9 digits, as the carrier's user guide (slide 3)
 * asks: "Producer Number should be 9 digits. Please prefix with 0 if your Producer Number is less
 * than 9 digits". So `'12345'`, `'0012345'` and `' 000012345 '` all give `'000012345'`.
 *
 * @param input the Producer Number as typed or imported.
 * @returns the 9-digit string, or `null` when the input is empty, longer than 9 digits or not all
 *   digits. Never throws.
 */
export function normalizeProducerNumber(input: string): string | null {
  if (typeof input !== 'string') return null;
  const value = input.trim();
  if (!/^[0-9]{1,9}$/.test(value)) return null;
  return value.padStart(PRODUCER_NUMBER_LENGTH, '0');
}

/**
 * Normalizes an NIPR National Producer Number (NPN) for storage and comparison.
 *
 * The input is trimmed; it must then be 1 to 10 ASCII digits. Leading zeros are stripped so that
 * `'0012345'` and `'12345'` compare equal (both give `'12345'`). An all-zero value (`'0'`, `'000'`)
 * is not a National Producer Number and gives `null`.
 *
 * Source: the carrier's user guide (slide 3) asks for the NPN at registration; NIPR assigns NPNs of
 * up to 10 digits.
 *
 * @param input the NPN as typed or imported.
 * @returns 1 to 10 digits without leading zeros, or `null` when the input is empty, longer than
 *   10 characters, not all digits, or zero. Never throws.
 */
export function normalizeNpn(input: string): string | null {
  if (typeof input !== 'string') return null;
  const value = input.trim();
  if (!/^[0-9]{1,10}$/.test(value)) return null;
  const stripped = value.replace(/^0+/, '');
  return stripped === '' ? null : stripped;
}

/**
 * Normalizes a US ZIP code to its 5-digit form.
 *
 * The input is trimmed; accepted forms are `'60601'`, ZIP+4 with a hyphen `'60601-1234'` and ZIP+4
 * without it `'606011234'`. All give `'60601'` (the +4 part is dropped: the registration check of
 * the carrier's user guide, slide 3, compares 5-digit ZIP codes).
 *
 * No zero-padding is done: a ZIP that lost its leading zero in a spreadsheet (`'2134'` for `'02134'`)
 * is rejected rather than guessed.
 *
 * @param input the ZIP code as typed or imported.
 * @returns 5 ASCII digits, or `null` for any other input. Never throws.
 */
export function normalizeZip(input: string): string | null {
  if (typeof input !== 'string') return null;
  const match = /^([0-9]{5})(?:-?[0-9]{4})?$/.exec(input.trim());
  return match ? match[1] : null;
}

/**
 * Normalizes a phone number to E.164 (`'+13125550101'`) using libphonenumber-js.
 *
 * National numbers are read in `defaultCountry` (so `'(312) 555-0101'` gives `'+13125550101'`);
 * numbers starting with `+` are read as international. The number must be valid for its country
 * according to libphonenumber-js's (default, "min") metadata. A number with an extension
 * (`'312-555-0101 ext 5'`) is rejected, because E.164 cannot carry it and a mobile phone has none.
 *
 * @param input the phone number as typed or imported, in any common notation.
 * @param defaultCountry ISO 3166-1 alpha-2 country used for numbers without a `+` prefix; `'US'`.
 * @returns the E.164 string, or `null` when the input is not a valid phone number. Never throws.
 */
export function normalizePhone(input: string, defaultCountry: CountryCode = 'US'): string | null {
  if (typeof input !== 'string') return null;
  const value = input.trim();
  if (value === '') return null;
  let phone;
  try {
    phone = parsePhoneNumberFromString(value, defaultCountry);
  } catch {
    return null;
  }
  if (!phone || !phone.isValid() || phone.ext) return null;
  return phone.number;
}

/**
 * The ZIP part of the registration check (carrier's user guide, slide 3): a registrant's ZIP code
 * matches a producer record when it equals the record's business ZIP or its BAP ZIP.
 *
 * `zip5` is normalized with {@link normalizeZip} first, so a ZIP+4 or surrounding spaces are
 * accepted; anything that is not a ZIP code never matches.
 *
 * @param record the producer record (only `businessZip` and `bapZip` are read; both 5 digits).
 * @param zip5 the ZIP code entered by the registrant, normally 5 digits.
 * @returns `true` on a match, `false` otherwise. Never throws.
 */
export function zipMatches(record: Pick<ProducerRecord, 'businessZip' | 'bapZip'>, zip5: string): boolean {
  const zip = normalizeZip(zip5);
  if (zip === null) return false;
  return zip === record.businessZip || (record.bapZip !== null && zip === record.bapZip);
}
