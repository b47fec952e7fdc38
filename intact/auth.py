"""Admin authentication: the original `password` form field, or a dashboard session + CSRF token.

Scripts written for the original backend post `password` with every request. The dashboard logs in
once; its session cookie carries `admin` and a CSRF token that every state-changing request must
send back (form field `csrf_token` or header `X-CSRF-Token`, which htmx sends). What a refused
request sees is the caller's business: the admin API answers JSON (`admin_required`), the
dashboard its own login page (intact/admin).
"""

import functools
import hmac
import secrets

from flask import abort, current_app, request, session

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
            abort(401, description=WRONG_PASSWORD_MESSAGE)
        return view(*args, **kwargs)

    return ratelimit.limit_login_attempts(wrapper)
