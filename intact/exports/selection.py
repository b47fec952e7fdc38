"""What a download holds: whose data, which window of time, identifiable or de-identified.

A window is [since, until): the tests the server received from `since` up to `until`. Every
download is cut at `until`, the moment it was asked for: a test that arrives while the file
is being written goes into the next window, never half into this one (its rows in one file and
not in another). With `since` (ISO 8601, inclusive) it holds only what arrived from then on, so
that downloading "since my last download" again and again gives every test exactly once: the
windows meet without a gap or an overlap.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from marshmallow import Schema, ValidationError, fields, validates_schema

from intact import pseudonyms
from intact.timestamps import utc_iso

RECEIVED_AT = "received_at"
FILE_STAMP = "%Y%m%dT%H%M%SZ"


def parse_moment(text) -> datetime:
    """An ISO 8601 date or date-time as an aware UTC datetime; raise ValueError saying why.

    `2026-03-01` is midnight UTC that day; a date-time without an offset is UTC; `Z` and offsets
    such as `+02:00` are honoured; the basic format (`20260301T100000Z`) is accepted too.
    Precision is cut to the millisecond, as the database stores times.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("Give a date or date-time in ISO 8601, e.g. 2026-03-01T09:30:00Z.")
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text[:40]!r} is not an ISO 8601 date or date-time (e.g. 2026-03-01 or "
            "2026-03-01T09:30:00Z)."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def now() -> datetime:
    """This moment in UTC, to the millisecond (what the database keeps)."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Window:
    """Tests received at or after `since` (None: from the start) and before `until`."""

    since: datetime | None
    until: datetime

    @classmethod
    def up_to_now(cls, since: datetime | None = None) -> "Window":
        """From `since` (or the start) to this moment."""
        return cls(since, now())

    def tests_query(self) -> dict:
        """The condition on received_at of the tests in the window.

        Without `since`, a test stored without a receipt time (none are, but hand-made data may
        be) counts as received before any window: `$not $gte` keeps it, `$lt` alone would not.
        """
        if self.since is None:
            return {RECEIVED_AT: {"$not": {"$gte": self.until}}}
        return {RECEIVED_AT: {"$gte": self.since, "$lt": self.until}}

    def holds(self, test: dict) -> bool:
        """Whether this test document was received in the window (the same rule as the query)."""
        received = test.get(RECEIVED_AT)
        if not isinstance(received, datetime):
            return self.since is None
        if received.tzinfo is None:
            received = received.replace(tzinfo=UTC)
        return (self.since is None or received >= self.since) and received < self.until

    @property
    def file_stamp(self) -> str:
        """For file names: `<until>` or `<since>-to-<until>`, e.g. 20260301T000000Z-to-…"""
        until = self.until.strftime(FILE_STAMP)
        return until if self.since is None else f"{self.since.strftime(FILE_STAMP)}-to-{until}"

    def describe(self) -> str:
        """The window in words, for the codebook."""
        until = utc_iso(self.until)
        if self.since is None:
            return (
                f"Every test the server received before {until} (when this download was asked for)."
            )
        return (
            f"Only tests the server received from {utc_iso(self.since)} (inclusive) to {until} "
            "(exclusive, when this download was asked for). A download since "
            f"{until} continues exactly where this one ends."
        )


class Since(fields.Field):
    """A form or query field holding an ISO 8601 date or date-time (see `parse_moment`)."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_moment(value)
        except ValueError as error:
            raise ValidationError(str(error)) from None


@dataclass(frozen=True)
class Selection:
    """Which data a download holds and how: one participant's or everyone's, a window of time,
    identifiable or de-identified (intact/exports/deidentify.py), dates or days since baseline."""

    participant_id: str | None = None
    window: Window | None = None
    deidentified: bool = False
    days_since_baseline: bool = False

    def __post_init__(self):
        if self.window is None:
            object.__setattr__(self, "window", Window.up_to_now())

    @property
    def since(self) -> datetime | None:
        """The window's start, None for everything received so far."""
        return self.window.since

    def participants_query(self) -> dict:
        """The condition on participant_id of every document the download reads."""
        return {} if self.participant_id is None else {"participant_id": self.participant_id}

    def tests_query(self) -> dict:
        """The tests of the download: the participant's (or everyone's), received in the window."""
        return {**self.participants_query(), **self.window.tests_query()}

    def up_to_end_query(self) -> dict:
        """The tests received before the window's end (scores use a touched study's every test)."""
        return {**self.participants_query(), **Window(None, self.window.until).tests_query()}

    def notes(self) -> list[tuple[str, str]]:
        """(topic, text) for the codebook: what holds for every file of this download."""
        found = [("window", self.window.describe())]
        if self.participant_id is not None:
            found.append(("participant", "Only one participant's data."))
        return found

    def file_name(self, stem: str, suffix: str) -> str:
        """<stem>[-<participant>][-deidentified]-<window>.<suffix>: says what the file holds."""
        who = ""
        if self.participant_id:
            # A de-identified file never names the participant, not even in its name.
            named = self.participant_id
            if self.deidentified:
                named = pseudonyms.Pseudonymiser().participant(named)
            who = f"-{named}"
        kind = "-deidentified" if self.deidentified else ""
        return f"{stem}{who}{kind}-{self.window.file_stamp}.{suffix}"


# The form and query fields every download takes (the original form API, the dashboard, /api/v1).
OPTIONS = ("since", "deidentified", "days_since_baseline")


class SelectionSchema(Schema):
    """Download options: a window's start, de-identification, days instead of dates.

    A value that cannot be read is refused with a 400 naming the field (never ignored).
    """

    since = Since(
        load_default=None,
        metadata={
            "description": "Only tests the server received at or after this moment: ISO 8601 "
            "date or date-time, UTC unless it says otherwise (2026-03-01, 2026-03-01T09:30:00Z). "
            "The file name and codebook say the window; it ends when the download was asked for."
        },
    )
    deidentified = fields.Boolean(
        load_default=False,
        metadata={
            "description": "true: participant ids replaced by keyed pseudonyms, study ids and "
            "links removed, browser and OS family only, notes and unknown fields dropped (the "
            "codebook lists every change). Needs PSEUDONYM_KEY on the server."
        },
    )
    days_since_baseline = fields.Boolean(
        load_default=False,
        metadata={
            "description": "With deidentified=true: every date-time becomes days since the "
            "participant's baseline started (the same reference as change.csv)."
        },
    )

    @validates_schema
    def _days_only_when_deidentified(self, data, **kwargs):
        if data.get("days_since_baseline") and not data.get("deidentified"):
            raise ValidationError(
                "Days since baseline replace dates in de-identified downloads only: add "
                "deidentified=true.",
                "days_since_baseline",
            )


def options_of(form: dict) -> dict:
    """The download options a loaded form holds, as keyword arguments for intact/downloads.py."""
    return {name: form[name] for name in OPTIONS if name in form}
