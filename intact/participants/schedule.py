"""The follow-up schedule: when each follow-up is due, and whether it is due, overdue or done.

Rules (README, "Follow-up schedule"):

- The k-th follow-up is due `FOLLOWUP_SCHEDULE_DAYS[k-1]` days after the participant's baseline
  was started: the UTC date of the `started_at` counter of their earliest-started baseline study
  that holds at least one test with answers (the baseline change.csv measures from, see
  scoring.BASELINE_RULE). A follow-up numbered beyond the schedule, or of a participant whose
  baseline has not started, has no scheduled due date.
- A withdrawn participant's follow-ups and a deactivated link (`withdrawn_at`, `deactivated_at`
  on the study) have no schedule state: nobody is to be contacted for them; a reissued link takes
  the deactivated one's place, with the same follow-up number and so the same due date.
- A researcher may set a follow-up's due date by hand (`set_due_date`); it wins over the schedule
  until cleared (`clear_due_date`). It is stored on the study document as `due_date` (midnight
  UTC of that date).
- The window: a follow-up may be done from due − FOLLOWUP_WINDOW_DAYS to due + FOLLOWUP_WINDOW_DAYS
  (both days included). Its schedule state on a given UTC day is:
  `done` once all six tests have arrived (the run state "complete"), else `not_yet_due` before
  the window opens, `due` while it is open, `overdue` after it has closed; `unscheduled` when it
  has no due date. Baselines have no schedule state.

Every date here is a UTC calendar date (`datetime.date`): a due date is a day, not a moment, and
time zones play no part. Everything is computed from the study documents alone (their counters),
one document per study, so the grid, the overview, the Due page and the reminder digest cost no
read of any test.
"""

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from flask import current_app

from intact import audit, db, scoring, studies
from intact.testtypes import TEST_TYPES

NOT_YET_DUE = "not_yet_due"
DUE = "due"
OVERDUE = "overdue"
DONE = "done"
UNSCHEDULED = "unscheduled"
SCHEDULE_STATES = (NOT_YET_DUE, DUE, OVERDUE, DONE, UNSCHEDULED)
STATE_LABELS = {
    NOT_YET_DUE: "Not yet due",
    DUE: "Due",
    OVERDUE: "Overdue",
    DONE: "Done",
    UNSCHEDULED: "No due date",
}
STATE_DESCRIPTIONS = {
    NOT_YET_DUE: "The follow-up's window has not opened yet.",
    DUE: "The window is open: the follow-up can be done now.",
    OVERDUE: "The window has closed and the follow-up is not complete.",
    DONE: "All six tests of the follow-up have arrived.",
    UNSCHEDULED: "No due date: the baseline has not started, or the schedule has no date for "
    "this follow-up and none was set by hand.",
}
# "Due soon" on the overview: the window is open or the due date comes within this many days.
SOON_DAYS = 7

DUE_DATE_FIELD = "due_date"
# What the schedule reads of each study document: its own fields and counters, nothing else.
STUDY_FIELDS = (
    "study_id",
    "participant_id",
    "study_type",
    "followup_number",
    "url",
    "started_at",
    "submissions",
    "empty_count",
    DUE_DATE_FIELD,
    "withdrawn_at",
    "deactivated_at",
)
# A follow-up of a withdrawn participant, or a deactivated link (its reissue takes its place in
# the schedule), is nobody's to chase: it has no schedule state.
_OUT_OF_SCHEDULE = ("withdrawn_at", "deactivated_at")


class NotAFollowUp(ValueError):
    """Only a follow-up has a due date: the study is a baseline."""

    def __init__(self, study_id: str):
        self.study_id = study_id
        self.message = f'Study "{study_id}" is a baseline: only follow-ups have due dates.'
        super().__init__(self.message)


@dataclass(frozen=True)
class Rules:
    """The schedule's settings: days after the baseline of each follow-up, and the window."""

    schedule_days: tuple[int, ...] = ()
    window_days: int = 14

    @classmethod
    def from_config(cls, config: Mapping) -> "Rules":
        """The rules of the app's settings (FOLLOWUP_SCHEDULE_DAYS, FOLLOWUP_WINDOW_DAYS; parsed
        and checked by intact/config.py)."""
        return cls(tuple(config["FOLLOWUP_SCHEDULE_DAYS"]), config["FOLLOWUP_WINDOW_DAYS"])


class Due(NamedTuple):
    """A follow-up's place in the schedule on one day: its due date (if any) and state.

    A named tuple: the overview makes one per follow-up, thousands per request.
    """

    due_date: date | None
    state: str
    # True when a researcher set the date by hand (it overrides the schedule).
    set_by_hand: bool = False

    def days_left(self, today: date) -> int | None:
        """Days from `today` to the due date: negative once it has passed; None: no date."""
        return None if self.due_date is None else (self.due_date - today).days


def as_date(value) -> date | None:
    """The UTC calendar date of a stored moment (datetime, naive meaning UTC) or date."""
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    return None


def stored_due_date(day: date) -> datetime:
    """How a date is stored (BSON has no date type): midnight UTC of that day."""
    return datetime.combine(day, time.min, tzinfo=UTC)


# The rules below run for every study on every overview and filtered grid: they take the quick
# path where they can (bench/dashboard.py measures them at 2,000 participants).
_SIX = frozenset(TEST_TYPES)


def _has_answers(doc: Mapping) -> bool:
    """Whether the study holds a test of one of the six types with answers (from its counters)."""
    submissions = doc.get("submissions")
    if not submissions:
        return False
    empty = doc.get("empty_count")
    if not empty:
        return not _SIX.isdisjoint(submissions)
    return any(count > empty.get(name, 0) for name, count in submissions.items() if name in _SIX)


def _complete(doc: Mapping) -> bool:
    # The run state "complete" (progress.study_state): each of the six types has arrived.
    submissions = doc.get("submissions")
    if not submissions or len(submissions) < len(_SIX):
        return False
    return all(submissions.get(name) for name in TEST_TYPES)


def baseline_start(studies: Iterable[Mapping]) -> date | None:
    """The UTC date the participant's baseline was started, from their study documents.

    Their earliest `started_at` among baseline studies holding a test with answers: a baseline
    started twice (two attempts, or a second baseline study) counts from the first start.
    """
    earliest = None
    for doc in studies:
        if doc.get("study_type") != "baseline":
            continue
        started = doc.get("started_at")
        if not isinstance(started, datetime) or not _has_answers(doc):
            continue
        started = _aware(started)
        if earliest is None or started < earliest:
            earliest = started
    return None if earliest is None else as_date(earliest)


def scheduled_due_date(followup_number, started: date | None, rules: Rules) -> date | None:
    """The schedule's due date of Follow-up `followup_number`, or None (no baseline, no entry)."""
    if started is None or not isinstance(followup_number, int) or followup_number < 1:
        return None
    if followup_number > len(rules.schedule_days):
        return None
    return started + timedelta(days=rules.schedule_days[followup_number - 1])


def state_on(due_date: date | None, complete: bool, today: date, window_days: int) -> str:
    """The schedule state on `today` of a follow-up due on `due_date` (see the module's rules)."""
    if complete:
        return DONE
    if due_date is None:
        return UNSCHEDULED
    past_due = today.toordinal() - due_date.toordinal()
    if past_due < -window_days:
        return NOT_YET_DUE
    if past_due <= window_days:
        return DUE
    return OVERDUE


def in_schedule(doc: Mapping) -> bool:
    """Whether a study document has a place in the schedule: a follow-up, neither withdrawn nor
    deactivated."""
    return doc.get("study_type") == "followup" and not any(
        doc.get(name) for name in _OUT_OF_SCHEDULE
    )


def followup_due(doc: Mapping, started: date | None, rules: Rules, today: date) -> Due:
    """The Due of one follow-up document, given its participant's baseline start date."""
    stored = doc.get(DUE_DATE_FIELD)
    by_hand = None if stored is None else as_date(stored)
    due_date = by_hand or scheduled_due_date(doc.get("followup_number"), started, rules)
    state = state_on(due_date, _complete(doc), today, rules.window_days)
    return Due(due_date, state, by_hand is not None)


def participant_schedule(studies: Iterable[Mapping], rules: Rules, today: date) -> dict[str, Due]:
    """{study_id: Due} for each follow-up among one participant's study documents.

    The documents need STUDY_FIELDS; baselines are read for the start date only.
    """
    studies = studies if isinstance(studies, list) else list(studies)
    started = baseline_start(studies)
    return {
        doc["study_id"]: followup_due(doc, started, rules, today)
        for doc in studies
        if in_schedule(doc)
    }


def schedules(documents: Iterable[Mapping], rules: Rules, today: date) -> dict[str, Due]:
    """{study_id: Due} for every follow-up among study documents of any participants."""
    by_participant = defaultdict(list)
    for doc in documents:
        by_participant[doc.get("participant_id")].append(doc)
    found = {}
    for theirs in by_participant.values():
        found.update(participant_schedule(theirs, rules, today))
    return found


def is_due_soon(due: Due, today: date, days: int = SOON_DAYS) -> bool:
    """Due now (window open) or due within `days` days: what the overview counts as due soon."""
    if due.state == DUE:
        return True
    return due.state == NOT_YET_DUE and due.due_date <= today + timedelta(days=days)


def utc_today() -> date:
    """Today's UTC date: the day every schedule state is computed for."""
    return datetime.now(UTC).date()


# --- the due list and the digest (read the store) ------------------------------------------


class DueStudy(NamedTuple):
    """A follow-up on the Due page: whose, which, when, and the link (a credential)."""

    study_id: str
    participant_id: str
    followup_number: int | None
    url: str
    due_date: date
    state: str  # DUE or OVERDUE
    days_left: int  # negative: days overdue
    set_by_hand: bool = False


@dataclass(frozen=True)
class DigestEntry:
    """One due or overdue follow-up in the digest: no study id, no link."""

    participant_id: str
    followup_number: int | None
    due_date: date
    days_left: int


@dataclass(frozen=True)
class Digest:
    """What is due and overdue on `today`, for a reminder: counts and participant ids only.

    `due` and `overdue` list the follow-ups (earliest due date first); a participant with two
    overdue follow-ups appears twice there and once in `overdue_participant_ids`.
    """

    today: date
    window_days: int
    due: tuple[DigestEntry, ...]
    overdue: tuple[DigestEntry, ...]

    @property
    def due_count(self) -> int:
        """How many follow-ups are due (window open, not complete)."""
        return len(self.due)

    @property
    def overdue_count(self) -> int:
        """How many follow-ups are overdue (window closed, not complete)."""
        return len(self.overdue)

    @property
    def due_participant_ids(self) -> tuple[str, ...]:
        """Participants with a due follow-up, each once, in the order of `due`."""
        return tuple(dict.fromkeys(entry.participant_id for entry in self.due))

    @property
    def overdue_participant_ids(self) -> tuple[str, ...]:
        """Participants with an overdue follow-up, each once, in the order of `overdue`."""
        return tuple(dict.fromkeys(entry.participant_id for entry in self.overdue))

    def __bool__(self) -> bool:
        return bool(self.due or self.overdue)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _participant_order(participant_id: str):
    # P2 before P10, as in the progress grid.
    return [
        (0, int(part), "") if part.isdigit() else (1, 0, part.lower())
        for part in re.split(r"(\d+)", participant_id or "")
        if part
    ]


def due_studies(today: date | None = None) -> list[DueStudy]:
    """Every due and overdue follow-up on `today` (UTC; default: today), most overdue first.

    Ordered by due date, then participant (P2 before P10), then follow-up number. Reads one
    document per study, and only their schedule fields. Needs an app context.
    """
    today = today or utc_today()
    rules = Rules.from_config(current_app.config)
    documents = list(db.stream("studies", None, STUDY_FIELDS, reuse_decoded=True))
    by_id = {doc["study_id"]: doc for doc in documents}
    found = []
    for study_id, due in schedules(documents, rules, today).items():
        if due.state not in (DUE, OVERDUE):
            continue
        doc = by_id[study_id]
        found.append(
            DueStudy(
                study_id=study_id,
                participant_id=doc.get("participant_id", ""),
                followup_number=doc.get("followup_number"),
                url=doc.get("url", ""),
                due_date=due.due_date,
                state=due.state,
                days_left=due.days_left(today),
                set_by_hand=due.set_by_hand,
            )
        )
    found.sort(
        key=lambda s: (s.due_date, _participant_order(s.participant_id), s.followup_number or 0)
    )
    return found


def due_digest(today: date | None = None) -> Digest:
    """Counts and participant ids of due and overdue follow-ups on `today` (UTC), for a reminder.

    Never a study id or link: a reminder e-mail must not carry credentials. Needs an app context.
    """
    today = today or utc_today()
    return digest_of(due_studies(today), today)


def digest_of(listed: Iterable[DueStudy], today: date) -> Digest:
    """The digest of a due list (`due_studies(today)`), without its study ids and links."""
    entries = {DUE: [], OVERDUE: []}
    for study in listed:
        entries[study.state].append(
            DigestEntry(
                study.participant_id, study.followup_number, study.due_date, study.days_left
            )
        )
    return Digest(
        today=today,
        window_days=current_app.config["FOLLOWUP_WINDOW_DAYS"],
        due=tuple(entries[DUE]),
        overdue=tuple(entries[OVERDUE]),
    )


# --- due dates set by hand (write, audited) ------------------------------------------------


def _follow_up(study_id) -> dict:
    study = studies.find_study(study_id)  # StudyNotFound; the id normalised as everywhere
    if study.get("study_type") != "followup":
        raise NotAFollowUp(study["study_id"])
    return study


def set_due_date(study_id, day: date) -> dict:
    """Set a follow-up's due date by hand (it wins over the schedule); return the study.

    Raises studies.StudyNotFound or NotAFollowUp. Audited (who, study, participant, date).
    """
    study = _follow_up(study_id)
    db.studies().update_one(
        {"study_id": study["study_id"]}, {"$set": {DUE_DATE_FIELD: stored_due_date(day)}}
    )
    audit.record(
        audit.DUE_DATE_SET,
        study_id=study["study_id"],
        participant_id=study.get("participant_id"),
        due_date=day.isoformat(),
        previous=_iso(as_date(study.get(DUE_DATE_FIELD))),
    )
    return {**study, DUE_DATE_FIELD: stored_due_date(day)}


def clear_due_date(study_id) -> dict:
    """Clear a follow-up's hand-set due date (the schedule's applies again); return the study.

    Raises studies.StudyNotFound or NotAFollowUp. Audited; clearing an unset date changes nothing
    and records nothing.
    """
    study = _follow_up(study_id)
    previous = as_date(study.get(DUE_DATE_FIELD))
    if DUE_DATE_FIELD in study:
        db.studies().update_one({"study_id": study["study_id"]}, {"$unset": {DUE_DATE_FIELD: ""}})
    if previous is not None:
        audit.record(
            audit.DUE_DATE_CLEARED,
            study_id=study["study_id"],
            participant_id=study.get("participant_id"),
            previous=previous.isoformat(),
        )
    study.pop(DUE_DATE_FIELD, None)
    return study


def baseline_starts(participant_id: str | None = None) -> dict[str, date]:
    """{participant_id: their baseline's start date} (one participant's, or everyone's).

    Reads the baseline study documents only, and only the fields the rule needs, grouped by
    participant: one participant's documents are held at a time, so memory grows by one date a
    participant (holding every baseline document was 28 MiB at 20,000 participants). Documents
    whose participant id is not text (none should be) share the key "".
    """
    query = {"study_type": "baseline"}
    if participant_id is not None:
        query["participant_id"] = participant_id
    documents = db.stream("studies", query, STUDY_FIELDS, by="participant_id")
    found = {}
    for pid, theirs in scoring.participant_groups(documents):
        started = baseline_start(theirs)
        if started is not None:
            found[pid] = started
    return found


def study_due(study: Mapping, today: date | None = None) -> Due | None:
    """The Due of one follow-up study document (reads its participant's baselines); None for a
    baseline, a withdrawn participant's follow-up or a deactivated link. Needs an app context."""
    if not in_schedule(study):
        return None
    started = baseline_starts(study.get("participant_id")).get(study.get("participant_id"))
    rules = Rules.from_config(current_app.config)
    return followup_due(study, started, rules, today or utc_today())


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
