// Incidents and earlier answers. "Use this answer" copies an earlier answer of ours into the
// conversation's reply box (#reply-text), where it can be edited before it is sent; the copy
// goes in as typed text, so Ctrl+Z takes it back, without the @handles the earlier answer
// began with. No inline script: buttons carry
// data-use-answer="<id of the element holding the answer's text>".
(function () {
  "use strict";

  function useAnswer(button) {
    var source = document.getElementById(button.getAttribute("data-use-answer"));
    var box = document.getElementById("reply-text");
    var panel = button.closest(".earlier-answers");
    if (!source) return;
    if (!box) {
      if (window.Desk && Desk.toast && panel) Desk.toast(panel.getAttribute("data-no-reply-box") || "", "error");
      return;
    }
    // Our earlier answer greeted its own author: leave their @handle out of this reply.
    var text = (source.textContent || "").replace(/^(\s*@[^\s]+\s+)+/, "");
    box.focus();
    box.select();
    var inserted = false;
    try { inserted = document.execCommand && document.execCommand("insertText", false, text); } catch (e) { inserted = false; }
    if (!inserted || box.value !== text) {
      box.value = text;
      box.dispatchEvent(new Event("input", { bubbles: true }));
    }
    box.scrollIntoView({ block: "nearest" });
    if (window.Desk && Desk.toast && panel) Desk.toast(panel.getAttribute("data-used") || "", "info");
  }

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-use-answer]") : null;
    if (button) {
      event.preventDefault();
      useAnswer(button);
    }
  });
})();
