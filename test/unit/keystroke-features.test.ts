import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { rng } from '../helpers/typist.ts';
import {
  extractFeatures,
  isValidSentence,
  parseSample,
  type KeyEvent,
  type KeyStroke,
  type Sample,
} from '../../src/keystroke/features.ts';

// ---- generated typing (no real typing data in tests) ----


/** 35 characters of plain words, with a capital typed with Shift. */
const SENTENCE = 'Quiet rivers carry old stories home';

function codeOf(ch: string): string {
  if (ch === ' ') return 'Space';
  if (ch === '.') return 'Period';
  if (/[0-9]/.test(ch)) return `Digit${ch}`;
  return `Key${ch.toUpperCase()}`;
}

interface Timing {
  /** keydown→keydown, ms (n − 1). */
  dd: number[];
  /** hold, ms (n). */
  h: number[];
}

/**
 * Plausible timing for SENTENCE: holds 70–130 ms, latencies 120–320 ms; a share `overlap` of the
 * keys is still down when the next goes down (never for a doubled letter: one key cannot be down twice).
 */
function randomTiming(n: number, r: () => number, overlap = 0): Timing {
  const dd = Array.from({ length: n - 1 }, () => 120 + 200 * r());
  const h = Array.from({ length: n }, (_, i) =>
    i < n - 1 && SENTENCE[i] !== SENTENCE[i + 1] && r() < overlap ? dd[i]! + 10 + 40 * r() : 70 + 60 * r(),
  );
  return { h, dd };
}

/**
 * Key events of a clean typing of `text` (ms): keydown of character i at t0 + Σ dd[<i], keyup h[i]
 * later; capitals with ShiftLeft pressed 40 ms before and released 10 ms after the letter (its keyup
 * then reports the lowercase key, as browsers do).
 */
function typeEvents(text: string, timing: Timing, t0 = 1000): KeyStroke[] {
  const ev: KeyStroke[] = [];
  let t = t0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const code = codeOf(ch);
    const shifted = ch !== ch.toLowerCase();
    if (shifted) ev.push({ type: 'keydown', code: 'ShiftLeft', key: 'Shift', t: t - 40, trusted: true });
    ev.push({ type: 'keydown', code, key: ch, t, trusted: true });
    ev.push({ type: 'keyup', code, key: shifted ? ch.toLowerCase() : ch, t: t + timing.h[i]!, trusted: true });
    if (shifted) ev.push({ type: 'keyup', code: 'ShiftLeft', key: 'Shift', t: t + timing.h[i]! - 5, trusted: true });
    if (i + 1 < text.length) t += timing.dd[i]!;
  }
  // Stable sort by time: a keyup and a keydown at the same ms keep their order.
  return ev.map((e, i) => ({ e, i })).sort((a, b) => a.e.t - b.e.t || a.i - b.i).map((x) => x.e);
}

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

function expectedSample(timing: Timing): Sample {
  const n = timing.h.length;
  return {
    v: 1,
    n,
    h: timing.h.map((x) => r4(x / 1000)),
    dd: timing.dd.map((x) => r4(x / 1000)),
    ud: timing.dd.map((x, i) => r4((x - timing.h[i]!) / 1000)),
  };
}

/** Inserts `extra` right after the first event that satisfies `at`. */
function insertAfter(events: KeyEvent[], at: (e: KeyEvent) => boolean, ...extra: KeyEvent[]): KeyEvent[] {
  const i = events.findIndex(at);
  return [...events.slice(0, i + 1), ...extra, ...events.slice(i + 1)];
}

const fixed: Timing = { h: Array.from({ length: SENTENCE.length }, (_, i) => 80 + (i % 5) * 10), dd: Array.from({ length: SENTENCE.length - 1 }, (_, i) => 150 + (i % 7) * 20) };

describe('extractFeatures', () => {
  it('turns a clean typing into h, dd, ud in seconds, rounded to 0.1 ms, ignoring Shift', () => {
    const r = extractFeatures(typeEvents(SENTENCE, fixed), SENTENCE);
    expect(r).toEqual({ ok: true, sample: expectedSample(fixed) });
    if (!r.ok) return;
    expect(r.sample.n).toBe(35);
    expect(r.sample.h).toHaveLength(35);
    expect(r.sample.dd).toHaveLength(34);
    expect(r.sample.ud).toHaveLength(34);
    // dd = h + ud
    r.sample.dd.forEach((d, i) => expect(d).toBeCloseTo(r.sample.h[i]! + r.sample.ud[i]!, 4));
  });

  it('rounds sub-millisecond times to 0.1 ms', () => {
    const t: Timing = { h: fixed.h.map((x) => x + 0.04321), dd: fixed.dd.map((x) => x + 0.26789) };
    const r = extractFeatures(typeEvents(SENTENCE, t), SENTENCE);
    expect(r.ok && r.sample.h[0]).toBe(0.08);
    expect(r.ok && r.sample.dd[0]).toBe(0.1503);
  });

  it('handles rollover: the next key goes down before the previous comes up (negative ud)', () => {
    const t: Timing = { h: [...fixed.h], dd: [...fixed.dd] };
    t.h[1] = t.dd[1]! + 35; // 'u' still down when 'i' goes down
    t.h[6] = t.dd[6]! + 60;
    const events = typeEvents(SENTENCE, t);
    const r = extractFeatures(events, SENTENCE);
    expect(r).toEqual({ ok: true, sample: expectedSample(t) });
    expect(r.ok && r.sample.ud[1]).toBe(-0.035);
    expect(r.ok && r.sample.ud[6]).toBe(-0.06);
  });

  it('pairs keyup with keydown by physical key, even when Shift was released first', () => {
    const events: KeyEvent[] = [
      { type: 'keydown', code: 'ShiftRight', key: 'Shift', t: 0, trusted: true },
      { type: 'keydown', code: 'KeyA', key: 'A', t: 50, trusted: true },
      { type: 'keyup', code: 'ShiftRight', key: 'Shift', t: 90, trusted: true },
      { type: 'keyup', code: 'KeyA', key: 'a', t: 130, trusted: true },
      { type: 'keydown', code: 'KeyB', key: 'b', t: 250, trusted: true },
      { type: 'keyup', code: 'KeyB', key: 'b', t: 340, trusted: true },
    ];
    expect(extractFeatures(events, 'Ab')).toEqual({ ok: true, sample: { v: 1, n: 2, h: [0.08, 0.09], dd: [0.2], ud: [0.12] } });
  });

  it('also accepts CapsLock instead of Shift, and ignores keyups of keys pressed before', () => {
    const events: KeyEvent[] = [
      { type: 'keyup', code: 'Tab', key: 'Tab', t: 0, trusted: true },
      { type: 'keydown', code: 'CapsLock', key: 'CapsLock', t: 10, trusted: true },
      { type: 'keyup', code: 'CapsLock', key: 'CapsLock', t: 60, trusted: true },
      { type: 'keydown', code: 'KeyA', key: 'A', t: 100, trusted: true },
      { type: 'keyup', code: 'KeyA', key: 'A', t: 180, trusted: true },
      { type: 'keydown', code: 'KeyB', key: 'b', t: 300, trusted: true },
      { type: 'keyup', code: 'KeyB', key: 'b', t: 390, trusted: true },
    ];
    expect(extractFeatures(events, 'Ab')).toEqual({ ok: true, sample: { v: 1, n: 2, h: [0.08, 0.09], dd: [0.2], ud: [0.12] } });
  });

  it('refuses a typing corrected with Backspace (even if the result is right)', () => {
    const clean = typeEvents(SENTENCE, fixed);
    // type a wrong "x" after "Quiet", delete it, go on: the text ends right, the typing is refused.
    const i = clean.findIndex((e) => e.type === 'keyup' && e.code === 'KeyT');
    const t = clean[i]!.t;
    const detour: KeyEvent[] = [
      { type: 'keydown', code: 'KeyX', key: 'x', t: t + 1, trusted: true },
      { type: 'keyup', code: 'KeyX', key: 'x', t: t + 2, trusted: true },
      { type: 'keydown', code: 'Backspace', key: 'Backspace', t: t + 3, trusted: true },
    ];
    expect(extractFeatures([...clean.slice(0, i + 1), ...detour, ...clean.slice(i + 1)], SENTENCE)).toEqual({ ok: false, reason: 'mismatch' });
    const onlyBackspace = insertAfter(clean, (e) => e === clean[i], detour[2]!);
    expect(extractFeatures(onlyBackspace, SENTENCE)).toEqual({ ok: false, reason: 'correction' });
    for (const key of ['Delete', 'ArrowLeft', 'Home', 'Undo']) {
      const ev = insertAfter(clean, (e) => e === clean[i], { type: 'keydown', code: key, key, t: t + 3, trusted: true });
      expect(extractFeatures(ev, SENTENCE)).toEqual({ ok: false, reason: 'correction' });
    }
    const shortcut = insertAfter(clean, (e) => e === clean[i], { type: 'keydown', code: 'KeyA', key: 'a', t: t + 3, trusted: true, ctrl: true });
    expect(extractFeatures(shortcut, SENTENCE)).toEqual({ ok: false, reason: 'correction' });
    expect(extractFeatures(insertAfter(clean, (e) => e === clean[i], { type: 'edit', t: t + 3 }), SENTENCE)).toEqual({ ok: false, reason: 'correction' });
  });

  it('types AltGr characters (Ctrl+Alt) as characters', () => {
    const events: KeyEvent[] = [
      { type: 'keydown', code: 'KeyQ', key: '@', t: 0, trusted: true, ctrl: true, alt: true },
      { type: 'keyup', code: 'KeyQ', key: '@', t: 80, trusted: true },
      { type: 'keydown', code: 'KeyB', key: 'b', t: 200, trusted: true },
      { type: 'keyup', code: 'KeyB', key: 'b', t: 290, trusted: true },
    ];
    expect(extractFeatures(events, '@b').ok).toBe(true);
  });

  it('refuses a typing that does not reproduce the sentence', () => {
    expect(extractFeatures(typeEvents('Quiet rivers carry old storieshome', fixed), SENTENCE)).toEqual({ ok: false, reason: 'mismatch' });
    expect(extractFeatures(typeEvents('quiet rivers carry old stories home', fixed), SENTENCE)).toEqual({ ok: false, reason: 'mismatch' });
    const longer = `${SENTENCE}s`;
    const tl: Timing = { h: [...fixed.h, 90], dd: [...fixed.dd, 200] };
    expect(extractFeatures(typeEvents(longer, tl), SENTENCE)).toEqual({ ok: false, reason: 'mismatch' });
    // auto-repeat of a held key types characters the user did not type
    const clean = typeEvents(SENTENCE, fixed);
    const i = clean.findIndex((e) => e.type === 'keydown' && e.code === 'KeyI');
    const rep = insertAfter(clean, (e) => e === clean[i], { ...clean[i]!, t: clean[i]!.t + 1, repeat: true } as KeyEvent);
    expect(extractFeatures(rep, SENTENCE)).toEqual({ ok: false, reason: 'mismatch' });
    // a key that hides its character (IME, virtual keyboards)
    const opaque = clean.map((e) => (e.type === 'keydown' && e.code === 'KeyV' ? { ...e, key: 'Unidentified' } : e));
    expect(extractFeatures(opaque, SENTENCE)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('refuses synthetic (untrusted) events, paste, drop and autofill', () => {
    const clean = typeEvents(SENTENCE, fixed);
    const untrusted = clean.map((e, i) => (i === 7 ? { ...e, trusted: false } : e));
    expect(extractFeatures(untrusted, SENTENCE)).toEqual({ ok: false, reason: 'untrusted' });
    for (const type of ['paste', 'drop', 'autofill'] as const) {
      expect(extractFeatures([...clean.slice(0, 5), { type, t: 1500 }, ...clean.slice(5)], SENTENCE)).toEqual({ ok: false, reason: 'paste' });
    }
    expect(extractFeatures([{ type: 'paste', t: 0 }], SENTENCE)).toEqual({ ok: false, reason: 'paste' });
  });

  it('says incomplete for a partial typing, a missing keyup, a pause over 5 s or a hold over 2 s', () => {
    const clean = typeEvents(SENTENCE, fixed);
    expect(extractFeatures([], SENTENCE)).toEqual({ ok: false, reason: 'incomplete' });
    expect(extractFeatures(clean.slice(0, 20), SENTENCE)).toEqual({ ok: false, reason: 'incomplete' });
    expect(extractFeatures(clean.slice(0, -1), SENTENCE)).toEqual({ ok: false, reason: 'incomplete' });
    const pause: Timing = { h: fixed.h, dd: fixed.dd.map((x, i) => (i === 10 ? 5200 : x)) };
    expect(extractFeatures(typeEvents(SENTENCE, pause), SENTENCE)).toEqual({ ok: false, reason: 'incomplete' });
    const hold: Timing = { h: fixed.h.map((x, i) => (i === 34 ? 2100 : x)), dd: fixed.dd };
    expect(extractFeatures(typeEvents(SENTENCE, hold), SENTENCE)).toEqual({ ok: false, reason: 'incomplete' });
    // a second keydown of a key already down (its keyup was lost)
    const i = clean.findIndex((e) => e.type === 'keyup' && e.code === 'KeyQ');
    const lost = clean.filter((_, k) => k !== i);
    expect(extractFeatures(lost, 'Quiet rivers carry old stories home').ok).toBe(false);
  });

  it('gives a valid sample for random typings, with and without rollover', () => {
    const r = rng(7);
    for (let k = 0; k < 200; k++) {
      const t = randomTiming(SENTENCE.length, r, k % 2 ? 0.3 : 0);
      const res = extractFeatures(typeEvents(SENTENCE, t), SENTENCE);
      expect(res).toEqual({ ok: true, sample: expectedSample(t) });
      if (res.ok) expect(parseSample(JSON.stringify(res.sample), SENTENCE.length)).toEqual(res.sample);
    }
  });
});

describe('isValidSentence', () => {
  it('accepts 30 to 45 characters of plain words', () => {
    expect(isValidSentence(SENTENCE)).toBe(true);
    expect(isValidSentence('Short words only')).toBe(false);
    expect(isValidSentence('This sentence is far too long to type comfortably')).toBe(false);
    expect(isValidSentence('Quiet rivers  carry old stories home')).toBe(false);
    expect(isValidSentence('Quiet rivers carry 0ld stories home')).toBe(false);
  });
});

describe('parseSample', () => {
  const good = expectedSample(fixed);
  const n = SENTENCE.length;

  it('accepts the hidden field string or its parsed JSON', () => {
    expect(parseSample(JSON.stringify(good), n)).toEqual(good);
    expect(parseSample(good, n)).toEqual(good);
  });

  it('refuses wrong versions, lengths and extra keys', () => {
    expect(parseSample({ ...good, v: 2 }, n)).toBeNull();
    expect(parseSample(good, n + 1)).toBeNull();
    expect(parseSample({ ...good, n: n + 1 }, n)).toBeNull();
    expect(parseSample({ ...good, h: good.h.slice(1) }, n)).toBeNull();
    expect(parseSample({ ...good, dd: [...good.dd, 0.1] }, n)).toBeNull();
    expect(parseSample({ ...good, ud: good.ud.slice(1) }, n)).toBeNull();
    expect(parseSample({ ...good, text: SENTENCE }, n)).toBeNull();
    expect(parseSample({ v: 1, n, h: good.h, dd: good.dd }, n)).toBeNull();
  });

  it('refuses values out of bounds or not finite numbers', () => {
    const withH = (x: number) => ({ ...good, h: [x, ...good.h.slice(1)], ud: [r4(good.dd[0]! - x), ...good.ud.slice(1)] });
    expect(parseSample(withH(0), n)).not.toBeNull();
    expect(parseSample(withH(-0.001), n)).toBeNull();
    expect(parseSample({ ...withH(2.1), dd: [2.2, ...good.dd.slice(1)], ud: [0.1, ...good.ud.slice(1)] }, n)).toBeNull();
    // h = 2 s exactly is allowed, ud = −2 s exactly too
    expect(parseSample({ ...good, h: [2, ...good.h.slice(1)], dd: [0, ...good.dd.slice(1)], ud: [-2, ...good.ud.slice(1)] }, n)).not.toBeNull();
    expect(parseSample({ ...good, h: [2, ...good.h.slice(1)], dd: [0, ...good.dd.slice(1)], ud: [-2.0001, ...good.ud.slice(1)] }, n)).toBeNull();
    expect(parseSample({ ...good, dd: [5.1, ...good.dd.slice(1)], ud: [5.1 - good.h[0]!, ...good.ud.slice(1)] }, n)).toBeNull();
    expect(parseSample({ ...good, dd: [-0.01, ...good.dd.slice(1)] }, n)).toBeNull();
    expect(parseSample({ ...good, h: [NaN, ...good.h.slice(1)] }, n)).toBeNull();
    expect(parseSample({ ...good, h: [Infinity, ...good.h.slice(1)] }, n)).toBeNull();
    expect(parseSample({ ...good, h: ['0.1', ...good.h.slice(1)] }, n)).toBeNull();
  });

  it('refuses samples whose dd is not h + ud (not from a real typing)', () => {
    expect(parseSample({ ...good, ud: [r4(good.ud[0]! + 0.01), ...good.ud.slice(1)] }, n)).toBeNull();
  });

  it('refuses junk', () => {
    for (const junk of [null, undefined, 42, '', 'not json', '{"v":1', [], {}, 'x'.repeat(20_000)]) expect(parseSample(junk, n)).toBeNull();
    expect(parseSample(good, 1)).toBeNull();
  });
});

// ---- the browser recorder (public/js/keystroke-recorder.js), in a small fake DOM ----

type Listener = (ev: FakeEvent) => void;

interface FakeEvent {
  type: string;
  target?: unknown;
  code?: string;
  key?: string;
  isTrusted?: boolean;
  repeat?: boolean;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  inputType?: string;
  cancelable?: boolean;
  defaultPrevented?: boolean;
  preventDefault?: () => void;
}

class FakeElement {
  attrs = new Map<string, string>();
  listeners = new Map<string, Listener[]>();
  value = '';
  disabled = false;
  textContent = '';
  readonly page: FakePage | undefined;
  constructor(attrs: Record<string, string> = {}, page?: FakePage) {
    this.page = page;
    for (const [k, v] of Object.entries(attrs)) this.attrs.set(k, v);
  }
  getAttribute(name: string) {
    return this.attrs.get(name) ?? null;
  }
  setAttribute(name: string, v: string) {
    this.attrs.set(name, String(v));
  }
  removeAttribute(name: string) {
    this.attrs.delete(name);
  }
  hasAttribute(name: string) {
    return this.attrs.has(name);
  }
  addEventListener(type: string, fn: Listener) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  fire(ev: FakeEvent) {
    for (const fn of this.listeners.get(ev.type) ?? []) fn(ev);
  }
  focus() {
    if (this.page) this.page.focus(this);
  }
}

class FakePage {
  clock = 0;
  form: FakeElement & { querySelector: (s: string) => unknown; querySelectorAll: (s: string) => unknown[]; requestSubmit: () => void };
  sentenceEl = new FakeElement({ 'data-keystroke-sentence': '' });
  inputs: FakeElement[];
  hiddens: FakeElement[];
  message = new FakeElement({ 'data-keystroke-message': '' });
  button = new FakeElement({ type: 'submit' });
  docListeners: Listener[] = [];
  focused: FakeElement | null = null;
  submitted = 0;

  constructor(sentence: string, pairs: number) {
    this.sentenceEl.textContent = `\n   ${sentence}\n `;
    this.inputs = Array.from({ length: pairs }, (_, i) => new FakeElement({ type: 'text', name: `typed${i}`, 'data-keystroke-input': '' }, this));
    this.hiddens = Array.from({ length: pairs }, (_, i) => new FakeElement({ type: 'hidden', name: `keystroke${i}`, 'data-keystroke-sample': '' }));
    const sel: Record<string, unknown> = {
      '[data-keystroke-sentence]': this.sentenceEl,
      '[data-keystroke-message]': this.message,
    };
    const all: Record<string, unknown[]> = {
      'input[data-keystroke-input]': this.inputs,
      'input[type="hidden"][data-keystroke-sample]': this.hiddens,
      'button[type="submit"], input[type="submit"], button:not([type])': [this.button],
    };
    const form = new FakeElement({ 'data-keystroke-form': '' }) as FakePage['form'];
    form.querySelector = (s) => sel[s] ?? null;
    form.querySelectorAll = (s) => all[s] ?? [];
    form.requestSubmit = () => {
      const ev = { type: 'submit', cancelable: true, defaultPrevented: false, preventDefault() { ev.defaultPrevented = true; } };
      form.fire(ev);
      if (!ev.defaultPrevented) this.submitted++;
    };
    this.form = form;
    const document = {
      readyState: 'complete',
      querySelector: (s: string) => sel[s] ?? null,
      querySelectorAll: (s: string) => (s === 'form[data-keystroke-form]' ? [form] : []),
      addEventListener: (type: string, fn: Listener) => {
        if (type === 'keyup') this.docListeners.push(fn);
      },
    };
    const performance = { now: () => this.clock };
    const source = readFileSync(new URL('../../public/js/keystroke-recorder.js', import.meta.url), 'utf8');
    vm.runInNewContext(source, { document, performance, JSON, Math });
    this.focus(this.inputs[0]!);
  }

  focus(el: FakeElement) {
    if (this.focused && this.focused !== el) {
      const prev = this.focused;
      this.focused = el;
      prev.fire({ type: 'blur' });
    }
    this.focused = el;
  }

  /** Plays recorder-level events on the focused field, with browser default actions for keydown. */
  play(events: KeyEvent[]) {
    for (const e of events) {
      this.clock = e.t;
      const target = this.focused!;
      if (e.type === 'keyup') {
        const ev: FakeEvent = { type: 'keyup', target, code: e.code, key: e.key, isTrusted: e.trusted };
        for (const fn of this.docListeners) fn(ev);
      } else if (e.type === 'keydown') {
        const ev: FakeEvent = {
          type: 'keydown', target, code: e.code, key: e.key, isTrusted: e.trusted, repeat: !!e.repeat, ctrlKey: !!e.ctrl, metaKey: !!e.meta, altKey: !!e.alt,
          cancelable: true, defaultPrevented: false,
          preventDefault() { ev.defaultPrevented = true; },
        };
        target.fire(ev);
        if (ev.defaultPrevented) continue;
        if (e.key.length === 1 && !((e.ctrl || e.meta) && !(e.ctrl && e.alt))) {
          target.value += e.key;
          target.fire({ type: 'input', target, inputType: 'insertText' });
        } else if (e.key === 'Backspace') {
          target.value = target.value.slice(0, -1);
          target.fire({ type: 'input', target, inputType: 'deleteContentBackward' });
        } else if (e.key === 'Tab') {
          const i = this.inputs.indexOf(target);
          if (i >= 0 && i + 1 < this.inputs.length) this.focus(this.inputs[i + 1]!);
        }
      } else {
        // paste / drop / autofill: the text changes without keys
        const ev: FakeEvent = { type: e.type === 'autofill' ? 'input' : e.type, target, cancelable: true, defaultPrevented: false, preventDefault() { ev.defaultPrevented = true; } };
        target.fire(ev);
        if (e.type === 'paste' && !ev.defaultPrevented) {
          target.value += 'pasted';
          target.fire({ type: 'input', target, inputType: 'insertFromPaste' });
        }
        if (e.type === 'autofill') {
          target.value = SENTENCE;
          target.fire({ type: 'input', target });
        }
      }
    }
  }

  state(i: number) {
    return this.inputs[i]!.getAttribute('data-keystroke-state');
  }
}

describe('keystroke-recorder.js', () => {
  it('puts the same sample as extractFeatures in the hidden field, never the text', () => {
    const page = new FakePage(SENTENCE, 1);
    const events = typeEvents(SENTENCE, fixed);
    page.play(events);
    const ts = extractFeatures(events, SENTENCE);
    expect(ts.ok).toBe(true);
    expect(page.hiddens[0]!.value).toBe(JSON.stringify(ts.ok && ts.sample));
    expect(page.state(0)).toBe('valid');
    expect(page.inputs[0]!.hasAttribute('name')).toBe(false);
    expect(page.inputs[0]!.getAttribute('autocomplete')).toBe('off');
    expect(page.hiddens[0]!.value).not.toContain('Quiet');
  });

  it('matches extractFeatures on random typings, with rollover and injected mistakes', () => {
    const r = rng(11);
    const wrong: KeyEvent[][] = [];
    for (let k = 0; k < 150; k++) {
      const t = randomTiming(SENTENCE.length, r, 0.3);
      let events: KeyEvent[] = typeEvents(SENTENCE, t);
      const kind = k % 5;
      if (kind === 1) {
        // Backspace somewhere
        const at = 1 + Math.floor(r() * (events.length - 2));
        events = [...events.slice(0, at), { type: 'keydown', code: 'Backspace', key: 'Backspace', t: events[at - 1]!.t, trusted: true }, ...events.slice(at)];
      } else if (kind === 2) {
        // a wrong character instead of a right one
        const downs = events.map((e, i) => (e.type === 'keydown' && e.code !== 'ShiftLeft' ? i : -1)).filter((i) => i >= 0);
        const at = downs[Math.floor(r() * downs.length)]!;
        const e = events[at] as KeyStroke;
        events = events.map((x, i) => (i === at || (x.type === 'keyup' && (x as KeyStroke).code === e.code) ? { ...(x as KeyStroke), key: 'z', code: 'KeyZ' } : x));
      } else if (kind === 3) {
        events = events.map((x, i) => (i === 9 ? { ...(x as KeyStroke), trusted: false } : x));
      } else if (kind === 4) {
        events = events.slice(0, Math.floor(r() * events.length));
      }
      const page = new FakePage(SENTENCE, 1);
      page.play(events);
      // The recorder starts a new attempt after each refusal: model it with extractFeatures.
      let start = 0;
      let firstRefusal = -1;
      for (let i = 0; i < events.length; i++) {
        const p = extractFeatures(events.slice(start, i + 1), SENTENCE);
        if (!p.ok && p.reason !== 'incomplete') {
          if (firstRefusal < 0) firstRefusal = i;
          start = i + 1;
        }
      }
      const ts = extractFeatures(events.slice(start), SENTENCE);
      if (ts.ok) {
        expect(page.hiddens[0]!.value).toBe(JSON.stringify(ts.sample));
        expect(page.state(0)).toBe('valid');
      } else {
        expect(page.hiddens[0]!.value).toBe('');
        expect(page.state(0)).not.toBe('valid');
      }
      if (firstRefusal >= 0) {
        // refused at the first offending event, and the field emptied
        const page2 = new FakePage(SENTENCE, 1);
        page2.play(events.slice(0, firstRefusal + 1));
        expect(page2.state(0)).toBe('refused');
        expect(page2.inputs[0]!.value).toBe('');
        expect(page2.hiddens[0]!.value).toBe('');
        wrong.push(events);
      }
    }
    expect(wrong.length).toBeGreaterThan(50);
  });

  it('refuses a correction with the message, clears the field, and accepts the next clean typing', () => {
    const page = new FakePage(SENTENCE, 1);
    page.play([
      { type: 'keydown', code: 'ShiftLeft', key: 'Shift', t: 0, trusted: true },
      { type: 'keydown', code: 'KeyQ', key: 'Q', t: 50, trusted: true },
      { type: 'keyup', code: 'KeyQ', key: 'q', t: 120, trusted: true },
      { type: 'keyup', code: 'ShiftLeft', key: 'Shift', t: 130, trusted: true },
      { type: 'keydown', code: 'KeyI', key: 'i', t: 200, trusted: true },
    ]);
    expect(page.state(0)).toBe('refused');
    page.play([{ type: 'keyup', code: 'KeyI', key: 'i', t: 260, trusted: true }]);
    expect(page.state(0)).toBe('refused');
    expect(page.message.textContent).toBe('Type it again as it appears.');
    expect(page.inputs[0]!.value).toBe('');
    expect(page.button.disabled).toBe(true);
    page.play(typeEvents(SENTENCE, fixed, 5000));
    expect(page.state(0)).toBe('valid');
    expect(page.message.textContent).toBe('');
    expect(page.button.disabled).toBe(false);
  });

  it('refuses paste and autofill, and typing past the end', () => {
    const page = new FakePage(SENTENCE, 1);
    page.play([{ type: 'paste', t: 10 }]);
    expect(page.state(0)).toBe('refused');
    expect(page.inputs[0]!.value).toBe('');
    page.play([{ type: 'autofill', t: 20 }]);
    expect(page.state(0)).toBe('refused');
    expect(page.inputs[0]!.value).toBe('');
    page.play(typeEvents(SENTENCE, fixed, 1000));
    expect(page.state(0)).toBe('valid');
    page.play([{ type: 'keydown', code: 'KeyS', key: 's', t: 20_000, trusted: true }]);
    expect(page.state(0)).toBe('refused');
    expect(page.hiddens[0]!.value).toBe('');
  });

  it('shows the unsupported message for keyboards that hide the keys', () => {
    const page = new FakePage(SENTENCE, 1);
    page.message.setAttribute('data-text-unsupported', 'Use a physical keyboard.');
    page.play([{ type: 'keydown', code: '', key: 'Unidentified', t: 5, trusted: true }]);
    expect(page.message.textContent).toBe('Use a physical keyboard.');
    expect(page.form.getAttribute('data-keystroke-unsupported')).toBe('true');
  });

  it('enables submit only when all typings are valid; Enter moves on, then submits', () => {
    const page = new FakePage(SENTENCE, 3);
    expect(page.button.disabled).toBe(true);
    const enter = (t: number): KeyEvent[] => [
      { type: 'keydown', code: 'Enter', key: 'Enter', t, trusted: true },
      { type: 'keyup', code: 'Enter', key: 'Enter', t: t + 60, trusted: true },
    ];
    page.play([...typeEvents(SENTENCE, fixed, 1000), ...enter(9000)]);
    expect(page.focused).toBe(page.inputs[1]);
    expect(page.button.disabled).toBe(true);
    page.play([...typeEvents(SENTENCE, fixed, 10_000), ...enter(18_000)]);
    expect(page.focused).toBe(page.inputs[2]);
    expect(page.submitted).toBe(0);
    page.play(typeEvents(SENTENCE, fixed, 20_000));
    expect(page.button.disabled).toBe(false);
    page.play(enter(28_000));
    expect(page.submitted).toBe(1);
    for (const h of page.hiddens) expect(parseSample(h.value, SENTENCE.length)).not.toBeNull();
  });

  it('catches the last keyup after Tab moved the focus', () => {
    const page = new FakePage(SENTENCE, 2);
    const events = typeEvents(SENTENCE, fixed, 1000);
    const last = events.pop()!; // keyup of the final "e"
    page.play([...events, { type: 'keydown', code: 'Tab', key: 'Tab', t: last.t - 20, trusted: true }]);
    expect(page.focused).toBe(page.inputs[1]);
    expect(page.state(0)).toBe('typing');
    page.play([last]);
    expect(page.state(0)).toBe('valid');
  });

  it('refuses a typing abandoned half-way when the field loses focus', () => {
    const page = new FakePage(SENTENCE, 2);
    page.play([...typeEvents(SENTENCE, fixed, 1000).slice(0, 12), { type: 'keydown', code: 'Tab', key: 'Tab', t: 4000, trusted: true }]);
    expect(page.state(0)).toBe('refused');
  });
});
