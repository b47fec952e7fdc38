"""Keyed pseudonyms: the same participant (or study, or test) gets the same code in every file.

A pseudonym is HMAC-SHA-256 (RFC 2104, FIPS 198-1) of the identifier under the deployment's
`PSEUDONYM_KEY`, cut to its first 80 bits and written as 20 lower-case hex digits after a letter
saying what it names: `p3f9c…` (participant), `s…` (study), `t…` (test). Without the key nobody
can compute it from a guessed id or reverse it (what a plain hash would allow: participant ids
are short and guessable); with the same key it never changes, so a de-identified baseline and
follow-up downloaded months apart still link up. 80 bits make an accidental collision between two
of a million participants about 4·10⁻¹³ likely.

Each kind has its own message prefix (domain separation), so a participant and a study with the
same text never share a code.
"""

import hashlib
import hmac

from flask import current_app
from werkzeug.exceptions import NotImplemented  # noqa: A004 - the 501 error class

KEY_SETTING = "PSEUDONYM_KEY"
HEX_DIGITS = 20
# The kinds of identifier, the letter their pseudonyms start with, and their HMAC message prefix.
PARTICIPANT, STUDY, TEST = "p", "s", "t"
_DOMAINS = {
    PARTICIPANT: b"intact participant\x00",
    STUDY: b"intact study\x00",
    TEST: b"intact test\x00",
}


MISSING_KEY_MESSAGE = (
    "De-identified exports need PSEUDONYM_KEY set on the server (README, Configuration): ask "
    "whoever runs it."
)


class PseudonymKeyMissing(NotImplemented):
    """PSEUDONYM_KEY is not set: no de-identified export can be made (501, with the message)."""

    def __init__(self, message: str = MISSING_KEY_MESSAGE):
        super().__init__(description=message)


def is_available(config=None) -> bool:
    """True when the app has a PSEUDONYM_KEY (always in local mode, where one is generated)."""
    config = current_app.config if config is None else config
    return bool(config.get(KEY_SETTING))


class Pseudonymiser:
    """Pseudonyms under one key; remembers the identifiers it has coded (they repeat in a file).

    Raises PseudonymKeyMissing when made without a key.
    """

    CACHE_SIZE = 65_536

    def __init__(self, key: str | None = None):
        key = current_app.config.get(KEY_SETTING) if key is None else key
        if not key:
            raise PseudonymKeyMissing(MISSING_KEY_MESSAGE)
        self._key = key.encode()
        self._cache: dict[tuple[str, str], str] = {}

    def code(self, kind: str, identifier) -> str | None:
        """The pseudonym of one identifier of this kind; None for a missing one."""
        if identifier is None or identifier == "":
            return None
        text = str(identifier)
        found = self._cache.get((kind, text))
        if found is None:
            digest = hmac.new(self._key, _DOMAINS[kind] + text.encode(), hashlib.sha256)
            found = kind + digest.hexdigest()[:HEX_DIGITS]
            if len(self._cache) >= self.CACHE_SIZE:
                self._cache.clear()
            self._cache[(kind, text)] = found
        return found

    def participant(self, participant_id) -> str | None:
        """`p` + 20 hex digits."""
        return self.code(PARTICIPANT, participant_id)

    def study(self, study_id) -> str | None:
        """`s` + 20 hex digits."""
        return self.code(STUDY, study_id)

    def test(self, test_id) -> str | None:
        """`t` + 20 hex digits."""
        return self.code(TEST, test_id)
