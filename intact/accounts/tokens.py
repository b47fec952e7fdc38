"""Personal API tokens for scripts: named, scope read or write, expiring, shown once, revocable.

A token is `intact_` + 43 random URL-safe characters (256 bits); the prefix lets secret scanners
and people recognise one. Only its SHA-256 digest is stored. Documents in `api_tokens`:
    {token_id, token_hash, account_id, name, scope, created_at, expires_at, last_used_at,
     revoked_at, revoked_by}
A token acts as its owner with the owner's current role, narrowed by its scope (permissions.py);
it stops working when it expires, is revoked, or its owner is deactivated.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from intact import db
from intact.accounts import keys, users
from intact.accounts.permissions import TOKEN_SCOPES

COLLECTION = "api_tokens"
PREFIX = "intact_"
DEFAULT_DAYS = 90
MAX_DAYS = 366
MAX_NAME_LENGTH = 100
USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often

# Why a token was refused, as the 401 names it.
BAD, EXPIRED, REVOKED, DEACTIVATED = "bad", "expired", "revoked", "owner deactivated"
REFUSAL_MESSAGES = {
    BAD: "Bad API token: no token matches it. Check that it was copied whole.",
    EXPIRED: "Expired API token: create a new one on your My account page.",
    REVOKED: "Revoked API token: create a new one on your My account page.",
    DEACTIVATED: "The API token's owner was deactivated: the token no longer works.",
}


class TokenRefused(Exception):
    """A token that cannot be used; `reason` is one of BAD, EXPIRED, REVOKED, DEACTIVATED."""

    def __init__(self, reason: str):
        super().__init__(REFUSAL_MESSAGES[reason])
        self.reason = reason
        self.message = REFUSAL_MESSAGES[reason]


class InvalidToken(ValueError):
    """Token settings that cannot be used (name, scope, days); the message says why."""


@dataclass(frozen=True)
class Token:
    """A token's record, as listed (never the token itself)."""

    token_id: str
    account_id: str
    name: str
    scope: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_document(cls, document: dict) -> "Token":
        """Build from a stored document."""
        return cls(
            **{name: document.get(name) for name in cls.__dataclass_fields__},
        )

    @property
    def expired(self) -> bool:
        """True once expires_at has passed."""
        return datetime.now(UTC) >= _aware(self.expires_at)

    @property
    def usable(self) -> bool:
        """True when neither revoked nor expired."""
        return self.revoked_at is None and not self.expired


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def create(account_id: str, name: str, scope: str, days: int = DEFAULT_DAYS) -> tuple[str, Token]:
    """Make a token for the account; return (the token, shown this once, its record)."""
    account = users.get(account_id)
    if not account.active:
        raise InvalidToken("A deactivated account cannot get tokens.")
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidToken(f"A token needs a name of 1 to {MAX_NAME_LENGTH} characters.")
    if scope not in TOKEN_SCOPES:
        raise InvalidToken(f"The scope must be {' or '.join(TOKEN_SCOPES)}; got {scope!r}.")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidToken(f"A token lasts 1 to {MAX_DAYS} days; got {days!r}.")
    secret = keys.new_key(PREFIX)
    now = datetime.now(UTC)
    document = {
        "token_id": uuid.uuid4().hex,
        "token_hash": keys.digest(secret),
        "account_id": account_id,
        "name": name,
        "scope": scope,
        "created_at": now,
        "expires_at": now + timedelta(days=days),
        "last_used_at": None,
        "revoked_at": None,
    }
    db.collection(COLLECTION).insert_one(document)
    return secret, Token.from_document(document)


def verify(secret) -> tuple[Token, users.Account]:
    """The token and its owner, noting the use; raise TokenRefused naming why not."""
    if not isinstance(secret, str) or not secret.startswith(PREFIX):
        raise TokenRefused(BAD)
    collection = db.collection(COLLECTION)
    found = collection.find_one({"token_hash": keys.digest(secret)}, {"_id": 0})
    if found is None:
        raise TokenRefused(BAD)
    token = Token.from_document(found)
    if token.revoked_at is not None:
        raise TokenRefused(REVOKED)
    if token.expired:
        raise TokenRefused(EXPIRED)
    try:
        owner = users.get(token.account_id)
    except users.AccountNotFound:
        raise TokenRefused(BAD) from None
    if not owner.active:
        raise TokenRefused(DEACTIVATED)
    now = datetime.now(UTC)
    if token.last_used_at is None or now - _aware(token.last_used_at) >= USED_EVERY:
        collection.update_one({"token_id": token.token_id}, {"$set": {"last_used_at": now}})
    return token, owner


def list_for(account_id: str) -> list[Token]:
    """The account's tokens, newest first (revoked and expired ones too, marked as such)."""
    found = db.collection(COLLECTION).find({"account_id": account_id}, {"_id": 0})
    return sorted((Token.from_document(d) for d in found), key=lambda t: t.created_at, reverse=True)


def revoke(token_id: str, account_id: str | None = None, revoked_by: str | None = None) -> bool:
    """Revoke a token (only the account's own when account_id is given); True if one was revoked."""
    query = {"token_id": str(token_id), "revoked_at": None}
    if account_id is not None:
        query["account_id"] = account_id
    result = db.collection(COLLECTION).update_one(
        query, {"$set": {"revoked_at": datetime.now(UTC), "revoked_by": revoked_by}}
    )
    return result.modified_count == 1
