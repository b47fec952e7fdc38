"""Dashboard sessions recorded on the server, so that ending one takes effect at once everywhere.

The cookie (Flask's signed session) holds only a random session id; the `sessions` collection
holds what it means:
    {session_hash (SHA-256 of the id), session_ref (a public id to end it from a list),
     account_id (None: the built-in ADMIN_PASSWORD admin), password_fingerprint (built-in only),
     created_at, last_seen_at, client, browser, os}
A session is valid while its document exists, it was used within ADMIN_SESSION_HOURS (idle
timeout) and began less than ADMIN_SESSION_MAX_HOURS ago (absolute lifetime, 12 h by default:
OWASP ASVS 4.0 V3.3). Logging out, "log out everywhere", a password change and deactivation
delete documents; a role change needs nothing, since the role is read at every request. A
built-in admin session also ends when ADMIN_PASSWORD (or SECRET_KEY) changes, because its
fingerprint no longer matches.
"""

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app

from intact import db, user_agents
from intact.accounts import keys

COLLECTION = "sessions"
# last_seen_at is written at most this often: the idle timeout is that much less exact, and a
# page with ten fragments does not make ten writes.
TOUCH_EVERY = timedelta(minutes=1)
UNKNOWN = "Unknown"


@dataclass(frozen=True)
class SessionRecord:
    """One active session, as listed to its owner."""

    session_ref: str
    account_id: str | None
    created_at: datetime
    last_seen_at: datetime
    client: str
    browser: str
    os: str


def builtin_fingerprint() -> str:
    """A keyed digest of ADMIN_PASSWORD: changes whenever the password or SECRET_KEY does."""
    return hmac.new(
        current_app.config["SECRET_KEY"].encode(),
        current_app.config["ADMIN_PASSWORD"].encode(),
        hashlib.sha256,
    ).hexdigest()


def browser_and_os(user_agent: str) -> tuple[str, str]:
    """Browser family and operating system family from a User-Agent header (ua-parser)."""
    found = user_agents.device(user_agent)
    browser, system = found.browser, found.os
    return (
        browser if browser != user_agents.OTHER else UNKNOWN,
        system if system != user_agents.OTHER else UNKNOWN,
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def start(account_id: str | None, *, user_agent: str = "", client: str = "") -> str:
    """Record a new session (account_id None: the built-in admin) and return its secret id."""
    session_id = keys.new_key()
    now = datetime.now(UTC)
    browser, system = browser_and_os(user_agent)
    _forget_expired(now)
    db.collection(COLLECTION).insert_one(
        {
            "session_hash": keys.digest(session_id),
            "session_ref": uuid.uuid4().hex,
            "account_id": account_id,
            "password_fingerprint": builtin_fingerprint() if account_id is None else None,
            "created_at": now,
            "last_seen_at": now,
            "client": client,
            "browser": browser,
            "os": system,
        }
    )
    return session_id


def _limits() -> tuple[timedelta, timedelta]:
    """(idle timeout, absolute lifetime) from the settings."""
    config = current_app.config
    return (
        timedelta(hours=config["ADMIN_SESSION_HOURS"]),
        timedelta(hours=config["ADMIN_SESSION_MAX_HOURS"]),
    )


def _forget_expired(now: datetime) -> None:
    """Delete sessions past either limit, so the collection holds only live ones."""
    idle, lifetime = _limits()
    db.collection(COLLECTION).delete_many(
        {"$or": [{"last_seen_at": {"$lt": now - idle}}, {"created_at": {"$lt": now - lifetime}}]}
    )


def find_valid(session_id, now: datetime | None = None) -> dict | None:
    """The session's document if it is still valid (and note that it was used); else None.

    An invalid session's document is deleted, so it cannot come back to life.
    """
    if not isinstance(session_id, str) or not session_id:
        return None
    now = now or datetime.now(UTC)
    collection = db.collection(COLLECTION)
    found = collection.find_one({"session_hash": keys.digest(session_id)}, {"_id": 0})
    if found is None:
        return None
    idle, lifetime = _limits()
    last_seen = _aware(found["last_seen_at"])
    expired = now - last_seen >= idle or now - _aware(found["created_at"]) >= lifetime
    builtin_changed = found["account_id"] is None and not keys.same(
        found.get("password_fingerprint") or "", builtin_fingerprint()
    )
    if expired or builtin_changed or (found["account_id"] is None and not builtin_enabled()):
        collection.delete_one({"session_hash": found["session_hash"]})
        return None
    if now - last_seen >= TOUCH_EVERY:
        collection.update_one(
            {"session_hash": found["session_hash"]}, {"$set": {"last_seen_at": now}}
        )
        found["last_seen_at"] = now
    return found


def builtin_enabled() -> bool:
    """True while the shared ADMIN_PASSWORD is switched on (ADMIN_PASSWORD_ENABLED)."""
    return bool(current_app.config["ADMIN_PASSWORD_ENABLED"])


def end(session_id) -> None:
    """End one session by its secret id (logout)."""
    if isinstance(session_id, str) and session_id:
        db.collection(COLLECTION).delete_one({"session_hash": keys.digest(session_id)})


def end_by_ref(account_id: str | None, session_ref: str) -> bool:
    """End one of this account's sessions by its public ref; True when there was one."""
    result = db.collection(COLLECTION).delete_one(
        {"account_id": account_id, "session_ref": str(session_ref)}
    )
    return result.deleted_count == 1


def end_all(account_id: str | None, keep: str | None = None) -> int:
    """End every session of the account (None: of the built-in admin), except `keep`'s id."""
    query = {"account_id": account_id}
    if keep:
        query["session_hash"] = {"$ne": keys.digest(keep)}
    return db.collection(COLLECTION).delete_many(query).deleted_count


def active(account_id: str | None, now: datetime | None = None) -> list[SessionRecord]:
    """The account's sessions that are still valid, most recently used first."""
    now = now or datetime.now(UTC)
    idle, lifetime = _limits()
    records = []
    for found in db.collection(COLLECTION).find({"account_id": account_id}, {"_id": 0}):
        created, seen = _aware(found["created_at"]), _aware(found["last_seen_at"])
        if now - seen >= idle or now - created >= lifetime:
            continue
        records.append(
            SessionRecord(
                session_ref=found["session_ref"],
                account_id=account_id,
                created_at=created,
                last_seen_at=seen,
                client=found.get("client") or "",
                browser=found.get("browser") or UNKNOWN,
                os=found.get("os") or UNKNOWN,
            )
        )
    return sorted(records, key=lambda record: record.last_seen_at, reverse=True)


def ref_of(session_id: str) -> str | None:
    """The public ref of the session with this secret id (to mark "this session" in a list)."""
    found = db.collection(COLLECTION).find_one(
        {"session_hash": keys.digest(session_id)}, {"session_ref": 1}
    )
    return found["session_ref"] if found else None
