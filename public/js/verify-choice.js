// "Verify your Account" (guide slide 8): the button says "Send Code" for a code factor and "Next"
// for the keyboard pattern. Without JavaScript it keeps "Send Code" and the server does the same.
(function () {
  'use strict';
  var form = document.querySelector('form.factor-choice');
  if (!form) return;
  var button = form.querySelector('button[data-label-code]');
  function update() {
    var chosen = form.querySelector('input[name="factor"]:checked');
    if (!button || !chosen) return;
    button.textContent = chosen.getAttribute('data-kind') === 'pattern' ? button.getAttribute('data-label-pattern') : button.getAttribute('data-label-code');
  }
  form.addEventListener('change', update);
  update();
})();
