/*
 * Typing-pattern recorder (keystroke dynamics), served at /js/keystroke-recorder.js.
 *
 * The SERVER IS AUTHORITATIVE: it validates every sample (src/keystroke/features.ts parseSample),
 * refuses replays and decides with the matcher. This script only records. Its feature algorithm is
 * a line-for-line mirror of extractFeatures() in src/keystroke/features.ts (same rules, same refusal
 * reasons, same rounding); change both together.
 *
 * Markup it expects (rendered by the server; the form works only with JavaScript, the page says so):
 *   <form data-keystroke-form method="post">
 *     <p data-keystroke-sentence>Quiet rivers carry old stories home</p>   (30–45 characters)
 *     <input type="text" data-keystroke-input aria-label="Typing 1">       NO name attribute
 *     <input type="hidden" name="keystroke1" data-keystroke-sample>
 *     … N pairs: the i-th input[data-keystroke-input] of the form goes with the i-th
 *       input[type=hidden][data-keystroke-sample] …
 *     <p data-keystroke-message data-text-retry="…" data-text-unsupported="…"></p>   (optional texts)
 *     <button type="submit">Continue</button>
 *   </form>
 * The sentence is the element's data-keystroke-sentence attribute if it has a value, otherwise its
 * text with white space collapsed. Looked up in the form, then in the document.
 *
 * Behaviour:
 *  - Every keydown/keyup is logged in memory with event.code, event.key, performance.now() and
 *    event.isTrusted. Only the timing sample leaves the page: on each completed typing the paired
 *    hidden input gets {"v":1,"n":<sentence length>,"h":[…],"dd":[…],"ud":[…]} (seconds, 0.1 ms).
 *    The text inputs have their name attribute removed, so the typed text is never submitted.
 *  - A typing that departs from the sentence (wrong character, Backspace or another correction,
 *    paste, drop, autofill, synthetic events, a pause over 5 s or a key held over 2 s) is refused at
 *    once: the field is emptied, its sample cleared, and the message element shows "Type it again as
 *    it appears." (data-text-retry overrides it). Keys that hide the character typed (IME, some
 *    virtual keyboards report "Unidentified"/"Process") show data-text-unsupported instead and set
 *    data-keystroke-unsupported on the form.
 *  - Overlapping keys (rollover) are fine. Shift is ignored: a capital is the letter key's own timing.
 *  - Each text input gets data-keystroke-state = empty | typing | valid | refused.
 *  - The form's submit buttons are disabled until every pair has a valid sample; submitting is
 *    blocked otherwise. Enter in a field never submits by itself: it moves to the next field that
 *    needs a typing, or submits when all are valid.
 *
 * CSP-safe: no inline handlers, no eval, no globals.
 */
(function () {
  'use strict';

  // ---- feature algorithm (keep identical to src/keystroke/features.ts) ----
  var BOUNDS = { h: [0, 2], dd: [0, 5], ud: [-2, 5] };
  var MODIFIER_KEYS = [
    'Shift', 'Control', 'Alt', 'AltGraph', 'Meta', 'OS', 'Super', 'Hyper', 'Fn', 'FnLock',
    'CapsLock', 'NumLock', 'ScrollLock', 'Symbol', 'SymbolLock',
  ];
  var IGNORED_KEYS = ['Enter', 'Tab', 'Escape'];
  var CORRECTION_KEYS = [
    'Backspace', 'Delete', 'ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'Home', 'End',
    'PageUp', 'PageDown', 'Insert', 'Undo', 'Redo', 'Cut', 'Paste', 'Clear', 'EraseEof',
  ];
  var OPAQUE_TEXT_KEYS = ['Dead', 'Process', 'Unidentified', 'Compose'];

  var DEFAULT_RETRY = 'Type it again as it appears.';
  var DEFAULT_UNSUPPORTED = 'This keyboard does not report the keys typed, so the typing pattern cannot be recorded.';

  function has(list, x) {
    return list.indexOf(x) !== -1;
  }

  function roundFeature(seconds) {
    return Math.round(seconds * 1e4) / 1e4;
  }

  function inRange(xs, b) {
    for (var i = 0; i < xs.length; i++) {
      if (!isFinite(xs[i]) || xs[i] < b[0] || xs[i] > b[1]) return false;
    }
    return true;
  }

  /**
   * Mirror of extractFeatures(events, sentence). Returns { ok: true, sample } or
   * { ok: false, reason, typed, pending, opaque } where typed = characters typed so far, pending =
   * typed characters whose key is still down, opaque = refused because of an opaque-text key.
   */
  function extract(events, sentence) {
    var strokes = [];
    var down = {}; // event.code -> index in strokes, or -1 for an ignored key
    function refuse(reason, opaque) {
      var pending = 0;
      for (var k = 0; k < strokes.length; k++) if (strokes[k].up === null) pending++;
      return { ok: false, reason: reason, typed: strokes.length, pending: pending, opaque: !!opaque };
    }
    for (var x = 0; x < events.length; x++) {
      var e = events[x];
      if (e.type !== 'keydown' && e.type !== 'keyup') return refuse(e.type === 'edit' ? 'correction' : 'paste');
      if (!e.trusted) return refuse('untrusted');
      var known = Object.prototype.hasOwnProperty.call(down, e.code);
      if (e.type === 'keyup') {
        if (!known) continue;
        var j = down[e.code];
        delete down[e.code];
        if (j >= 0) strokes[j].up = e.t;
        continue;
      }
      var key = e.key;
      if (has(MODIFIER_KEYS, key) || has(IGNORED_KEYS, key)) {
        if (!known) down[e.code] = -1;
        continue;
      }
      if (has(CORRECTION_KEYS, key)) return refuse('correction');
      if (has(OPAQUE_TEXT_KEYS, key)) return refuse('mismatch', true);
      if (key.length !== 1) {
        if (!known) down[e.code] = -1;
        continue;
      }
      if ((e.ctrl || e.meta) && !(e.ctrl && e.alt && !e.meta)) return refuse('correction');
      if (e.repeat) return refuse('mismatch');
      if (known) return refuse('incomplete');
      var i = strokes.length;
      if (i >= sentence.length || sentence.charAt(i) !== key) return refuse('mismatch');
      strokes.push({ code: e.code, down: e.t, up: null });
      down[e.code] = i;
    }
    var n = sentence.length;
    if (n === 0 || strokes.length < n) return refuse('incomplete');
    var h = [];
    var dd = [];
    var ud = [];
    for (var p = 0; p < n; p++) {
      var s = strokes[p];
      if (s.up === null) return refuse('incomplete');
      h.push(roundFeature((s.up - s.down) / 1000));
      if (p + 1 < n) {
        var next = strokes[p + 1];
        dd.push(roundFeature((next.down - s.down) / 1000));
        ud.push(roundFeature((next.down - s.up) / 1000));
      }
    }
    if (!inRange(h, BOUNDS.h) || !inRange(dd, BOUNDS.dd) || !inRange(ud, BOUNDS.ud)) return refuse('incomplete');
    return { ok: true, sample: { v: 1, n: n, h: h, dd: dd, ud: ud } };
  }

  // ---- DOM wiring ----
  function now() {
    return performance.now();
  }

  function keyRecord(ev) {
    return {
      type: ev.type,
      code: String(ev.code || ''),
      key: String(ev.key || ''),
      t: now(),
      trusted: ev.isTrusted === true,
      repeat: !!ev.repeat,
      ctrl: !!ev.ctrlKey,
      meta: !!ev.metaKey,
      alt: !!ev.altKey,
    };
  }

  /** Whether `code` went down in `events` and has not come up since. */
  function isDown(events, code) {
    for (var i = events.length - 1; i >= 0; i--) {
      var e = events[i];
      if (e.code === code && (e.type === 'keydown' || e.type === 'keyup')) return e.type === 'keydown';
    }
    return false;
  }

  function sentenceOf(form) {
    var el = form.querySelector('[data-keystroke-sentence]') || document.querySelector('[data-keystroke-sentence]');
    if (!el) return '';
    var attr = el.getAttribute('data-keystroke-sentence');
    if (attr) return attr;
    return String(el.textContent || '').replace(/\s+/g, ' ').replace(/^ | $/g, '');
  }

  function wire(form) {
    var sentence = sentenceOf(form);
    var inputs = form.querySelectorAll('input[data-keystroke-input]');
    var hiddens = form.querySelectorAll('input[type="hidden"][data-keystroke-sample]');
    var message = form.querySelector('[data-keystroke-message]');
    var submits = form.querySelectorAll('button[type="submit"], input[type="submit"], button:not([type])');
    var count = Math.min(inputs.length, hiddens.length);
    if (!sentence || count === 0) return null;
    if (message && !message.getAttribute('aria-live')) message.setAttribute('aria-live', 'polite');

    var states = [];
    for (var i = 0; i < count; i++) {
      states.push({ input: inputs[i], hidden: hiddens[i], events: [], valid: false, blurred: false });
    }

    function say(text) {
      if (message) message.textContent = text;
    }

    function allValid() {
      for (var i = 0; i < states.length; i++) if (!states[i].valid) return false;
      return true;
    }

    function updateSubmit() {
      var ok = allValid();
      for (var i = 0; i < submits.length; i++) submits[i].disabled = !ok;
    }

    function setState(st, name) {
      st.input.setAttribute('data-keystroke-state', name);
      if (name === 'refused') st.input.setAttribute('aria-invalid', 'true');
      else st.input.removeAttribute('aria-invalid');
    }

    function refuse(st, result, ev) {
      if (ev && ev.cancelable && typeof ev.preventDefault === 'function') ev.preventDefault();
      st.events = [];
      st.valid = false;
      st.blurred = false;
      st.input.value = '';
      st.hidden.value = '';
      setState(st, 'refused');
      if (result.opaque) {
        form.setAttribute('data-keystroke-unsupported', 'true');
        say((message && message.getAttribute('data-text-unsupported')) || DEFAULT_UNSUPPORTED);
      } else {
        say((message && message.getAttribute('data-text-retry')) || DEFAULT_RETRY);
      }
      updateSubmit();
    }

    function evaluate(st, ev) {
      var r = extract(st.events, sentence);
      if (r.ok) {
        if (String(st.input.value) !== sentence) return refuse(st, { reason: 'mismatch' }, ev);
        st.valid = true;
        st.hidden.value = JSON.stringify(r.sample);
        setState(st, 'valid');
        say('');
      } else if (r.reason !== 'incomplete') {
        return refuse(st, r, ev);
      } else {
        st.valid = false;
        st.hidden.value = '';
        var finished = r.typed === sentence.length && r.pending === 0;
        var abandoned = st.blurred && r.pending === 0 && String(st.input.value) !== '';
        if (finished || abandoned) return refuse(st, r, ev);
        // Keep showing "refused" until the next attempt has typed something.
        var shown = st.input.getAttribute('data-keystroke-state');
        setState(st, r.typed > 0 || st.input.value ? 'typing' : shown === 'refused' ? 'refused' : 'empty');
      }
      updateSubmit();
    }

    function nextToType(from) {
      for (var k = 1; k <= states.length; k++) {
        var st = states[(from + k) % states.length];
        if (!st.valid) return st;
      }
      return null;
    }

    states.forEach(function (st, index) {
      var input = st.input;
      input.removeAttribute('name'); // the typed text never leaves the page
      input.setAttribute('autocomplete', 'off');
      input.setAttribute('autocapitalize', 'off');
      input.setAttribute('autocorrect', 'off');
      input.setAttribute('spellcheck', 'false');
      input.value = '';
      st.hidden.value = '';
      setState(st, 'empty');

      input.addEventListener('keydown', function (ev) {
        st.blurred = false;
        st.events.push(keyRecord(ev));
        evaluate(st, ev);
        if (ev.key === 'Enter') {
          ev.preventDefault();
          if (st.valid) {
            var next = nextToType(index);
            if (next) next.input.focus();
            else if (typeof form.requestSubmit === 'function') form.requestSubmit();
            else form.submit();
          }
        }
      });
      input.addEventListener('input', function (ev) {
        // Text must always be the typed prefix of the sentence; anything else came from elsewhere.
        var typed = extract(st.events, sentence);
        var expected = typed.ok ? sentence : sentence.slice(0, typed.typed);
        if (String(input.value) === expected) return;
        var kind = String(ev.inputType || '');
        var type = /^insertFromPaste/.test(kind) ? 'paste'
          : kind === 'insertFromDrop' ? 'drop'
          : /^(delete|history)/.test(kind) ? 'edit'
          : 'autofill';
        st.events.push({ type: type, t: now() });
        evaluate(st, ev);
      });
      input.addEventListener('paste', function (ev) {
        st.events.push({ type: 'paste', t: now() });
        evaluate(st, ev);
      });
      input.addEventListener('drop', function (ev) {
        st.events.push({ type: 'drop', t: now() });
        evaluate(st, ev);
      });
      input.addEventListener('blur', function () {
        st.blurred = true;
        if (st.events.length) evaluate(st, null);
      });
    });

    form.addEventListener('submit', function (ev) {
      if (allValid()) return;
      ev.preventDefault();
      say((message && message.getAttribute('data-text-retry')) || DEFAULT_RETRY);
      var first = nextToType(states.length - 1);
      if (first) first.input.focus();
    });

    updateSubmit();
    return {
      keyup: function (ev) {
        for (var i = 0; i < states.length; i++) {
          var st = states[i];
          if (ev.target === st.input || isDown(st.events, String(ev.code || ''))) {
            st.events.push(keyRecord(ev));
            evaluate(st, ev);
          }
        }
      },
    };
  }

  function init() {
    var forms = document.querySelectorAll('form[data-keystroke-form]');
    var wired = [];
    for (var i = 0; i < forms.length; i++) {
      var w = wire(forms[i]);
      if (w) wired.push(w);
    }
    if (!wired.length) return;
    // keyups go to whatever has the focus by then (Tab right after the last key): listen on the document.
    document.addEventListener(
      'keyup',
      function (ev) {
        for (var i = 0; i < wired.length; i++) wired[i].keyup(ev);
      },
      true,
    );
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
