"""JSON error answers for the API: a clear message, never an HTML page or a bare 500."""

import logging

from flask import jsonify
from werkzeug.exceptions import HTTPException

from intact.db import UNAVAILABLE_ERRORS

log = logging.getLogger(__name__)

DATABASE_DOWN_MESSAGE = (
    "The database is not reachable right now; nothing was stored. Try again shortly."
)


def error_response(http_status: int, message: str, **details):
    """A JSON error body in the original backend's shape: {"message": ...}, plus any details."""
    response = jsonify({"message": message, **details})
    response.status_code = http_status
    return response


def init_app(app) -> None:
    """Register the app-wide JSON error handlers (after the Api, so these win)."""

    @app.errorhandler(HTTPException)
    def _http_error(error):
        # `abort(code, message=..., errors=...)` (flask-smorest / webargs) leaves its details in
        # error.data; a plain werkzeug error only has its description. Both get a "message".
        data = getattr(error, "data", None) or {}
        details = {"code": error.code, "status": error.name}
        errors = data.get("errors") or data.get("messages")
        if errors:
            details["errors"] = errors
        response = error_response(error.code, data.get("message") or error.description, **details)
        response.headers.update(data.get("headers") or {})
        return response

    def _database_down(error):
        log.error("database unavailable: %s", error)
        response = error_response(503, DATABASE_DOWN_MESSAGE)
        response.headers["Retry-After"] = "5"
        return response

    # Every store's "cannot reach it now" error (db.UNAVAILABLE_ERRORS), not only MongoDB's.
    for unavailable in UNAVAILABLE_ERRORS:
        app.register_error_handler(unavailable, _database_down)

    @app.errorhandler(Exception)
    def _unexpected(error):
        log.exception("unhandled error")
        return error_response(500, "Internal server error; the error was logged.")
