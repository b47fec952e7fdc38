"""Named accounts: an e-mail address as the username, a role, a password hash, active or not.

Documents in the `accounts` collection:
    {account_id, email, role, active, password_hash (argon2id, or None before the invite is
     used), created_at, created_by, password_changed_at, deactivated_at, two_factor (see
     twofactor.py), reminders (bool: the daily digest of due follow-ups is wanted),
     reminded_on ("YYYY-MM-DD", the UTC day the last digest was sent)}
Nothing here sends e-mail: intact/reminders/ sends the digest to the accounts that opted in.
"""

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from pymongo.errors import DuplicateKeyError

from intact import db
from intact.accounts import passwords
from intact.accounts.permissions import ADMIN, ROLES

COLLECTION = "accounts"
MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on a forward path, less the angle brackets
# Deliberately loose: one @, something on each side, a dot in the domain, no spaces. The address
# is a username, never written to; a stricter rule would only refuse real addresses.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(ValueError):
    """An account change that cannot be made; the message is for the person who asked."""


class InvalidEmail(AccountError):
    """Not an e-mail address."""


class AccountExists(AccountError):
    """An account with this e-mail address exists already."""


class AccountNotFound(LookupError):
    """No account has this e-mail address or id."""


class LastAdmin(AccountError):
    """The change would leave no active named admin."""


@dataclass(frozen=True)
class Account:
    """An account as the rest of the app sees it: never its password hash or secrets."""

    account_id: str
    email: str
    role: str
    active: bool
    created_at: datetime
    created_by: str | None
    has_password: bool
    two_factor: bool
    password_changed_at: datetime | None = None
    deactivated_at: datetime | None = None
    reminders: bool = False
    reminded_on: str | None = None

    @classmethod
    def from_document(cls, document: dict) -> "Account":
        """Build from a stored document."""
        return cls(
            account_id=document["account_id"],
            email=document["email"],
            role=document["role"],
            active=document.get("active", True),
            created_at=document["created_at"],
            created_by=document.get("created_by"),
            has_password=bool(document.get("password_hash")),
            two_factor=bool((document.get("two_factor") or {}).get("confirmed_at")),
            password_changed_at=document.get("password_changed_at"),
            deactivated_at=document.get("deactivated_at"),
            reminders=bool(document.get("reminders")),
            reminded_on=document.get("reminded_on"),
        )


def normalise_email(text) -> str:
    """The address as stored and looked up: NFC, trimmed, lower-case; raise InvalidEmail.

    Lower-case because people type their address with whatever capitals their phone chose, and
    two accounts differing only by case would be two names for one person.
    """
    if not isinstance(text, str):
        raise InvalidEmail("An e-mail address is needed.")
    email = unicodedata.normalize("NFC", text).strip().lower()
    if not email or len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        raise InvalidEmail(f"{text.strip()[:80]!r} is not an e-mail address.")
    return email


def _check_role(role) -> str:
    if role not in ROLES:
        raise AccountError(f"The role must be one of {', '.join(ROLES)}; got {role!r}.")
    return role


def _collection():
    return db.collection(COLLECTION)


def create_account(email, role, *, password=None, created_by=None) -> Account:
    """Create an account; without a password it waits for its invite link (links.py).

    Raise InvalidEmail, AccountExists, AccountError (unknown role) or passwords.WeakPassword.
    """
    email = normalise_email(email)
    _check_role(role)
    now = datetime.now(UTC)
    document = {
        "account_id": uuid.uuid4().hex,
        "email": email,
        "role": role,
        "active": True,
        "password_hash": None,
        "created_at": now,
        "created_by": created_by,
    }
    if password is not None:
        passwords.check_strength(password, (email,))
        document["password_hash"] = passwords.hash_password(password)
        document["password_changed_at"] = now
    try:
        _collection().insert_one(document)
    except DuplicateKeyError:
        raise AccountExists(f"An account for {email} exists already.") from None
    return Account.from_document(document)


def _find(query: dict) -> dict:
    document = _collection().find_one(query, {"_id": 0})
    if document is None:
        raise AccountNotFound(str(query))
    return document


def find_by_email(email) -> Account:
    """The account with this address (any spelling normalise_email accepts); AccountNotFound."""
    try:
        email = normalise_email(email)
    except InvalidEmail:
        raise AccountNotFound(str(email)) from None
    return Account.from_document(_find({"email": email}))


def get(account_id) -> Account:
    """The account with this id; raise AccountNotFound."""
    if not isinstance(account_id, str):
        raise AccountNotFound(str(account_id))
    return Account.from_document(_find({"account_id": account_id}))


def document(account_id: str) -> dict:
    """The stored document, secrets included, for the modules of this package only."""
    return _find({"account_id": account_id})


def list_accounts() -> list[Account]:
    """Every account, active ones first, then by e-mail address."""
    accounts = [Account.from_document(d) for d in _collection().find({}, {"_id": 0})]
    return sorted(accounts, key=lambda account: (not account.active, account.email))


def authenticate(email, password) -> Account | None:
    """The active account whose password this is, else None (same work for unknown addresses)."""
    try:
        stored = _find({"email": normalise_email(email)})
    except (InvalidEmail, AccountNotFound):
        stored = None
    stored_hash = stored.get("password_hash") if stored else None
    if not passwords.verify(stored_hash, password) or not stored.get("active", True):
        return None
    if passwords.needs_rehash(stored_hash):
        _collection().update_one(
            {"account_id": stored["account_id"]},
            {"$set": {"password_hash": passwords.hash_password(password)}},
        )
    return Account.from_document(stored)


def set_password(account_id: str, password: str) -> Account:
    """Check and store a new password; the caller ends the account's other sessions."""
    account = get(account_id)
    passwords.check_strength(password, (account.email,))
    now = datetime.now(UTC)
    _collection().update_one(
        {"account_id": account_id},
        {"$set": {"password_hash": passwords.hash_password(password), "password_changed_at": now}},
    )
    return get(account_id)


def _active_admins() -> int:
    return _collection().count_documents({"role": ADMIN, "active": True})


def set_role(account_id: str, role: str) -> Account:
    """Change the role (effective at the account's next request); never demote the last admin."""
    _check_role(role)
    account = get(account_id)
    if account.role == ADMIN and role != ADMIN and account.active and _active_admins() <= 1:
        raise LastAdmin("This is the only active admin: make another admin first.")
    _collection().update_one({"account_id": account_id}, {"$set": {"role": role}})
    return get(account_id)


def deactivate(account_id: str) -> Account:
    """Take the account's access away (sessions and tokens stop working at once); keep its record.

    Never the last active admin. The caller ends the account's sessions.
    """
    account = get(account_id)
    if account.role == ADMIN and account.active and _active_admins() <= 1:
        raise LastAdmin("This is the only active admin: make another admin first.")
    _collection().update_one(
        {"account_id": account_id},
        {"$set": {"active": False, "deactivated_at": datetime.now(UTC)}},
    )
    return get(account_id)


def reactivate(account_id: str) -> Account:
    """Give a deactivated account its access back (with the password it had)."""
    get(account_id)
    _collection().update_one(
        {"account_id": account_id}, {"$set": {"active": True, "deactivated_at": None}}
    )
    return get(account_id)


def set_reminders(account_id: str, wanted: bool) -> Account:
    """Switch the account's daily reminder e-mail on or off; AccountNotFound."""
    get(account_id)
    _collection().update_one({"account_id": account_id}, {"$set": {"reminders": bool(wanted)}})
    return get(account_id)


def claim_reminder(account_id: str, day: str) -> bool:
    """Record that `day`'s digest goes to the account, only if none went that day; True if so.

    One conditional update: two `flask reminders send` running at once (a restarted scheduler)
    cannot both send the same day's digest to the same person.
    """
    result = _collection().update_one(
        {"account_id": account_id, "reminded_on": {"$ne": day}}, {"$set": {"reminded_on": day}}
    )
    return result.modified_count == 1


def release_reminder(account_id: str, day: str, previous: str | None) -> None:
    """Undo `claim_reminder` when the e-mail could not be sent, so a later run tries again."""
    _collection().update_one(
        {"account_id": account_id, "reminded_on": day}, {"$set": {"reminded_on": previous}}
    )


def update_two_factor(account_id: str, two_factor: dict | None) -> None:
    """Store the account's two-factor settings (twofactor.py owns their shape)."""
    _collection().update_one({"account_id": account_id}, {"$set": {"two_factor": two_factor}})


def claim_two_factor_step(account_id: str, step: int) -> bool:
    """Record `step` as the last TOTP step used, only if it is later; True when it was."""
    result = _collection().update_one(
        {"account_id": account_id, "two_factor.last_step": {"$lt": step}},
        {"$set": {"two_factor.last_step": step}},
    )
    return result.modified_count == 1


def use_recovery_code(account_id: str, code_hash: str) -> bool:
    """Remove one recovery code's digest; True when it was there (so each code works once)."""
    result = _collection().update_one(
        {"account_id": account_id, "two_factor.recovery_hashes": code_hash},
        {"$pull": {"two_factor.recovery_hashes": code_hash}},
    )
    return result.modified_count == 1
