// The questions page needs nothing beyond desk.js (keyboard, live refresh); this file keeps a
// place for it and marks the question being read in the list.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var current = document.querySelector('[data-keylist] [data-row][aria-current="true"]');
    if (current && window.Desk && Desk.select) Desk.select(current, false);
  });
})();
