/**
 * Keystroke-dynamics ("typing pattern") features: from the key events of one typing of the
 * highlighted sentence to one timing sample, and validation of the sample the server receives.
 *
 * This module is the TypeScript mirror of the browser recorder (public/js/keystroke-recorder.js):
 * the recorder implements the same algorithm (same rules, same refusal reasons, same rounding), so
 * this file documents it and lets the unit tests exercise it. Change both together.
 *
 * Features (all in seconds, rounded to 0.1 ms, as in the CMU benchmark of Killourhy & Maxion 2009),
 * for a sentence of n characters typed as n keystrokes k_0 … k_{n−1} (ordered by keydown time):
 *   h[i]  = keyup(k_i) − keydown(k_i)            hold time,           i = 0 … n−1   (n values)
 *   dd[i] = keydown(k_{i+1}) − keydown(k_i)      keydown→keydown,     i = 0 … n−2   (n−1 values)
 *   ud[i] = keydown(k_{i+1}) − keyup(k_i)        keyup→keydown,       i = 0 … n−2   (n−1 values)
 * so dd[i] = h[i] + ud[i]; ud[i] < 0 when k_{i+1} goes down before k_i comes up (rollover).
 *
 * Rules of the algorithm (events are processed in the order they happened; the first problem wins):
 *  - paste, drop or autofill anywhere → 'paste'; an edit without keys (Cut, undo …) → 'correction';
 *    any key event with isTrusted = false → 'untrusted'.
 *  - Modifier keys (Shift, Control, Alt, AltGraph, Meta, CapsLock, NumLock, Fn …) are IGNORED, and so
 *    are Enter, Tab and Escape. In particular a capital letter typed with Shift is ONE keystroke, the
 *    letter key: its hold time and latencies come from the letter key's own keydown/keyup, and the
 *    Shift key's events are dropped. (The CMU data's "Shift.r" is such a key: the R typed with Shift.)
 *    Reasons: the sample then has exactly one feature per character whether the user holds Shift or
 *    uses CapsLock, left or right Shift; and Shift's timing mostly reflects when the user anticipates
 *    the capital, which is noisy.
 *  - Editing keys (Backspace, Delete, arrows, Home, End, PageUp/Down, Insert, Undo, Redo, Cut, Paste,
 *    Clear) and any printable key pressed with Ctrl or Meta (a shortcut such as Ctrl+A, Ctrl+Z; but
 *    Ctrl+Alt, i.e. AltGr on Windows, types a character) → 'correction'.
 *  - A printable key (event.key is one character) is the next character typed. If it is not the next
 *    character of the sentence, or there is none left → 'mismatch'. Auto-repeat of a printable key
 *    (event.repeat) also types a character the user did not type on purpose → 'mismatch'. Keys that
 *    produce text we cannot see (Dead, Process, Unidentified, Compose: dead keys, IME composition,
 *    some virtual keyboards) → 'mismatch'.
 *  - keydown and keyup are paired by physical key (event.code), not event.key (releasing Shift first
 *    changes event.key of the keyup). A keyup of a key not seen going down (pressed before the focus
 *    came) is ignored. A second keydown of a key already down without its keyup → 'incomplete'.
 *  - Overlapping keys (rollover) are normal: order is keydown order, ud may be negative.
 *  - At the end: fewer characters than the sentence, or a character without its keyup → 'incomplete'.
 *    A feature outside SAMPLE_BOUNDS (a key held > 2 s, a pause > 5 s) → 'incomplete' too: the typing
 *    was interrupted.
 *  - The recorder additionally checks the field: on every input event its text must be the typed
 *    prefix of the sentence (otherwise the change is logged as paste, drop, edit or autofill from
 *    the event's inputType), and at the end it must equal the sentence (→ 'mismatch').
 *  - The recorder refuses at the first offending event (the field is emptied and the message shown);
 *    the events after a refusal are a new attempt.
 * Only the features leave the page; never the typed text nor the key log.
 */
import { z } from 'zod';

/** One timing sample: the JSON the recorder puts in the hidden field. Times in seconds. */
export interface Sample {
  /** Format version. */
  v: 1;
  /** Sentence length in characters = number of keystrokes. */
  n: number;
  /** Hold times, n values, seconds. */
  h: number[];
  /** keydown→keydown latencies, n − 1 values, seconds. */
  dd: number[];
  /** keyup→keydown latencies, n − 1 values, seconds (negative with rollover). */
  ud: number[];
}

/** A key event as the recorder sees it. `t` is performance.now() in milliseconds. */
export interface KeyStroke {
  type: 'keydown' | 'keyup';
  /** KeyboardEvent.code: the physical key, e.g. 'KeyR', 'ShiftLeft', 'Space'. */
  code: string;
  /** KeyboardEvent.key: what it types, e.g. 'R', 'Shift', ' ', 'Backspace'. */
  key: string;
  /** performance.now(), milliseconds. */
  t: number;
  /** KeyboardEvent.isTrusted. */
  trusted: boolean;
  /** KeyboardEvent.repeat (auto-repeat while held). */
  repeat?: boolean;
  /** KeyboardEvent.ctrlKey / metaKey / altKey. */
  ctrl?: boolean;
  meta?: boolean;
  alt?: boolean;
}

/**
 * A change of the text that did not come from the recorded keys: clipboard paste, drag-and-drop,
 * browser autofill (or any other unexplained change: the recorder compares the field with the typed
 * prefix on every input event) → 'paste'; an edit without keys (context-menu Cut/Delete, undo,
 * redo) → 'correction'.
 */
export interface NonKeyInput {
  type: 'paste' | 'drop' | 'autofill' | 'edit';
  t: number;
}

export type KeyEvent = KeyStroke | NonKeyInput;

export type RefusalReason = 'mismatch' | 'correction' | 'untrusted' | 'paste' | 'incomplete';

export type Extraction = { ok: true; sample: Sample } | { ok: false; reason: RefusalReason };

/** Accepted ranges of the features, seconds (inclusive). */
export const SAMPLE_BOUNDS = {
  h: { min: 0, max: 2 },
  dd: { min: 0, max: 5 },
  ud: { min: -2, max: 5 },
} as const;

/** Sentence length accepted by configuration (characters). */
export const SENTENCE_LENGTH = { min: 30, max: 45 } as const;

/**
 * Whether `s` is an acceptable highlighted sentence: 30 to 45 characters of plain words, i.e. ASCII
 * letters separated by single spaces, optionally ending with a full stop. (Configuration helper: the
 * features work with any text, the benchmark uses the CMU password.)
 */
export function isValidSentence(s: string): boolean {
  return s.length >= SENTENCE_LENGTH.min && s.length <= SENTENCE_LENGTH.max && /^[A-Za-z]+( [A-Za-z]+)*\.?$/.test(s);
}

const MODIFIER_KEYS = new Set([
  'Shift', 'Control', 'Alt', 'AltGraph', 'Meta', 'OS', 'Super', 'Hyper', 'Fn', 'FnLock',
  'CapsLock', 'NumLock', 'ScrollLock', 'Symbol', 'SymbolLock',
]);
const IGNORED_KEYS = new Set(['Enter', 'Tab', 'Escape']);
const CORRECTION_KEYS = new Set([
  'Backspace', 'Delete', 'ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'Home', 'End',
  'PageUp', 'PageDown', 'Insert', 'Undo', 'Redo', 'Cut', 'Paste', 'Clear', 'EraseEof',
]);
const OPAQUE_TEXT_KEYS = new Set(['Dead', 'Process', 'Unidentified', 'Compose']);

/** Rounds seconds to 0.1 ms. */
export function roundFeature(seconds: number): number {
  return Math.round(seconds * 1e4) / 1e4;
}

function isKeyStroke(e: KeyEvent): e is KeyStroke {
  return e.type === 'keydown' || e.type === 'keyup';
}

/** One character position while typing: its key and times (ms). */
interface Stroke {
  code: string;
  down: number;
  up: number | null;
}

/**
 * Turns the key events of one typing into a sample, or says why the typing is refused.
 * `events` in the order they happened; `sentence` the text that had to be typed (n = its length in
 * UTF-16 units, the same as the page's `sentence.length`).
 */
export function extractFeatures(events: readonly KeyEvent[], sentence: string): Extraction {
  const strokes: Stroke[] = [];
  /** Keys currently down (by event.code) → index in `strokes`, or −1 for an ignored key. */
  const down = new Map<string, number>();
  const refuse = (reason: RefusalReason): Extraction => ({ ok: false, reason });

  for (const ev of events) {
    if (!isKeyStroke(ev)) return refuse(ev.type === 'edit' ? 'correction' : 'paste');
    const e: KeyStroke = ev;
    if (!e.trusted) return refuse('untrusted');
    if (e.type === 'keyup') {
      const i = down.get(e.code);
      if (i === undefined) continue; // went down before we were listening
      down.delete(e.code);
      if (i >= 0) strokes[i]!.up = e.t;
      continue;
    }
    // keydown
    const key = e.key;
    if (MODIFIER_KEYS.has(key) || IGNORED_KEYS.has(key)) {
      if (!down.has(e.code)) down.set(e.code, -1);
      continue;
    }
    if (CORRECTION_KEYS.has(key)) return refuse('correction');
    if (OPAQUE_TEXT_KEYS.has(key)) return refuse('mismatch');
    if (key.length !== 1) {
      // Other named keys (F1, MediaPlay, …) type nothing.
      if (!down.has(e.code)) down.set(e.code, -1);
      continue;
    }
    if ((e.ctrl || e.meta) && !(e.ctrl && e.alt && !e.meta)) return refuse('correction');
    if (e.repeat) return refuse('mismatch');
    if (down.has(e.code)) return refuse('incomplete');
    const i = strokes.length;
    if (i >= sentence.length || sentence[i] !== key) return refuse('mismatch');
    strokes.push({ code: e.code, down: e.t, up: null });
    down.set(e.code, i);
  }

  const n = sentence.length;
  if (n === 0 || strokes.length < n) return refuse('incomplete');
  const h: number[] = [];
  const dd: number[] = [];
  const ud: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = strokes[i]!;
    if (s.up === null) return refuse('incomplete');
    h.push(roundFeature((s.up - s.down) / 1000));
    if (i + 1 < n) {
      const next = strokes[i + 1]!;
      dd.push(roundFeature((next.down - s.down) / 1000));
      ud.push(roundFeature((next.down - s.up) / 1000));
    }
  }
  const sample: Sample = { v: 1, n, h, dd, ud };
  if (!withinBounds(sample)) return refuse('incomplete');
  return { ok: true, sample };
}

function withinBounds(s: Sample): boolean {
  const inRange = (xs: number[], b: { min: number; max: number }) => xs.every((x) => Number.isFinite(x) && x >= b.min && x <= b.max);
  return inRange(s.h, SAMPLE_BOUNDS.h) && inRange(s.dd, SAMPLE_BOUNDS.dd) && inRange(s.ud, SAMPLE_BOUNDS.ud);
}

/** Largest accepted |dd − (h + ud)|, seconds: three values each rounded to 0.1 ms, plus float slack. */
export const CONSISTENCY_TOLERANCE = 0.0002;

/** Longest hidden-field value accepted by parseSample when given a string (characters). */
export const MAX_SAMPLE_JSON_LENGTH = 16_384;

const feature = (b: { min: number; max: number }) => z.number().min(b.min).max(b.max);

/**
 * Validates a sample received by the server: either the hidden field's string or its parsed JSON.
 * Checks: `{ v: 1, n, h, dd, ud }` and nothing else; n equals `sentenceLength`; h has n values,
 * dd and ud n − 1 each; every value a finite number in SAMPLE_BOUNDS (seconds: 0 ≤ h ≤ 2,
 * 0 ≤ dd ≤ 5, −2 ≤ ud ≤ 5); and dd[i] = h[i] + ud[i] within CONSISTENCY_TOLERANCE, which holds
 * for every real typing (see the definitions above). Returns the sample, or null.
 */
export function parseSample(json: unknown, sentenceLength: number): Sample | null {
  if (!Number.isInteger(sentenceLength) || sentenceLength < 2) return null;
  let value = json;
  if (typeof value === 'string') {
    if (value.length > MAX_SAMPLE_JSON_LENGTH) return null;
    try {
      value = JSON.parse(value);
    } catch {
      return null;
    }
  }
  const n = sentenceLength;
  const schema = z
    .object({
      v: z.literal(1),
      n: z.literal(n),
      h: z.array(feature(SAMPLE_BOUNDS.h)).length(n),
      dd: z.array(feature(SAMPLE_BOUNDS.dd)).length(n - 1),
      ud: z.array(feature(SAMPLE_BOUNDS.ud)).length(n - 1),
    })
    .strict();
  const parsed = schema.safeParse(value);
  if (!parsed.success) return null;
  const s = parsed.data;
  for (let i = 0; i < n - 1; i++) {
    if (Math.abs(s.dd[i]! - s.h[i]! - s.ud[i]!) > CONSISTENCY_TOLERANCE) return null;
  }
  return { v: 1, n, h: s.h, dd: s.dd, ud: s.ud };
}
