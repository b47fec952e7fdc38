"""The check before every request: who is asking, and may they use this route?

One `before_request` for the whole app reads the route's declaration (permissions.py), works out
the principal, and refuses what the table does not allow. Refusals are exceptions, so each
audience answers in its own way: the API's JSON error handlers (intact/errors.py and below), the
dashboard's login bounce and HTML pages (intact/admin/errors.py).

How each kind of route may be reached:
- dashboard (`/admin`): a logged-in session; every POST also carries the session's CSRF token.
- the original admin form API: the `password` form field (ADMIN_PASSWORD, the built-in admin),
  an API token, or a dashboard session with its CSRF token.
- every other JSON route (`/api/v1`): an API token (`Authorization: Bearer …`) or a session.
Wrong passwords and tokens count towards the login throttle (throttle.py); nothing else does.
"""

import logging

from flask import current_app, g, request, session
from werkzeug.exceptions import Forbidden, Unauthorized

from intact import audit, auth
from intact.accounts import permissions, principal, sessions, throttle, tokens, users
from intact.accounts.permissions import ADMIN, PUBLIC, Permission
from intact.errors import error_response

log = logging.getLogger(__name__)

SESSION_ID_KEY = "sid"
DASHBOARD = "dashboard"
# Blueprints whose routes take the original backend's `password` form field.
PASSWORD_FIELD_BLUEPRINTS = frozenset({"admin_api"})
PASSWORD_FIELD = "password"  # noqa: S105 - a form field's name
REALM = "INTACT"
BUILTIN_ADMIN_OFF = (
    "The shared admin password is switched off here: use an API token (Authorization: Bearer)."
)
NEEDS_CREDENTIALS = "Log in, or send an API token: Authorization: Bearer <token>."


class NotAuthenticated(Unauthorized):
    """401: no credentials, or wrong ones. `reason` names a refused token's fault."""

    def __init__(self, description: str, *, bearer_error: str | None = None, reason=None):
        super().__init__(description)
        self.bearer_error = bearer_error
        self.reason = reason


class PermissionDenied(Forbidden):
    """403: logged in, but the role (or the token's scope) does not allow this route."""


class CsrfTokenMissing(Forbidden):
    """403: a session's state-changing request without the session's CSRF token."""


class TwoFactorSetupNeeded(Forbidden):
    """403: an admin who must set up two-factor login before anything else."""


def init_app(app) -> None:
    """Check every request, and answer the API's refusals as JSON."""
    app.before_request(check_request)
    app.register_error_handler(NotAuthenticated, _unauthenticated_json)
    app.register_error_handler(throttle.TooManyFailures, _too_many_failures_json)


def check_request():
    """Refuse the request unless its route's declaration allows the principal; None to go on."""
    if request.url_rule is None:
        return None  # 404 and 405 answer by themselves
    view = current_app.view_functions[request.endpoint]
    declared = permissions.declaration_of(request.endpoint, view)
    if declared == PUBLIC:
        # The dashboard's public pages (login) still know who is logged in; participants'
        # endpoints and static files need no session read.
        principal.set_current(session_principal() if request.blueprint == DASHBOARD else None)
        return None
    if declared is None:
        log.error("route %s declares no permission: refused", request.endpoint)
        raise PermissionDenied(
            "This address declares no permission, so nobody may use it (see "
            "intact/accounts/permissions.py)."
        )
    who = _authenticate()
    if who is None:
        message = WRONG_OR_MISSING_PASSWORD if _takes_password_field() else NEEDS_CREDENTIALS
        raise NotAuthenticated(message)
    principal.set_current(who)
    if must_set_up_two_factor(who) and declared != Permission.OWN_ACCOUNT:
        raise TwoFactorSetupNeeded("Set up two-factor login first.")
    if not permissions.allowed(who, declared):
        raise PermissionDenied(refusal_message(who, declared))
    return None


WRONG_OR_MISSING_PASSWORD = auth.WRONG_PASSWORD_MESSAGE


def refusal_message(who: principal.Principal, permission: Permission) -> str:
    """Why the permission table says no, in words for the person (or script) refused."""
    if who.role in permissions.ROLES_FOR[permission]:
        return (
            f"This API token's scope is {who.scope}: this needs a token with the write scope "
            f"({permission})."
        )
    return f"Your role ({who.role}) does not allow this ({permission})."


def must_set_up_two_factor(who: principal.Principal) -> bool:
    """True for a named admin's session when admins need two-factor login and this one has none."""
    return (
        who.via == principal.SESSION
        and not who.builtin
        and who.role == ADMIN
        and current_app.config["ADMIN_TWO_FACTOR_REQUIRED"]
        and not who.two_factor
    )


def _takes_password_field() -> bool:
    return request.blueprint in PASSWORD_FIELD_BLUEPRINTS


def _authenticate() -> principal.Principal | None:
    """The principal of this request from its credentials; raise NotAuthenticated for wrong ones."""
    if request.blueprint != DASHBOARD and "Authorization" in request.headers:
        return _from_bearer(request.headers["Authorization"])
    from_session = session_principal()
    takes_password = _takes_password_field() and bool(request.form.get(PASSWORD_FIELD))
    if from_session is not None:
        if request.method in auth.SAFE_METHODS or auth.csrf_token_matches():
            return from_session
        if not takes_password:
            raise CsrfTokenMissing(
                "This form has expired (its security token is missing or old). Reload the page."
            )
    if takes_password:
        return _from_password(request.form[PASSWORD_FIELD])
    return None


def _from_bearer(header: str) -> principal.Principal:
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise NotAuthenticated(
            "Send the API token as: Authorization: Bearer <token>.", bearer_error="invalid_request"
        )
    try:
        token, owner = tokens.verify(secret.strip())
    except tokens.TokenRefused as refused:
        throttle.check()
        throttle.record_failure()
        audit.record(audit.TOKEN_REFUSED, reason=refused.reason, endpoint=request.endpoint)
        raise NotAuthenticated(
            refused.message, bearer_error="invalid_token", reason=refused.reason
        ) from None
    return principal.for_token(token, owner)


def _from_password(password: str) -> principal.Principal:
    """The built-in admin, when the form's `password` is ADMIN_PASSWORD (counted when wrong)."""
    if not sessions.builtin_enabled():
        raise NotAuthenticated(BUILTIN_ADMIN_OFF)
    throttle.check()
    if auth.password_matches(password):
        return principal.builtin(principal.PASSWORD)
    throttle.record_failure()
    audit.record(audit.ADMIN_PASSWORD_REFUSED, endpoint=request.endpoint)
    raise NotAuthenticated(auth.WRONG_PASSWORD_MESSAGE)


def session_principal() -> principal.Principal | None:
    """Who the request's dashboard session belongs to, if it is still valid (read once)."""
    if "session_principal" in g:
        return g.session_principal
    g.session_principal = found = _read_session()
    return found


def _read_session() -> principal.Principal | None:
    session_id = session.get(SESSION_ID_KEY)
    if not session_id:
        return None
    found = sessions.find_valid(session_id)
    if found is None:
        session.pop(SESSION_ID_KEY, None)
        return None
    if found["account_id"] is None:
        return principal.builtin(principal.SESSION, session_id)
    try:
        account = users.get(found["account_id"])
    except users.AccountNotFound:
        account = None
    if account is None or not account.active:
        sessions.end(session_id)
        session.pop(SESSION_ID_KEY, None)
        return None
    return principal.for_account(account, session_id)


def _unauthenticated_json(error: NotAuthenticated):
    details = {"code": 401, "status": "Unauthorized"}
    if error.reason:
        details["reason"] = error.reason
    response = error_response(401, error.description, **details)
    if not _takes_password_field() or "Authorization" in request.headers:
        # RFC 6750 section 3: how to authenticate, and what was wrong with the token sent.
        challenge = f'Bearer realm="{REALM}"'
        if error.bearer_error:
            challenge += f', error="{error.bearer_error}"'
        response.headers["WWW-Authenticate"] = challenge
    return response


def _too_many_failures_json(error: throttle.TooManyFailures):
    response = error_response(429, error.description, code=429, status="Too Many Requests")
    response.headers["Retry-After"] = str(error.retry_after_seconds)
    return response
