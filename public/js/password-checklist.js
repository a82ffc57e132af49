/*
 * Live password checklist (registration / password change pages).
 *
 * The SERVER IS AUTHORITATIVE: src/security/password-policy.ts decides whether a password is
 * accepted. This script only gives feedback while typing, and the form works without it. The rule
 * logic below is a line-for-line mirror of that module (carrier user guide, slide 4 "Create Your
 * Secure Login"); change both together.
 *
 * Markup it expects (rendered by the server):
 *   <input name="password">
 *   <ul data-password-rules> <li data-rule="password.length">…</li> … </ul>
 * On every input event each known <li> gets class "met" or "unmet" and data-state="met"|"unmet".
 * For the "cannot" rules, "met" means the password does NOT have that problem. <li>s whose
 * data-rule is not one of the listed rules are left alone.
 *
 * CSP-safe: no inline handlers, no eval, no globals.
 */
(function () {
  'use strict';

  // ---- rule data (keep identical to src/security/password-policy.ts) ----
  var MIN_LENGTH = 8;
  var MAX_LENGTH = 40;
  var ALLOWED_SPECIALS = '~!@#$%^&*(){}';
  var FORBIDDEN_SPECIALS = '=_-+';
  var MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
  var DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
  var RESTRICTED_TERMS = [
    'appl', 'asdf', 'basic', 'cadam', 'demo', 'focus', 'game', 'net',
    'new', 'pas', 'ros', 'sign', 'sys', 'tso', 'valid', 'vtam', 'log',
  ];

  /** Lowercases A-Z only; every other character is left as it is. */
  function asciiLower(s) {
    return s.replace(/[A-Z]/g, function (c) {
      return String.fromCharCode(c.charCodeAt(0) + 32);
    });
  }

  function isDigit(c) {
    return c >= '0' && c <= '9';
  }

  function isLowerLetter(c) {
    return c >= 'a' && c <= 'z';
  }

  /** Three characters in a row, all digits or all letters (case ignored), ascending or descending by one. */
  function hasSequential(chars) {
    for (var i = 0; i + 2 < chars.length; i++) {
      var a = chars[i];
      var b = chars[i + 1];
      var c = chars[i + 2];
      var sameClass =
        (isDigit(a) && isDigit(b) && isDigit(c)) || (isLowerLetter(a) && isLowerLetter(b) && isLowerLetter(c));
      if (!sameClass) continue;
      var d1 = b.charCodeAt(0) - a.charCodeAt(0);
      var d2 = c.charCodeAt(0) - b.charCodeAt(0);
      if ((d1 === 1 && d2 === 1) || (d1 === -1 && d2 === -1)) return true;
    }
    return false;
  }

  /** The same character three times in a row (case ignored); any character. */
  function hasRepeated(chars) {
    for (var i = 0; i + 2 < chars.length; i++) {
      if (chars[i] === chars[i + 1] && chars[i + 1] === chars[i + 2]) return true;
    }
    return false;
  }

  function containsAny(lower, words) {
    return words.some(function (w) {
      return lower.indexOf(w) !== -1;
    });
  }

  function hasAnyOf(s, set) {
    for (var i = 0; i < s.length; i++) if (set.indexOf(s[i]) !== -1) return true;
    return false;
  }

  /** Whether each listed rule is broken (same table as BROKEN in password-policy.ts). */
  var BROKEN = {
    'password.length': function (p, lower, chars) {
      return chars.length < MIN_LENGTH || chars.length > MAX_LENGTH;
    },
    'password.uppercase': function (p) {
      return !/[A-Z]/.test(p);
    },
    'password.lowercase': function (p) {
      return !/[a-z]/.test(p);
    },
    'password.number': function (p) {
      return !/[0-9]/.test(p);
    },
    'password.special': function (p) {
      return !hasAnyOf(p, ALLOWED_SPECIALS);
    },
    'password.sequential': function (p, lower, chars) {
      return hasSequential(chars);
    },
    'password.repeated': function (p, lower, chars) {
      return hasRepeated(chars);
    },
    'password.month': function (p, lower) {
      return containsAny(lower, MONTHS);
    },
    'password.day': function (p, lower) {
      return containsAny(lower, DAYS);
    },
    'password.restricted_term': function (p, lower) {
      return containsAny(lower, RESTRICTED_TERMS);
    },
    'password.forbidden_special': function (p) {
      return hasAnyOf(p, FORBIDDEN_SPECIALS);
    },
    // Not one of the guide's lists: the server also refuses anything but ASCII letters, digits and
    // the specials above (spaces, accented letters…). Shown only while broken.
    'password.invalid_characters': function (p) {
      return /[^A-Za-z0-9~!@#$%^&*(){}=_+-]/.test(p);
    },
  };

  // ---- DOM wiring ----
  function setState(li, met) {
    li.classList.toggle('met', met);
    li.classList.toggle('unmet', !met);
    li.setAttribute('data-state', met ? 'met' : 'unmet');
  }

  function update(input, items) {
    var password = String(input.value || '');
    var lower = asciiLower(password);
    var chars = Array.from(lower); // code points, as the server counts them
    for (var i = 0; i < items.length; i++) {
      var li = items[i];
      var code = li.getAttribute('data-rule');
      if (!Object.prototype.hasOwnProperty.call(BROKEN, code)) continue;
      setState(li, !BROKEN[code](password, lower, chars));
    }
  }

  function wire(list) {
    var form = list.closest('form');
    var input = (form && form.querySelector('input[name="password"]')) || document.querySelector('input[name="password"]');
    if (!input) return;
    var items = list.querySelectorAll('li[data-rule]');
    input.addEventListener('input', function () {
      update(input, items);
    });
    // A value may already be there (browser restore / autofill); otherwise keep the server's rendering.
    if (input.value) update(input, items);
  }

  function init() {
    var lists = document.querySelectorAll('[data-password-rules]');
    for (var i = 0; i < lists.length; i++) wire(lists[i]);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
