// The conversation page: the correction forms one key away (1, 2, 3 open them and focus their
// first choice), and saying goodbye to the presence list when the page closes.
(function () {
  "use strict";

  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!(details instanceof HTMLDetailsElement) || !details.open) return;
    if (!details.hasAttribute("data-focus-first") && !details.classList.contains("snooze")) return;
    var first = details.querySelector("input:not([type=hidden]):checked, input:not([type=hidden]), button");
    if (first) first.focus();
  }, true);

  var page = document.querySelector("[data-leave]");
  var csrf = document.querySelector('meta[name="csrf-token"]');
  if (page && csrf && navigator.sendBeacon) {
    window.addEventListener("pagehide", function () {
      var form = new FormData();
      form.append("csrf_token", csrf.getAttribute("content"));
      navigator.sendBeacon(page.getAttribute("data-leave"), form);
    });
  }
})();
