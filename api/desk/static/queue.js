// The queue screen: live row refreshes, the multi-select count, and keeping ticked rows ticked
// when the list is swapped. Everything else (keys, toasts, the live feed) is desk.js.
(function () {
  "use strict";

  var body = document.getElementById("queue-rows");
  if (!body) return;
  var ticked = {};

  function boxes() {
    return Array.prototype.slice.call(body.querySelectorAll('input[type="checkbox"][data-select]'));
  }

  function showCount() {
    var counter = document.getElementById("bulk-count");
    if (!counter) return;
    var count = Object.keys(ticked).length;
    var template = counter.getAttribute("data-count-template") || "{count}";
    if (!counter.hasAttribute("data-hint")) counter.setAttribute("data-hint", counter.textContent);
    counter.textContent = count ? template.replace("{count}", String(count)) : counter.getAttribute("data-hint");
  }

  body.addEventListener("change", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.hasAttribute("data-select")) return;
    if (box.checked) ticked[box.value] = true;
    else delete ticked[box.value];
    showCount();
  });

  // After a swap (a live refresh, a row re-rendered after an action) the ticks come back.
  document.addEventListener("htmx:afterSettle", function () {
    boxes().forEach(function (box) { box.checked = !!ticked[box.value]; });
    showCount();
  });

  // A bulk action went through: its rows are no longer selected.
  document.body.addEventListener("queue-refresh", function () {
    ticked = {};
    showCount();
  });

  // A colleague changed a mention: re-render that row only, if it is on the page.
  document.body.addEventListener("live-mention-updated", function (event) {
    // The event as the log keeps it: {id, type, subject, payload: {mention: {id, …}, changes}}.
    var detail = event.detail || {};
    var mention = (detail.payload && detail.payload.mention) || detail.mention || {};
    var id = mention.id;
    if (id === undefined || id === null) return;
    var row = body.querySelector('[data-row="' + CSS.escape(String(id)) + '"]');
    if (!row || !window.htmx) return;
    if (row.querySelector(".htmx-request")) return;  // the action's own answer brings the row
    var search = new URLSearchParams(window.location.search).get("q");
    var url = "/queue/row/" + encodeURIComponent(String(id)) + (search ? "?q=" + encodeURIComponent(search) : "");
    window.htmx.ajax("GET", url, { target: row, swap: "outerHTML" });
  });

  // A row answer may arrive after that row was replaced (a live refresh and an action crossing):
  // swap it into the row now on the page, and never let an older version replace a newer one.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!(target instanceof Element) || !target.matches("tr[data-row]")) return;
    var key = target.getAttribute("data-row");
    var current = body.querySelector('tr[data-row="' + CSS.escape(key) + '"]');
    if (!current) { event.detail.shouldSwap = false; return; }
    if (current !== target) event.detail.target = current;
    // While an action from this row is on its way, a live refresh must not replace the row: the
    // action's answer (read after it committed) would then land in a row no longer on the page.
    var config = event.detail.requestConfig || {};
    if (config.verb === "get" && current.querySelector(".htmx-request")) {
      event.detail.shouldSwap = false;
      return;
    }
    var found = /data-version="(\d+)"/.exec(event.detail.serverResponse || "");
    var shown = parseInt(current.getAttribute("data-version") || "0", 10);
    if (found && parseInt(found[1], 10) < shown) event.detail.shouldSwap = false;
  });

  // A re-rendered row arrives unselected: select it again at once (not only when htmx settles),
  // so a quick j after an action moves on from this row rather than from the top.
  document.addEventListener("htmx:afterSwap", function () {
    var key = window.Desk && window.Desk.selectedKey;
    if (!key) return;
    var row = body.querySelector('[data-row="' + CSS.escape(key) + '"]');
    if (!row || row.getAttribute("aria-selected") === "true") return;
    var active = document.activeElement;
    window.Desk.select(row, !active || active === document.body || body.contains(active));
  });

  // A key for an action this row no longer offers (e on a resolved row) says so, rather than
  // falling through to the same key of another row.
  document.addEventListener("click", function (event) {
    var noop = event.target instanceof Element ? event.target.closest("[data-noop]") : null;
    if (noop && window.Desk) window.Desk.toast(noop.getAttribute("data-noop"), "info");
  });

  // Escape closes an open snooze menu.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    body.querySelectorAll("details.snooze[open]").forEach(function (menu) { menu.removeAttribute("open"); });
  });

  // A snooze choice made: close the menu (the row is re-rendered anyway).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var menu = event.target instanceof Element ? event.target.closest("details.snooze") : null;
    if (menu) menu.removeAttribute("open");
  });
})();
