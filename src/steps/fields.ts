import { z } from 'zod';
import { field, type Fields } from './step.ts';

/** C0/C1 control characters (and DEL): never part of a username, an email address or a code. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/** The refusal codes of {@link readText} (keys of the message catalog). */
export type TextProblem = 'form.required' | 'form.too_long' | 'form.invalid_characters';

/**
 * Reads one text field of a parsed form body.
 * @param body the parsed form (`ctx.request.body`); arrays, objects and missing fields read as absent.
 * @param name the field name.
 * @param max the longest accepted value, in UTF-16 code units, after trimming.
 * @returns `{ value }` (trimmed) or `{ problem }`: `form.required` (absent, not a string, or blank),
 *   `form.too_long` (more than `max`), `form.invalid_characters` (control characters). Never throws.
 */
export function readText(body: unknown, name: string, max: number): { value: string; problem?: undefined } | { value?: undefined; problem: TextProblem } {
  const raw = body && typeof body === 'object' ? field(body as Fields, name) : undefined;
  if (raw === undefined) return { problem: 'form.required' };
  const value = raw.trim();
  if (!value) return { problem: 'form.required' };
  if (value.length > max) return { problem: 'form.too_long' };
  if (CONTROL.test(value)) return { problem: 'form.invalid_characters' };
  return { value };
}

/**
 * A zod schema for one trimmed text field read like {@link readText} (at most `max` UTF-16 code
 * units, no control characters). Each refusal is ONE message code: `messages[problem]`, or the
 * problem's own code; `check` (optional) refuses a well-read value with `messages.check`.
 */
export function textField(max: number, messages: Partial<Record<TextProblem | 'check', string>> = {}, check?: (value: string) => boolean) {
  return z.any().transform((raw, ctx) => {
    const read = readText({ v: raw }, 'v', max);
    if (read.problem) {
      ctx.addIssue({ code: 'custom', message: messages[read.problem] ?? read.problem });
      return z.NEVER;
    }
    if (check && !check(read.value)) {
      ctx.addIssue({ code: 'custom', message: messages.check ?? 'http.bad_request' });
      return z.NEVER;
    }
    return read.value;
  });
}

/** A field that is a string when present (`''` otherwise): for fields checked by the step itself. */
export const anyText = z.any().transform((v) => (typeof v === 'string' ? v : ''));

/** A field read as a string when it is one, else undefined (never refused). */
export const optionalText = z.any().transform((v): string | undefined => (typeof v === 'string' ? v : undefined)).optional();
