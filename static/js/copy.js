// « Copier la clé »: copies the text of the element named by data-copy-target.
(function () {
  "use strict";

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function confirm(button) {
    var label = button.textContent;
    button.textContent = button.getAttribute("data-copied-label") || "Copié";
    window.setTimeout(function () { button.textContent = label; }, 2000);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) { return; }
    var target = document.getElementById(button.getAttribute("data-copy-target"));
    if (!target) { return; }
    var text = target.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { confirm(button); }, function () { selectText(target); });
    } else {
      // Without the Clipboard API (plain http), the key is selected for Ctrl+C.
      selectText(target);
      try {
        if (document.execCommand("copy")) { confirm(button); }
      } catch (error) { /* the selection is there for a manual copy */ }
    }
  });
}());
