"""Who is asking: a named account (by session or API token) or the built-in ADMIN_PASSWORD admin.

The guard (guard.py) works it out once per request and keeps it on `flask.g`; views, templates
and the audit log read it with `current()`.
"""

from dataclasses import dataclass

from flask import g, has_request_context

from intact.accounts import tokens, users
from intact.accounts.permissions import ADMIN

BUILTIN_LABEL = "built-in admin (ADMIN_PASSWORD)"
SESSION, PASSWORD, TOKEN = "session", "password", "token"


@dataclass(frozen=True)
class Principal:
    """The person (or their token) behind a request.

    `via`: SESSION (dashboard login), PASSWORD (the original form API's `password` field) or
    TOKEN. `scope` is a token's read/write scope, None otherwise (a session may do all its role
    may). `account_id` is None for the built-in admin.
    """

    role: str
    via: str
    account_id: str | None = None
    email: str | None = None
    token_id: str | None = None
    token_name: str | None = None
    scope: str | None = None
    session_id: str | None = None
    two_factor: bool = False

    @property
    def builtin(self) -> bool:
        """True for the shared ADMIN_PASSWORD admin."""
        return self.account_id is None

    @property
    def name(self) -> str:
        """The person, as people read it: an e-mail address or the built-in admin."""
        return self.email or BUILTIN_LABEL

    def audit_fields(self) -> dict:
        """What the audit log stores about who acted."""
        fields = {"who": self.name, "account_id": self.account_id, "via": self.via}
        if self.token_id:
            fields["token"] = {"token_id": self.token_id, "name": self.token_name}
        return fields


def builtin(via: str, session_id: str | None = None) -> Principal:
    """The built-in admin, logged in with ADMIN_PASSWORD."""
    return Principal(role=ADMIN, via=via, session_id=session_id)


def for_account(account: users.Account, session_id: str | None = None) -> Principal:
    """A named account logged in on the dashboard."""
    return Principal(
        role=account.role,
        via=SESSION,
        account_id=account.account_id,
        email=account.email,
        session_id=session_id,
        two_factor=account.two_factor,
    )


def for_token(token: tokens.Token, owner: users.Account) -> Principal:
    """A script using one of `owner`'s API tokens: the owner's current role, the token's scope."""
    return Principal(
        role=owner.role,
        via=TOKEN,
        account_id=owner.account_id,
        email=owner.email,
        token_id=token.token_id,
        token_name=token.name,
        scope=token.scope,
    )


def current() -> Principal | None:
    """The principal of the current request, or None (nobody logged in, or no request)."""
    if not has_request_context():
        return None
    return g.get("principal")


def set_current(principal: Principal | None) -> None:
    """Make `principal` the current request's (the guard, and login, call this)."""
    g.principal = principal
