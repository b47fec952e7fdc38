// INTACT dashboard: copy buttons and a message when the server cannot be reached.
// A file, not inline script, so a Content-Security-Policy of script-src 'self' allows it.
(function () {
  "use strict";

  function showMessage(text) {
    var area = document.getElementById("messages");
    if (!area) return;
    var box = document.createElement("p");
    box.className = "message message--error";
    box.setAttribute("role", "alert");
    box.textContent = text;
    area.replaceChildren(box);
  }

  function copyWithSelection(text) {
    // Clipboard API needs https (or localhost); fall back to a selected, hidden text area.
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-offscreen";
    document.body.appendChild(area);
    area.select();
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    area.remove();
    return copied;
  }

  function markCopied(button, ok) {
    var original = button.dataset.label || button.textContent;
    button.dataset.label = original;
    button.textContent = ok ? "Copied" : "Select and copy by hand";
    button.classList.toggle("is-copied", ok);
    window.setTimeout(function () {
      button.textContent = original;
      button.classList.remove("is-copied");
    }, 1800);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) return;
    var text = button.dataset.copy;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { markCopied(button, true); },
        function () { markCopied(button, copyWithSelection(text)); }
      );
    } else {
      markCopied(button, copyWithSelection(text));
    }
  });

  document.addEventListener("htmx:sendError", function () {
    showMessage("The server could not be reached. Check your connection, then try again.");
  });

  // A successful htmx answer clears an earlier error message.
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) {
      var area = document.getElementById("messages");
      if (area && area.querySelector(".message--error")) area.replaceChildren();
    }
  });
})();
