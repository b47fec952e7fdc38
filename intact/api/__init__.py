"""The JSON API (flask-smorest): participant endpoints and admin endpoints, one OpenAPI spec.

The spec is served at /openapi.json and Swagger UI at /docs, with its assets from this app.
"""

from flask_smorest import Api

from intact.api import admin

# Each audience has its own blueprint module; register new ones here.
BLUEPRINT_MODULES = (admin,)

API_SETTINGS = {
    "API_TITLE": "INTACT backend",
    "API_VERSION": "2.0",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
}


def init_app(app) -> Api:
    """Create this app's Api (one per app: tests build many) and register every blueprint."""
    for key, value in API_SETTINGS.items():
        app.config.setdefault(key, value)
    api = Api(app)
    for module in BLUEPRINT_MODULES:
        api.register_blueprint(module.bp)
    return api
