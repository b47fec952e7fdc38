"""Admin authentication: the original `password` form field, or a dashboard session + CSRF token.

Scripts written for the original backend post `password` with every request. The dashboard logs in
once; its session cookie carries `admin` and a CSRF token that every state-changing request must
send back (form field `csrf_token` or header `X-CSRF-Token`, which htmx sends).
"""

import functools
import hmac
import secrets
from urllib.parse import urlencode, urlsplit

from flask import abort, current_app, redirect, request, session, url_for

from intact import audit, ratelimit

SESSION_FLAG = "admin"
CSRF_SESSION_KEY = "csrf_token"
CSRF_FORM_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
WRONG_PASSWORD_MESSAGE = "Wrong admin password"  # noqa: S105 - a message, not a secret
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def password_matches(candidate) -> bool:
    """Compare with ADMIN_PASSWORD in constant time."""
    if not isinstance(candidate, str) or not candidate:
        return False
    expected = current_app.config["ADMIN_PASSWORD"]
    return hmac.compare_digest(candidate.encode(), expected.encode())


def has_admin_session() -> bool:
    """True when the dashboard session is logged in."""
    return session.get(SESSION_FLAG) is True


def csrf_token() -> str:
    """The session's CSRF token, created on first use."""
    token = session.get(CSRF_SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def csrf_token_matches() -> bool:
    """True when the request carries the session's CSRF token."""
    expected = session.get(CSRF_SESSION_KEY)
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FORM_FIELD)
    if not expected or not sent:
        return False
    return hmac.compare_digest(sent.encode(), expected.encode())


def is_admin_request() -> bool:
    """Right password in the form, or a logged-in session (plus its CSRF token to change things)."""
    if password_matches(request.form.get("password")):
        return True
    if not has_admin_session():
        return False
    return request.method in SAFE_METHODS or csrf_token_matches()


def admin_required(view):
    """Answer 401 {"message": "Wrong admin password"} unless the request is an admin's.

    Wrong passwords count towards the client's login rate limit and go to the audit log.
    """

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not is_admin_request():
            if request.form.get("password"):
                audit.record(audit.ADMIN_PASSWORD_REFUSED, endpoint=request.endpoint)
            if _is_dashboard_form():
                return _back_to_login()
            abort(401, description=WRONG_PASSWORD_MESSAGE)
        return view(*args, **kwargs)

    return ratelimit.limit_login_attempts(wrapper)


def _is_dashboard_form() -> bool:
    """A plain form post from a dashboard page: it carries the CSRF field and no password.

    Scripts send `password` and keep getting the JSON 401; a researcher whose session ended while
    a download form was open is better served by the login page than by raw JSON.
    """
    return (
        CSRF_FORM_FIELD in request.form
        and not has_admin_session()
        and "password" not in request.form
        and "HX-Request" not in request.headers
        and "dashboard.login" in current_app.view_functions
    )


def _back_to_login():
    """303 to the dashboard login, coming back to the dashboard page the form was on."""
    dashboard = url_for("dashboard.overview")
    referrer = urlsplit(request.referrer or "")
    came_from = referrer.path if referrer.netloc == request.host else ""
    if not came_from.startswith(dashboard):
        came_from = dashboard
    return redirect(f"{url_for('dashboard.login')}?{urlencode({'next': came_from})}", 303)
