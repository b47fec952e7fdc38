"""Passwords people choose: argon2id hashes (argon2-cffi) and a strength check (zxcvbn).

Parameters follow the OWASP Password Storage Cheat Sheet's argon2id minimum (m=19 MiB, t=2, p=1):
about 45 ms per hash on this project's 2-core machine. A hash made with other parameters is
re-made at the next successful login (`needs_rehash`).
"""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

MIN_LENGTH = 12  # OWASP ASVS 4.0 V2.1.1
MAX_LENGTH = 256  # bounds the work one login can ask of the server
# zxcvbn's score runs 0 (guessable in seconds) to 4; 3 is "safely unguessable: moderate
# protection from an offline slow-hash attack" in its own documentation.
MIN_SCORE = 3
ZXCVBN_MAX_LENGTH = 72  # zxcvbn refuses longer input; the first 72 characters decide
# Words a password must not be built from, beside the person's own e-mail address.
CONTEXT_WORDS = ("intact", "cognitive", "study", "research", "dashboard", "admin")

_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
# A real hash of a throw-away password: checking it costs what checking a real account costs.
_DUMMY_HASH = _hasher.hash("not a password anyone has: the cost of a login for nobody")


class WeakPassword(ValueError):
    """A password refused by the strength rules; the message says why, for the person typing."""


def check_strength(password: str, user_inputs: tuple[str, ...] = ()) -> None:
    """Raise WeakPassword unless the password is long and hard enough to guess.

    Rules: MIN_LENGTH to MAX_LENGTH characters, and a zxcvbn score of at least MIN_SCORE with the
    person's own e-mail address and this service's words counted as guessable.
    """
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise WeakPassword(f"A password needs at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"A password may have at most {MAX_LENGTH} characters.")
    words = [*CONTEXT_WORDS]
    for text in user_inputs:
        words.append(text)
        words.extend(part for part in text.replace("@", " ").replace(".", " ").split() if part)
    estimate = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=words)
    if estimate["score"] < MIN_SCORE:
        feedback = estimate["feedback"]
        reasons = [feedback.get("warning") or "This password is too easy to guess."]
        reasons.extend(feedback.get("suggestions") or ["Add another word or two."])
        raise WeakPassword(" ".join(reason for reason in reasons if reason))


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string format) to store."""
    return _hasher.hash(password)


def verify(stored_hash: str | None, password) -> bool:
    """True when `password` matches `stored_hash`; with no hash, the same work and False.

    The equal work keeps the answer time from telling whether an account exists.
    """
    if not isinstance(password, str) or not password or len(password) > MAX_LENGTH:
        password = ""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with other parameters than today's."""
    return _hasher.check_needs_rehash(stored_hash)
