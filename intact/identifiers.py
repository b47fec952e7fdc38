"""Participant and study ids as people type them: one normalisation for each, used everywhere.

Every place that reads an id — the JSON APIs, the dashboard's URLs, forms, filters and search,
the `flask` commands — passes it through `normalise_participant_id` or `normalise_study_id`, so
what creation stored and what a lookup asks for are the same string. The adapters below bring
the same function to URL rules (`<participant:participant_id>`, `<study:study_id>`), marshmallow
schemas (`ParticipantIdField`, `StudyIdField`) and the CLI (`intact/cli.py`).

- A participant id is 1 to 64 letters or digits in any script (str.isalnum, the original
  backend's rule). It is stored in Unicode NFKC form (UAX #15): "ü" typed as one character or as
  u + combining diaeresis, and "Ｎ1" typed in full-width mode, are the same participant as
  "ü" and "N1". Surrounding spaces and invisible format characters (a zero-width space or BOM
  pasted from a document) are dropped. Case is kept: "p1" and "P1" are two participants.
- A study id is lower-case ASCII letters (intact/studies.py draws them). Phones capitalise the
  first letter and add a trailing space, so a typed id is trimmed and lower-cased (after NFKC,
  which maps full-width letters to ASCII); anything that is still not a stored id is not found.
"""

import unicodedata

from marshmallow import ValidationError, fields
from werkzeug.routing import BaseConverter

MAX_PARTICIPANT_ID_LENGTH = 64
# Shown in messages: a longer value is cut, so an error never echoes a whole pasted document.
SHOWN_CHARACTERS = 40


def _trim(text: str) -> str:
    """Without surrounding whitespace or invisible format characters (Unicode category Cf)."""
    start, end = 0, len(text)
    while start < end and (text[start].isspace() or unicodedata.category(text[start]) == "Cf"):
        start += 1
    while end > start and (text[end - 1].isspace() or unicodedata.category(text[end - 1]) == "Cf"):
        end -= 1
    return text[start:end]


def normalise_participant_id(value):
    """The stored form of a participant id: trimmed, NFKC. Non-text is returned unchanged."""
    if not isinstance(value, str):
        return value
    # Trimmed again after NFKC: it turns an ideographic space (U+3000) into a plain one.
    return _trim(unicodedata.normalize("NFKC", _trim(value)))


def is_participant_id(value) -> bool:
    """True for 1 to MAX_PARTICIPANT_ID_LENGTH letters or digits, in any script (no normalising)."""
    return (
        isinstance(value, str) and 0 < len(value) <= MAX_PARTICIPANT_ID_LENGTH and value.isalnum()
    )


def participant_id_problem(value) -> str | None:
    """Why `value` (already normalised) is not a participant id, in words; None when it is one.

    Names what was seen, so a researcher can find it: 'P-2' has "-", 'Anna Smith' has a space.
    """
    if not isinstance(value, str):
        return f"{value!r} is not text"
    if not value:
        return "is empty"
    if len(value) > MAX_PARTICIPANT_ID_LENGTH:
        return f"has {len(value)} characters (at most {MAX_PARTICIPANT_ID_LENGTH})"
    odd = next((character for character in value if not character.isalnum()), None)
    if odd is None:
        return None
    return f"has {describe_character(odd)}"


def describe_character(character: str) -> str:
    """A character named so that it can be found: a space, a tab, "-", U+200B ZERO WIDTH SPACE."""
    named = {" ": "a space", "\t": "a tab", '"': 'a quotation mark (")'}
    if character in named:
        return named[character]
    if character.isprintable() and not character.isspace():
        return f'"{character}"'
    name = unicodedata.name(character, "a control character")
    return f"U+{ord(character):04X} ({name})"


def shown(value: str) -> str:
    """A value quoted for a message: invisible characters escaped, long values cut."""
    visible = "".join(
        c if c.isprintable() or c == " " else f"\\u{ord(c):04x}" for c in value[:SHOWN_CHARACTERS]
    )
    return f'"{visible}{"…" if len(value) > SHOWN_CHARACTERS else ""}"'


def normalise_study_id(value):
    """The stored form of a typed study id: NFKC, trimmed, lower-case. Non-text is unchanged."""
    if not isinstance(value, str):
        return value
    return normalise_participant_id(value).lower()


# --- adapters: URL rules, marshmallow, CLI -------------------------------------------------------


class ParticipantIdConverter(BaseConverter):
    """`<participant:participant_id>` in a URL rule: the view receives the normalised id.

    A browser on macOS may send "Müller1" decomposed; the page looks up the stored NFKC form.
    """

    def to_python(self, value: str) -> str:
        return normalise_participant_id(value)


class StudyIdConverter(BaseConverter):
    """`<study:study_id>` in a URL rule: the view receives the trimmed, lower-cased id."""

    def to_python(self, value: str) -> str:
        return normalise_study_id(value)


URL_CONVERTERS = {"participant": ParticipantIdConverter, "study": StudyIdConverter}


class ParticipantIdField(fields.String):
    """A participant id in a form or query string: normalised, then checked.

    Its error says what was seen ("'P-2' has \"-\""), like the creation form's.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        text = normalise_participant_id(super()._deserialize(value, attr, data, **kwargs))
        problem = participant_id_problem(text)
        if problem:
            raise ValidationError(
                f"A participant id is 1 to {MAX_PARTICIPANT_ID_LENGTH} letters or digits; "
                f"{shown(text)} {problem}."
            )
        return text


class StudyIdField(fields.String):
    """A study id in a form or query string, normalised as the participant API reads it."""

    def _deserialize(self, value, attr, data, **kwargs):
        return normalise_study_id(super()._deserialize(value, attr, data, **kwargs))


def init_app(app) -> None:
    """Teach the app's URL map the id converters (before any blueprint adds its rules)."""
    app.url_map.converters.update(URL_CONVERTERS)
