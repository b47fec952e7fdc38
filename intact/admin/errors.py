"""HTML error pages for the dashboard (the API answers JSON; researchers get a readable page).

For an htmx request the message is a fragment that htmx puts into the page's message area
(`responseHandling` in base.html sends every 4xx/5xx there), so no table cell fills with an error.
"""

import logging

from flask import make_response, render_template, request, url_for
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from intact.accounts import guard, throttle
from intact.admin import creation, pages
from intact.db import UNAVAILABLE_ERRORS

log = logging.getLogger(__name__)

TITLES = {
    400: "Something in the request was not right",
    403: "This form has expired",
    404: "Not found",
    405: "Not allowed here",
    413: "That file is too large",
    429: "Too many attempts",
    500: "Something went wrong",
    501: "Not set up on this server",
    503: "The database is not reachable",
}
MESSAGES = {
    400: "The address asks for something the dashboard does not understand.",
    403: "For your safety, forms stop working after you log out or log in again. "
    "Reload the page and try once more.",
    404: "There is nothing at this address. Check the link, or start again from the overview.",
    405: "This address does not accept that kind of request.",
    413: "The upload is larger than the server accepts.",
    500: "The server ran into a problem it did not expect. It has been logged; "
    "try again, and tell the people who run this server if it keeps happening.",
    503: "The dashboard cannot reach the database right now, so nothing can be shown or saved. "
    "This is usually brief: wait a moment and reload the page.",
}


def error_page(
    status: int,
    message: str | None = None,
    details: list[str] | None = None,
    title: str | None = None,
):
    """The error as a page, or as a message fragment for htmx."""
    context = {
        "status": status,
        "title": title or TITLES.get(status, "Something went wrong"),
        "message": message or MESSAGES.get(status, ""),
        "details": details or [],
    }
    if not pages.is_htmx():
        return make_response(render_template("admin/error.html", **context), status)
    response = make_response(render_template("admin/partials/_error.html", **context), status)
    # The address that failed must not become the browser's current address.
    response.headers["HX-Push-Url"] = "false"
    return response


def init_blueprint(bp) -> None:
    """Register the dashboard's own handlers: they win over the app's JSON ones for /admin.

    Called by `admin.init_app` before the blueprint is registered. A blueprint keeps its
    handlers for every app it is registered on (tests build many apps), so only the first call
    registers them; Flask refuses changes to a blueprint once registered.
    """
    if bp.error_handler_spec.get(None):
        return

    def _http_error(error):
        # abort(404, description="…") says something specific; werkzeug's default text does not.
        custom = error.description if error.description != type(error).description else None
        # schemas.InvalidQuery names each field's problem.
        return error_page(error.code or 500, custom, getattr(error, "details", None))

    bp.register_error_handler(HTTPException, _http_error)
    # Flask looks for a handler by status code before it looks by class, so an app-wide handler
    # registered for a code (the API's JSON 429, say) would beat the class handler above.
    for status in TITLES:
        if status != 500:
            bp.register_error_handler(status, _http_error)

    @bp.errorhandler(guard.NotAuthenticated)
    def _log_in_first(error):
        if request.endpoint == "dashboard.create_studies_submit":
            # The session ended while the form was open: keep what was typed, create nothing.
            return creation.relogin_form()
        return pages.send_to_login()

    @bp.errorhandler(guard.PermissionDenied)
    def _not_for_this_role(error):
        return error_page(403, error.description, title="Not available with your role")

    @bp.errorhandler(guard.TwoFactorSetupNeeded)
    def _set_up_two_factor_first(error):
        return pages.redirect_to(url_for("dashboard.two_factor_setup"))

    @bp.errorhandler(throttle.TooManyFailures)
    def _too_many_failures(error):
        response = error_page(429, error.description)
        response.headers["Retry-After"] = str(error.retry_after_seconds)
        return response

    @bp.errorhandler(RateLimitExceeded)
    def _too_many_attempts(error):
        retry_after = int(error.limit.limit.get_expiry())
        message = f"{error.description} Wait {retry_after} seconds before the next attempt."
        if request.endpoint == "dashboard.login":
            page = render_template("admin/login.html", error=message, next=None)
            response = make_response(page, 429)
        else:
            response = error_page(429, message)
        response.headers["Retry-After"] = str(retry_after)
        return response

    def _database_down(error):
        log.error("database unavailable: %s", error)
        response = error_page(503)
        response.headers["Retry-After"] = "5"
        return response

    for unavailable in UNAVAILABLE_ERRORS:
        bp.register_error_handler(unavailable, _database_down)

    @bp.errorhandler(Exception)
    def _unexpected(error):
        log.exception("unhandled error in the dashboard")
        return error_page(500)
