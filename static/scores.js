// Scores pages: the report's print button. A file, not an inline handler, for the CSP.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) {
      window.print();
    }
  });
})();
