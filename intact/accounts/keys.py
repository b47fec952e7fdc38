"""Random secrets handed out once (links, API tokens, session ids, recovery codes), and digests.

These secrets are long random strings, not passwords a person chose: a fast SHA-256 digest is
enough to store them (OWASP Password Storage Cheat Sheet: slow hashes are for low-entropy input),
and looking one up by its digest is a plain indexed query.
"""

import hashlib
import hmac
import secrets


def new_key(prefix: str = "", nbytes: int = 32) -> str:
    """A URL-safe random key with `nbytes` of entropy (256 bits by default), after `prefix`."""
    return prefix + secrets.token_urlsafe(nbytes)


def digest(key: str) -> str:
    """The SHA-256 hex digest of a key: what is stored instead of the key itself."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def same(a: str, b: str) -> bool:
    """Compare two strings in constant time."""
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )
