// Starts Swagger UI on /docs. A file rather than an inline script, so that the page works under a
// Content-Security-Policy of script-src 'self'. The page passes the spec URL and any
// OPENAPI_SWAGGER_UI_CONFIG options as data attributes of the #swagger-ui element.
(function () {
  "use strict";

  function start() {
    var container = document.getElementById("swagger-ui");
    var options = JSON.parse(container.dataset.config || "{}");
    var config = {
      url: container.dataset.specUrl,
      domNode: container,
      deepLinking: true,
    };
    Object.keys(options).forEach(function (name) {
      config[name] = options[name];
    });
    window.ui = SwaggerUIBundle(config);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
