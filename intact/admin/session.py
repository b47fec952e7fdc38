"""The dashboard's login cookie: a signed cookie holding a server-side session's id.

What a session means (whose it is, when it ends) is recorded on the server
(intact/accounts/sessions.py); the cookie only carries its random id and the CSRF token.
"""

from datetime import timedelta
from urllib.parse import urlsplit

from flask import request, session
from flask.sessions import SecureCookieSessionInterface

from intact import auth, clients
from intact.accounts import guard, principal, sessions, users


class DashboardSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, marked Secure whenever the request came over https.

    A fixed SESSION_COOKIE_SECURE would either leak the cookie over plain http in a deployment
    or break `make run` on http://127.0.0.1; the request's scheme (X-Forwarded-Proto behind a
    trusted proxy, which gunicorn applies) says which one this is.
    """

    def get_cookie_secure(self, app) -> bool:
        return app.config["SESSION_COOKIE_SECURE"] or request.is_secure


def init_app(app) -> None:
    """Cookie flags and lifetime of the cookie the dashboard and admin endpoints share."""
    app.session_interface = DashboardSessionInterface()
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    # The server decides when a session ends; the cookie's own expiry only keeps browsers from
    # sending a cookie the server would refuse anyway.
    app.config["SESSION_REFRESH_EACH_REQUEST"] = True
    app.permanent_session_lifetime = timedelta(hours=app.config["ADMIN_SESSION_HOURS"])


def log_in(account: users.Account | None) -> None:
    """Start a fresh session for the account (None: the built-in admin), with a new CSRF token.

    Nothing carries over from before the login (no session fixation).
    """
    old = session.get(guard.SESSION_ID_KEY)
    if old:
        sessions.end(old)
    session.clear()
    session.permanent = True
    account_id = account.account_id if account else None
    session_id = sessions.start(
        account_id, user_agent=request.headers.get("User-Agent", ""), client=clients.address()
    )
    session[guard.SESSION_ID_KEY] = session_id
    auth.csrf_token()
    who = (
        principal.for_account(account, session_id)
        if account
        else principal.builtin(principal.SESSION, session_id)
    )
    principal.set_current(who)


def log_out() -> None:
    """End this session on the server and forget everything the cookie held."""
    sessions.end(session.get(guard.SESSION_ID_KEY))
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
