// The desk's behaviour on every page: the CSRF header, keyboard shortcuts, toasts, live updates.
// No inline script anywhere (the Content-Security-Policy forbids it): pages declare what keys do
// with attributes. A button or link with data-key="c" is pressed by the key c; inside a list
// marked data-keylist, rows ([data-row]) are moved through with j/k, opened with Enter (their
// data-href or their a[data-open]) and their own data-key controls win over the page's.
(function () {
  "use strict";

  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : null;

  document.addEventListener("htmx:configRequest", function (event) {
    if (csrf) event.detail.headers["X-CSRF-Token"] = csrf;
  });

  // ---- toasts -------------------------------------------------------------------------------
  var Desk = (window.Desk = window.Desk || {});

  Desk.toast = function (message, kind) {
    var area = document.getElementById("toasts");
    if (!area) return;
    var box = document.createElement("div");
    box.className = "toast toast-" + (kind || "info");
    box.setAttribute("role", kind === "error" ? "alert" : "status");
    var text = document.createElement("span");
    text.textContent = message;
    box.appendChild(text);
    var close = document.createElement("button");
    close.type = "button";
    close.className = "link";
    close.setAttribute("data-dismiss", "");
    close.setAttribute("aria-label", "×");
    close.textContent = "×";
    box.appendChild(close);
    area.appendChild(box);
    setTimeout(function () { box.remove(); }, 10000);
  };

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target.closest("[data-dismiss]") : null;
    if (target) {
      var toast = target.closest(".toast");
      if (toast) toast.remove();
    }
    var help = event.target instanceof Element ? event.target.closest("[data-shortcuts]") : null;
    if (help) openShortcuts();
  });

  // An error answer: problem+json says what went wrong; an HTML fragment aimed at the toasts
  // is shown there; anything else gets the generic message.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (xhr.getResponseHeader("HX-Retarget") === "#toasts") {
      var area = document.getElementById("toasts");
      if (area) {
        area.insertAdjacentHTML("beforeend", xhr.responseText);
        htmx.process(area);
      }
      return;
    }
    var message = document.body.getAttribute("data-error-generic") || "Error";
    if (type.indexOf("json") >= 0) {
      try {
        var problem = JSON.parse(xhr.responseText);
        if (problem.detail) message = problem.detail;
      } catch (e) { /* keep the generic message */ }
    }
    Desk.toast(message, "error");
  });
  document.addEventListener("htmx:sendError", function () {
    Desk.toast(document.body.getAttribute("data-error-generic") || "Error", "error");
  });

  // ---- keyboard -----------------------------------------------------------------------------
  function editable(element) {
    if (!(element instanceof Element)) return false;
    var tag = element.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable;
  }

  function visible(element) {
    return !!(element.offsetWidth || element.offsetHeight || element.getClientRects().length);
  }

  function openShortcuts() {
    var dialog = document.getElementById("shortcuts-dialog");
    if (dialog && !dialog.open) dialog.showModal();
  }

  function list() { return document.querySelector("[data-keylist]"); }
  function rows() {
    var container = list();
    return container ? Array.prototype.slice.call(container.querySelectorAll("[data-row]")) : [];
  }
  function selectedRow() {
    var container = list();
    return container ? container.querySelector('[data-row][aria-selected="true"]') : null;
  }

  Desk.select = function (row, focus) {
    rows().forEach(function (other) {
      if (other !== row) {
        other.setAttribute("aria-selected", "false");
        other.setAttribute("tabindex", "-1");
      }
    });
    if (!row) return;
    row.setAttribute("aria-selected", "true");
    row.setAttribute("tabindex", "0");
    Desk.selectedKey = row.getAttribute("data-row");
    if (focus !== false) {
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
  };

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var current = all.indexOf(selectedRow());
    var next = current < 0 ? 0 : Math.min(all.length - 1, Math.max(0, current + step));
    Desk.select(all[next]);
  }

  function openRow(row) {
    if (!row) return;
    var link = row.querySelector("a[data-open]");
    if (link) { link.click(); return; }
    var href = row.getAttribute("data-href");
    if (href) window.location.assign(href);
  }

  function press(key) {
    var selector = '[data-key="' + (key === '"' ? '\\"' : key) + '"]';
    var row = selectedRow();
    var container = list();
    var candidates = [];
    if (row) candidates = candidates.concat(Array.prototype.slice.call(row.querySelectorAll(selector)));
    candidates = candidates.concat(Array.prototype.slice.call(document.querySelectorAll(selector)));
    for (var i = 0; i < candidates.length; i++) {
      var element = candidates[i];
      // A row's own controls answer only for that row: a key never acts on another row.
      var owner = container ? element.closest("[data-row]") : null;
      if (owner && owner !== row && container.contains(owner)) continue;
      if (element.disabled || element.getAttribute("aria-disabled") === "true") continue;
      if (!visible(element) && !element.hasAttribute("data-key-hidden")) continue;
      if (editable(element)) element.focus();
      else element.click();
      return true;
    }
    return false;
  }

  var pendingG = false;
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      if (editable(document.activeElement)) document.activeElement.blur();
      return;
    }
    if (editable(event.target) || event.isComposing) return;
    var dialog = document.querySelector("dialog[open]");
    if (dialog && event.key !== "?") return;  // a dialog keeps its keys to itself
    var key = event.key;
    if (pendingG) {
      pendingG = false;
      if (key === "q") { window.location.assign("/queue"); event.preventDefault(); return; }
    }
    if (key === "?") { openShortcuts(); event.preventDefault(); return; }
    if (key === "g") { pendingG = true; setTimeout(function () { pendingG = false; }, 1500); return; }
    if (key === "/") {
      var search = document.querySelector("[data-search]");
      if (search) { search.focus(); event.preventDefault(); }
      return;
    }
    if (key === "j" || key === "ArrowDown" && list() && list().contains(document.activeElement)) {
      move(1); event.preventDefault(); return;
    }
    if (key === "k" || key === "ArrowUp" && list() && list().contains(document.activeElement)) {
      move(-1); event.preventDefault(); return;
    }
    if (key === "Enter") {
      var focused = document.activeElement;
      if (focused && focused.matches && focused.matches("[data-row]")) {
        openRow(focused); event.preventDefault();
      }
      return;
    }
    if (key === "x") {
      var row = selectedRow();
      var box = row ? row.querySelector('input[type="checkbox"][data-select]') : null;
      if (box) { box.click(); event.preventDefault(); return; }
    }
    if (key.length === 1 && press(key)) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var row = event.target instanceof Element ? event.target.closest("[data-keylist] [data-row]") : null;
    if (row) Desk.select(row, false);
  });

  // Keep the selection when htmx replaces the list (a live refresh, a filter).
  document.addEventListener("htmx:afterSettle", function () {
    var container = list();
    if (!container) return;
    var keep = Desk.selectedKey
      ? container.querySelector('[data-row="' + CSS.escape(Desk.selectedKey) + '"]') : null;
    if (keep) Desk.select(keep, container.contains(document.activeElement) || document.activeElement === document.body);
    else if (!selectedRow() && rows().length) Desk.select(rows()[0], false);
  });
  document.addEventListener("DOMContentLoaded", function () {
    var all = rows();
    if (all.length && !selectedRow()) Desk.select(all[0], false);
    document.querySelectorAll("[data-autosubmit]").forEach(function (element) {
      element.addEventListener("change", function () { element.form && element.form.requestSubmit(); });
    });
  });

  // ---- live updates (Server-Sent Events) -------------------------------------------------------
  // Every event of the log is re-dispatched on <body> as "live-<type with dots as dashes>"
  // (live-mention-updated, live-reply-sent, …) and as "live"; elements refresh themselves with
  // hx-trigger="live-mention-updated from:body throttle:500ms".
  var liveUrl = document.body.getAttribute("data-live");
  if (liveUrl && window.EventSource) {
    var status = document.getElementById("live-status");
    var lost = false;
    var source = new EventSource(liveUrl);
    var relay = function (message) {
      var detail = {};
      try { detail = JSON.parse(message.data); } catch (e) { detail = {}; }
      var name = "live-" + message.type.replace(/\./g, "-");
      document.body.dispatchEvent(new CustomEvent(name, { detail: detail, bubbles: true }));
      document.body.dispatchEvent(new CustomEvent("live", { detail: { type: message.type, data: detail }, bubbles: true }));
    };
    Desk.liveTypes = (document.body.getAttribute("data-live-types") || "").split(" ").filter(Boolean);
    var known = ["mention.created", "mention.updated", "mention.presence", "reply.scheduled",
      "reply.sent", "reply.failed", "question.answered", "appreciation.done", "source.failing",
      "source.paused", "source.recovered", "alert.raised", "digest.built", "incident.updated"];
    known.concat(Desk.liveTypes).forEach(function (type) { source.addEventListener(type, relay); });
    source.addEventListener("message", relay);
    source.onopen = function () {
      document.body.setAttribute("data-live-state", "open");
      if (lost && status) status.textContent = document.body.getAttribute("data-live-back") || "";
      lost = false;
    };
    source.onerror = function () {
      document.body.setAttribute("data-live-state", "lost");
      if (!lost && status) status.textContent = document.body.getAttribute("data-live-lost") || "";
      lost = true;
    };
    window.addEventListener("beforeunload", function () { source.close(); });
  }
})();
