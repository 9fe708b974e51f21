// The reply box: a live length counter in graphemes (what people see as characters), and the
// undo countdown of a reply that is about to leave. No inline script: the page declares what it
// needs with data attributes (data-counter, data-limit, data-counter-text, data-countdown).
(function () {
  "use strict";

  var segmenter = (window.Intl && Intl.Segmenter) ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;

  function graphemes(text) {
    if (segmenter) {
      var n = 0;
      var it = segmenter.segment(text)[Symbol.iterator]();
      while (!it.next().done) n += 1;
      return n;
    }
    return Array.from(text).length;
  }

  function updateCounter(box) {
    var out = document.getElementById(box.getAttribute("data-counter"));
    if (!out) return;
    var used = graphemes(box.value);
    var limit = parseInt(box.getAttribute("data-limit") || "", 10);
    var text = (box.getAttribute("data-counter-text") || "{used}")
      .replace("{used}", String(used)).replace("{limit}", isNaN(limit) ? "" : String(limit));
    out.textContent = text;
    out.classList.toggle("over", !isNaN(limit) && used > limit);
  }

  document.addEventListener("input", function (event) {
    var box = event.target;
    if (box instanceof HTMLTextAreaElement && box.hasAttribute("data-counter")) updateCounter(box);
  });

  function refreshAll() {
    document.querySelectorAll("textarea[data-counter]").forEach(updateCounter);
  }
  document.addEventListener("DOMContentLoaded", refreshAll);
  document.addEventListener("htmx:afterSettle", refreshAll);

  // ---- the undo countdown --------------------------------------------------------------------
  var lastRefresh = 0;

  function refreshOutbox() {
    var panel = document.getElementById("outbox-panel");
    if (panel && window.htmx && Date.now() - lastRefresh > 2500) {
      lastRefresh = Date.now();
      htmx.trigger(panel, "refresh");
    }
  }

  function tick() {
    var waiting = false;
    document.querySelectorAll("[data-countdown]").forEach(function (element) {
      if (!element.dataset.deadline) {
        var left = parseInt(element.getAttribute("data-countdown"), 10) || 0;
        element.dataset.deadline = String(Date.now() + left * 1000);
      }
      var seconds = Math.ceil((parseInt(element.dataset.deadline, 10) - Date.now()) / 1000);
      if (seconds > 0) {
        var text = (element.getAttribute("data-text") || "{seconds}").replace("{seconds}", String(seconds));
        if (element.textContent !== text) element.textContent = text;
      } else {
        var leaving = element.getAttribute("data-leaving") || "";
        if (element.textContent !== leaving) element.textContent = leaving;
        waiting = true;
      }
    });
    // Live events bring sent/failed; until one arrives, look again now and then.
    if (waiting || document.querySelector("#outbox-panel .reply-sending")) refreshOutbox();
  }
  setInterval(tick, 250);

  // Every answer carrying the panel swaps it in by id (out of band), so an action's answer lands in
  // the panel on the page even when a live refresh replaced the one that asked. A refresh read
  // before an action committed can answer after the action did: never let such an older panel
  // replace a newer one (the server stamps each panel before reading it).
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (!(target instanceof Element) || target.id !== "outbox-panel") return;
    var fragment = event.detail.fragment;
    var incoming = fragment && fragment.querySelector ? fragment.querySelector("#outbox-panel") : null;
    var found = incoming ? incoming.getAttribute("data-stamp") : null;
    var shown = target.getAttribute("data-stamp");
    if (!found || !shown || !/^\d+$/.test(found) || !/^\d+$/.test(shown)) return;
    if (BigInt(found) < BigInt(shown)) event.detail.shouldSwap = false;
  });
})();
