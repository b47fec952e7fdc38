"""The JSON API (flask-smorest): participant endpoints and admin endpoints, one OpenAPI spec.

The spec is served at /openapi.json and Swagger UI at /docs, with its assets from this app.
"""

from flask_smorest import Api

from intact.api import admin, lifecycle, participant, schedule, scripts

# Each audience has its own blueprint module; register new ones here. A module may define
# `init_spec(api)` to teach the spec its own field types before its views are documented.
BLUEPRINT_MODULES = (participant, admin, scripts, lifecycle, schedule)
# Swagger UI's files, vendored from the npm package swagger-ui-dist (see static/vendor/).
SWAGGER_UI_VERSION = "5.35.0"

API_SETTINGS = {
    "API_TITLE": "INTACT backend",
    "API_VERSION": "2.0",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    # Served by this app, no CDN. templates/swagger_ui.html replaces flask-smorest's page so that
    # it runs under script-src 'self' (its initialiser is static/docs/swagger-initializer.js).
    "OPENAPI_SWAGGER_UI_URL": f"/static/vendor/swagger-ui-{SWAGGER_UI_VERSION}/",
}


def init_app(app) -> Api:
    """Create this app's Api (one per app: tests build many) and register every blueprint."""
    for key, value in API_SETTINGS.items():
        app.config.setdefault(key, value)
    api = Api(app)
    for module in BLUEPRINT_MODULES:
        if hasattr(module, "init_spec"):
            module.init_spec(api)
        api.register_blueprint(module.bp)
    return api
