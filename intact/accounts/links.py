"""One-time links to set a password: an invite for a new account, a reset for an existing one.

An admin creates the link and hands it over (nothing is e-mailed). The link's key is stored only
as its SHA-256 digest, works once, and expires LINK_HOURS after it was made (OWASP Forgot
Password Cheat Sheet: single use, short-lived, stored hashed). Making a new link for an account
cancels its earlier unused ones.

Documents in `account_links`: {link_hash, account_id, purpose, created_at, expires_at, used_at,
created_by}.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from intact import db
from intact.accounts import keys, passwords, users

COLLECTION = "account_links"
LINK_HOURS = 72
INVITE, RESET = "invite", "reset"


class LinkNotUsable(LookupError):
    """The link is unknown, used already, expired or cancelled; `reason` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Link:
    """A link just made: the key goes into the URL, shown once."""

    key: str
    account_id: str
    purpose: str
    expires_at: datetime


def create(account_id: str, purpose: str, created_by: str | None = None) -> Link:
    """A new link for the account (earlier unused links of the account stop working)."""
    users.get(account_id)
    now = datetime.now(UTC)
    key = keys.new_key()
    collection = db.collection(COLLECTION)
    collection.update_many(
        {"account_id": account_id, "used_at": None}, {"$set": {"used_at": now, "cancelled": True}}
    )
    expires_at = now + timedelta(hours=LINK_HOURS)
    collection.insert_one(
        {
            "link_hash": keys.digest(key),
            "account_id": account_id,
            "purpose": purpose,
            "created_at": now,
            "expires_at": expires_at,
            "used_at": None,
            "created_by": created_by,
        }
    )
    return Link(key=key, account_id=account_id, purpose=purpose, expires_at=expires_at)


def _find_usable(key) -> dict:
    if not isinstance(key, str) or not key:
        raise LinkNotUsable("unknown")
    found = db.collection(COLLECTION).find_one({"link_hash": keys.digest(key)}, {"_id": 0})
    if found is None:
        raise LinkNotUsable("unknown")
    if found.get("used_at") is not None:
        raise LinkNotUsable("cancelled" if found.get("cancelled") else "used")
    expires_at = found["expires_at"]
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    if datetime.now(UTC) >= expires_at:
        raise LinkNotUsable("expired")
    return found


def peek(key) -> tuple[users.Account, str]:
    """The account and purpose of a usable link, without using it; raise LinkNotUsable."""
    found = _find_usable(key)
    account = users.get(found["account_id"])
    if not account.active:
        raise LinkNotUsable("deactivated")
    return account, found["purpose"]


def use(key, password: str) -> users.Account:
    """Set the account's password through the link, once; raise LinkNotUsable or WeakPassword.

    The password is checked first, so a weak one leaves the link usable for another try.
    """
    account, _purpose = peek(key)
    passwords.check_strength(password, (account.email,))
    # Only one of two racing requests finds the link unused.
    claimed = db.collection(COLLECTION).find_one_and_update(
        {"link_hash": keys.digest(key), "used_at": None},
        {"$set": {"used_at": datetime.now(UTC)}},
    )
    if claimed is None:
        raise LinkNotUsable("used")
    return users.set_password(account.account_id, password)
