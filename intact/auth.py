"""The two small checks every way of logging in shares: ADMIN_PASSWORD and the CSRF token.

Who may use which route is decided in one place, intact/accounts/guard.py, from the permission
table in intact/accounts/permissions.py. This module only answers two questions for it and for
the login pages: is this the shared admin password, and does this request carry its session's
CSRF token (form field `csrf_token` or header `X-CSRF-Token`, which htmx sends)?
"""

import hmac
import secrets

from flask import current_app, request, session

CSRF_SESSION_KEY = "csrf_token"
CSRF_FORM_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
WRONG_PASSWORD_MESSAGE = "Wrong admin password"  # noqa: S105 - a message, not a secret
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def password_matches(candidate) -> bool:
    """Compare with ADMIN_PASSWORD in constant time (never true while it is switched off)."""
    if not isinstance(candidate, str) or not candidate:
        return False
    if not current_app.config["ADMIN_PASSWORD_ENABLED"]:
        return False
    expected = current_app.config["ADMIN_PASSWORD"]
    return hmac.compare_digest(candidate.encode(), expected.encode())


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
