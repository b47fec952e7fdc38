"""The dashboard's login session: a signed cookie that ends after ADMIN_SESSION_HOURS idle."""

from datetime import timedelta
from urllib.parse import urlsplit

from flask import request, session
from flask.sessions import SecureCookieSessionInterface

from intact import auth


class DashboardSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, marked Secure whenever the request came over https.

    A fixed SESSION_COOKIE_SECURE would either leak the cookie over plain http in a deployment
    or break `make run` on http://127.0.0.1; the request's scheme (X-Forwarded-Proto behind a
    trusted proxy, which gunicorn applies) says which one this is.
    """

    def get_cookie_secure(self, app) -> bool:
        return app.config["SESSION_COOKIE_SECURE"] or request.is_secure


def init_app(app) -> None:
    """Cookie flags and idle expiry for the session the dashboard and admin endpoints share."""
    app.session_interface = DashboardSessionInterface()
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    # A permanent session is re-signed with a fresh timestamp on every request, and the signature
    # is refused once older than the lifetime: so the lifetime is an idle timeout, checked on the
    # server whatever the browser does with the cookie's expiry date.
    app.config["SESSION_REFRESH_EACH_REQUEST"] = True
    app.permanent_session_lifetime = timedelta(hours=app.config["ADMIN_SESSION_HOURS"])


def log_in() -> None:
    """Start a fresh admin session, with a new CSRF token (nothing carries over from before)."""
    session.clear()
    session.permanent = True
    session[auth.SESSION_FLAG] = True
    auth.csrf_token()


def log_out() -> None:
    """Forget everything the session held."""
    session.clear()


def safe_next(target, prefix: str) -> str | None:
    """`target` when it is a path inside the dashboard (never another site), else None."""
    if not isinstance(target, str) or not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or target.startswith("//"):
        return None
    if not parts.path.startswith(prefix):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")
