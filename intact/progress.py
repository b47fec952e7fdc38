"""What the dashboard reads: overview numbers, the progress grid, one participant's results.

The overview and the grid read one document per study: each study carries its own counts and dates
(intact/participants/counters.py keeps them up to date with every submission), so their cost does
not grow with the number of tests. Only a participant's page reads that participant's tests.
Nothing here writes.
"""

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from flask import current_app

from intact import db, paging, quarantine, scoring, testtypes
from intact.identifiers import normalise_participant_id
from intact.paging import Page
from intact.participants import followups, schedule
from intact.scoring import QualityRules
from intact.studies import STUDY_FIELDS, STUDY_TYPES, ParticipantNotFound
from intact.testtypes import TEST_TYPES, UNCLASSIFIED

NOT_STARTED = "not_started"
OPENED = "opened"
IN_PROGRESS = "in_progress"
COMPLETE = "complete"
ABANDONED = "abandoned"
STUDY_STATES = (NOT_STARTED, OPENED, IN_PROGRESS, COMPLETE, ABANDONED)
STATE_LABELS = {
    NOT_STARTED: "Not started",
    OPENED: "Opened",
    IN_PROGRESS: "In progress",
    COMPLETE: "Complete",
    ABANDONED: "Abandoned",
}
STATE_DESCRIPTIONS = {
    NOT_STARTED: "The link has not been opened yet.",
    OPENED: "The link was opened, but no test has arrived yet.",
    IN_PROGRESS: "Some of the six tests have arrived.",
    COMPLETE: "All six tests have arrived.",
    ABANDONED: "Opened or started, then no activity for {days} days.",
}

SORTS = ("participant", "participant-desc", "latest", "earliest")
PER_PAGE_CHOICES = (25, 50, 100)

# A study's stored fields plus the counters kept on it (intact/participants/counters.py).
_PROGRESS_FIELDS = (
    *STUDY_FIELDS,
    "submissions",
    "empty_count",
    "refused_count",
    "started_at",
    "last_received_at",
    "completed_at",
    "replaced_by",
    schedule.DUE_DATE_FIELD,
)
# The grid's schedule filter: a schedule state, or "due soon" (the overview's count).
DUE_SOON = "due_soon"
SCHEDULE_FILTERS = {
    DUE_SOON: f"Due in the next {schedule.SOON_DAYS} days",
    **schedule.STATE_LABELS,
}


@dataclass(slots=True)
class StudyProgress:
    """One study with what has arrived for it and the state that follows."""

    study_id: str
    participant_id: str
    study_type: str
    url: str
    created_at: datetime | None
    first_opened_at: datetime | None
    last_seen_at: datetime | None
    followup_number: int | None = None
    # Submissions by test type ("unclassified" too), and those among them with no answers; a
    # type with none is absent.
    received: dict = field(default_factory=dict)
    empty: dict = field(default_factory=dict)
    refused: int = 0
    started_at: datetime | None = None
    last_received_at: datetime | None = None
    completed_at: datetime | None = None
    state: str = NOT_STARTED
    # Closed links (intact/participants/lifecycle.py): the participant withdrew, or this link was
    # deactivated (`replaced_by` the reissued study; `replaces`: the study this one reissues).
    withdrawn_at: datetime | None = None
    deactivated_at: datetime | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    # A follow-up's place in the schedule (due date, schedule state); None for a baseline, a
    # withdrawn participant's follow-up and a deactivated link.
    due: schedule.Due | None = None

    @property
    def label(self) -> str:
        """'Baseline' or 'Follow-up k': the same name on every page and in every export."""
        return followups.label(self.study_type, self.followup_number)

    @property
    def last_activity(self) -> datetime | None:
        """The latest of first opened, last seen and last submission."""
        moments = [m for m in (self.first_opened_at, self.last_seen_at, self.last_received_at) if m]
        return max(moments, default=None)

    @property
    def tests_received(self) -> int:
        """How many of the six tests have arrived at least once."""
        return sum(1 for name in TEST_TYPES if self.received.get(name))

    def only_empty(self, test_type: str) -> bool:
        """True when every submission of this type came with no answers."""
        return 0 < self.received.get(test_type, 0) == self.empty.get(test_type, 0)


class ParticipantProgress:
    """One row of the grid: a participant and their studies, baselines first.

    Built from study documents, it reads them into StudyProgress (with states) only when a filter,
    a sort or the page asks: a grid page of 50 rows out of 2,000 reads 100 studies in full.
    """

    def __init__(
        self, participant_id: str, studies=None, *, documents=(), states=None, schedule_of=None
    ):
        self.participant_id = participant_id
        self._studies = None if studies is None else list(studies)
        self._documents = list(documents)
        self._states = states  # (now, abandoned_after) for the documents' studies
        # (rules, today, all the participant's documents): their follow-ups' schedule, worked
        # out when a filter or the page first asks (`dues`).
        self._schedule_of = schedule_of
        self._dues = None
        if studies is not None:
            self._dues = {s.study_id: s.due for s in self._studies if s.due is not None}

    @property
    def dues(self) -> dict[str, schedule.Due]:
        """{study_id: Due} of the participant's follow-ups (all of them, whatever the filter)."""
        if self._dues is None:
            if self._schedule_of is None:
                self._dues = {}
            else:
                rules, today, documents = self._schedule_of
                self._dues = schedule.participant_schedule(documents, rules, today)
        return self._dues

    @property
    def studies(self) -> list[StudyProgress]:
        """The participant's studies: baselines oldest first, then follow-ups by number."""
        if self._studies is None:
            now, abandoned_after = self._states
            found = []
            for doc in self._documents:
                study = progress_of(doc)
                study.state = study_state(study, now, abandoned_after)
                study.due = self.dues.get(study.study_id)
                found.append(study)
            self._studies = sorted(found, key=_study_order)
        return self._studies

    @property
    def study_ids(self) -> list[str]:
        """The ids of the participant's studies (without reading the studies in full)."""
        if self._studies is not None:
            return [s.study_id for s in self._studies]
        return [doc["study_id"] for doc in self._documents]

    def of_type(self, study_type: str) -> "ParticipantProgress":
        """The same participant with only their studies of one type."""
        if self._studies is not None:
            return ParticipantProgress(self.participant_id, self.studies_of_type(study_type))
        documents = [d for d in self._documents if d.get("study_type") == study_type]
        narrowed = ParticipantProgress(
            self.participant_id,
            documents=documents,
            states=self._states,
            schedule_of=self._schedule_of,
        )
        narrowed._dues = self._dues  # the same participant: worked out once
        return narrowed

    def has_schedule(self, wanted: str, today: date) -> bool:
        """Whether a follow-up of the participant is in this schedule state (or due soon)."""
        if wanted == DUE_SOON:
            return any(schedule.is_due_soon(due, today) for due in self.dues.values())
        return any(due.state == wanted for due in self.dues.values())

    def __bool__(self) -> bool:
        return bool(self._studies if self._studies is not None else self._documents)

    @property
    def withdrawn(self) -> bool:
        """Whether the participant withdrew (every study of theirs says so)."""
        if self._studies is not None:
            return any(s.withdrawn_at for s in self._studies)
        return any(doc.get("withdrawn_at") for doc in self._documents)

    @property
    def last_activity(self) -> datetime | None:
        """The latest activity in any of the participant's studies."""
        return max((s.last_activity for s in self.studies if s.last_activity), default=None)

    def studies_of_type(self, study_type: str) -> list[StudyProgress]:
        """The participant's studies of one type: baselines oldest first, follow-ups by number."""
        return [s for s in self.studies if s.study_type == study_type]

    def study_in(self, column: "StudyColumn") -> StudyProgress | None:
        """The participant's study shown in this column of the grid, if they have one."""
        if column.study_type == "followup":
            return next(
                (
                    s
                    for s in self.studies_of_type("followup")
                    if (s.followup_number or 0) == column.key
                ),
                None,
            )
        baselines = self.studies_of_type(column.study_type)
        return baselines[column.key] if column.key < len(baselines) else None


@dataclass(frozen=True)
class GridQuery:
    """What the researcher asked the grid for: search, filters, order and page."""

    search: str = ""
    study_type: str = ""
    state: str = ""
    # A schedule state of a follow-up (schedule.SCHEDULE_STATES) or DUE_SOON.
    schedule: str = ""
    sort: str = "participant"
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class StudyColumn:
    """A group of six test columns: the n-th baseline, or Follow-up k (its number)."""

    study_type: str
    # Baselines: 0-based position among the participant's baselines. Follow-ups: the number.
    key: int
    label: str


@dataclass
class GridPage:
    """One page of the progress grid: its rows (a Page of participants) and their columns."""

    query: GridQuery
    rows: Page
    columns: list[StudyColumn]
    total_participants: int


@dataclass
class Overview:
    """The numbers on the dashboard's first page."""

    participants: int
    studies: int
    studies_by_type: dict[str, int]
    studies_by_state: dict[str, int]
    tests: int
    tests_by_type: dict[str, int]
    latest_submission_at: datetime | None
    refused: int = 0
    # Follow-ups not done whose window is open or whose due date comes within SOON_DAYS days,
    # and those whose window has closed.
    due_soon: int = 0
    overdue: int = 0
    # Whether any follow-up has a due date (else the schedule is not in use).
    scheduled: bool = False


@dataclass(frozen=True)
class ScoreValue:
    """One derived score of a test: scoring's number, as in summary.csv and the scores pages."""

    column: str  # summary.csv's column, e.g. "crt_rt_mean_correct"
    name: str  # within its test, e.g. "mean RT of correct answers"
    value: float | None
    unit: str  # scoring's unit, e.g. "ms" or "proportion 0–1"
    maximum: int | None = None  # the highest recorded score the schema allows


@dataclass
class TestSummary:
    """A submitted test: its answers as table rows, its scores from intact/scoring.py."""

    test_id: str
    test_type: str
    label: str
    time_started: datetime | None
    received_at: datetime | None
    time_elapsed_milliseconds: int | None
    device_info: str
    notes: str | None
    columns: list[str]
    answers: list[dict]
    scores: list[ScoreValue]
    # Reaction times left out of every RT score as implausible (RT_MIN_MS..RT_MAX_MS).
    implausible_rts: int = 0
    # Whether the study's scores of this type are this submission's (the first one's).
    counts: bool = True
    submission_number: int = 1
    submissions_of_type: int = 1


@dataclass
class StudyResults:
    """A study on the participant page: its progress and every test received for it."""

    progress: StudyProgress
    tests: list[TestSummary]
    refused: int = 0

    @property
    def missing(self) -> list[str]:
        """Labels of the tests not received yet, in battery order."""
        received = {test.test_type for test in self.tests}
        return [test.label for name, test in TEST_TYPES.items() if name not in received]


@dataclass
class ParticipantDetails:
    """Everything the participant page shows."""

    participant_id: str
    studies: list[StudyResults]


def _abandoned_after() -> timedelta:
    return timedelta(days=current_app.config["ABANDONED_AFTER_DAYS"])


def study_state(study: StudyProgress, now: datetime, abandoned_after: timedelta) -> str:
    """Not started, opened, in progress, complete, or abandoned (started, then quiet too long)."""
    if study.tests_received == len(TEST_TYPES):
        return COMPLETE
    started = any(study.received.values())
    if not started and study.first_opened_at is None:
        return NOT_STARTED
    activity = study.last_activity
    if activity is not None and now - activity > abandoned_after:
        return ABANDONED
    return IN_PROGRESS if started else OPENED


def _read(collection: str, query: dict | None, fields: tuple[str, ...]):
    """Documents of a collection with only these fields; never change them (shared, see db).

    All of them: streamed (on the embedded store, mongomock's find() or an aggregation would copy
    every whole document first; on MongoDB it is one scan sending only these fields). A few, by an
    indexed field: find(), which the indexes make quick on every store.
    """
    if query is None:
        return db.stream(collection, None, fields, reuse_decoded=True)
    return db.collection(collection).find(query, {"_id": 0, **dict.fromkeys(fields, 1)})


def progress_of(doc: dict) -> StudyProgress:
    """A study document (with its counters) as the dashboard reads it, state not yet set."""
    return StudyProgress(
        study_id=doc["study_id"],
        participant_id=doc.get("participant_id", ""),
        study_type=doc.get("study_type", ""),
        url=doc.get("url", ""),
        created_at=doc.get("created_at"),
        first_opened_at=doc.get("first_opened_at"),
        last_seen_at=doc.get("last_seen_at"),
        followup_number=doc.get("followup_number"),
        received=doc.get("submissions") or {},
        empty=doc.get("empty_count") or {},
        refused=doc.get("refused_count") or 0,
        started_at=doc.get("started_at"),
        last_received_at=doc.get("last_received_at"),
        completed_at=doc.get("completed_at"),
        withdrawn_at=doc.get("withdrawn_at"),
        deactivated_at=doc.get("deactivated_at"),
        replaced_by=doc.get("replaced_by"),
        replaces=doc.get("replaces"),
    )


def _schedule_rules() -> schedule.Rules:
    return schedule.Rules.from_config(current_app.config)


def _today(now: datetime) -> date:
    return schedule.as_date(now)


def load_progress(now: datetime | None = None, studies_filter: dict | None = None):
    """Every study (or those matching `studies_filter`) with its counts, state and schedule.

    One document per study: the counts are kept on it at submission time. A filter must keep
    each participant's studies together (all or none), as the schedule reads their baselines.
    """
    now = now or datetime.now(UTC)
    abandoned_after = _abandoned_after()
    documents = list(_read("studies", studies_filter, _PROGRESS_FIELDS))
    dues = schedule.schedules(documents, _schedule_rules(), _today(now))
    found = []
    for doc in documents:
        study = progress_of(doc)
        study.state = study_state(study, now, abandoned_after)
        study.due = dues.get(study.study_id)
        found.append(study)
    return found


def overview(now: datetime | None = None) -> Overview:
    """Counts of participants, studies by type and state, tests by type, the latest arrival,
    and follow-ups due soon and overdue."""
    now = now or datetime.now(UTC)
    today = _today(now)
    every_study = load_progress(now)
    tests_by_type = Counter()
    for study in every_study:
        tests_by_type.update(study.received)
    # A deactivated link is no longer a study to run: the one reissuing it is counted instead.
    studies = [s for s in every_study if not s.deactivated_at]
    ordered_tests = {name: tests_by_type[name] for name in TEST_TYPES}
    ordered_tests[UNCLASSIFIED] = tests_by_type[UNCLASSIFIED]
    by_type = Counter(s.study_type for s in studies)
    by_state = Counter(s.state for s in studies)
    return Overview(
        participants=len({s.participant_id for s in studies}),
        studies=len(studies),
        studies_by_type={name: by_type[name] for name in STUDY_TYPES},
        studies_by_state={name: by_state[name] for name in STUDY_STATES},
        tests=sum(tests_by_type.values()),
        tests_by_type=ordered_tests,
        latest_submission_at=max(
            (s.last_received_at for s in every_study if s.last_received_at), default=None
        ),
        refused=quarantine.count_refused(),
        due_soon=sum(1 for s in studies if s.due and schedule.is_due_soon(s.due, today)),
        overdue=sum(1 for s in studies if s.due and s.due.state == schedule.OVERDUE),
        scheduled=any(s.due and s.due.due_date for s in studies),
    )


def _natural_key(text: str):
    """Sort P2 before P10: digits compare as numbers."""
    return [
        (0, int(part), "") if part.isdigit() else (1, 0, part.lower())
        for part in re.split(r"(\d+)", text)
        if part
    ]


def _study_order(study: StudyProgress):
    created = study.created_at or datetime.min.replace(tzinfo=UTC)
    return (
        STUDY_TYPES.index(study.study_type) if study.study_type in STUDY_TYPES else 99,
        study.followup_number or 0,
        created,
        study.study_id,
    )


def group_by_participant(studies: list[StudyProgress]) -> list[ParticipantProgress]:
    """One ParticipantProgress per participant: baselines oldest first, follow-ups by number."""
    grouped = defaultdict(list)
    for study in studies:
        grouped[study.participant_id].append(study)
    return [
        ParticipantProgress(participant_id, sorted(its_studies, key=_study_order))
        for participant_id, its_studies in grouped.items()
    ]


def participants(now: datetime | None = None) -> list[ParticipantProgress]:
    """Every participant with their open or used links (deactivated ones left out), each read
    into StudyProgress only when used.

    Each follow-up's due date and schedule state are worked out from all the participant's
    documents (a deactivated baseline's start still counts) when first asked: a schedule filter
    asks for everyone's, a page for its rows'.
    """
    now = now or datetime.now(UTC)
    states = (now, _abandoned_after())
    rules, today = _schedule_rules(), _today(now)
    grouped, every = defaultdict(list), defaultdict(list)
    for doc in _read("studies", None, _PROGRESS_FIELDS):
        every[doc.get("participant_id", "")].append(doc)
        if doc.get("deactivated_at"):
            # A deactivated link is not a column of the grid: the study reissuing it is.
            continue
        grouped[doc.get("participant_id", "")].append(doc)
    return [
        ParticipantProgress(
            participant_id,
            documents=documents,
            states=states,
            schedule_of=(rules, today, every[participant_id]),
        )
        for participant_id, documents in grouped.items()
    ]


def _matches(participant: ParticipantProgress, search: str) -> bool:
    # Normalised as ids are (a decomposed "ü" finds "Müller1"), then compared without case.
    needle = normalise_participant_id(search).lower()
    return needle in participant.participant_id.lower() or any(
        needle in study_id.lower() for study_id in participant.study_ids
    )


def _sort_rows(rows: list[ParticipantProgress], sort: str) -> list[ParticipantProgress]:
    by_name = sorted(rows, key=lambda r: _natural_key(r.participant_id))
    if sort == "participant-desc":
        return by_name[::-1]
    if sort in ("latest", "earliest"):
        active = [r for r in by_name if r.last_activity]
        quiet = [r for r in by_name if not r.last_activity]
        active.sort(key=lambda r: r.last_activity, reverse=sort == "latest")
        # Participants with no activity at all come last either way: there is no time to order.
        return active + quiet
    return by_name


def _columns_for(rows: list[ParticipantProgress]) -> list[StudyColumn]:
    """Baseline columns by position, then one column per follow-up number on the page."""
    slots = max((len(r.studies_of_type("baseline")) for r in rows), default=0)
    columns = [
        StudyColumn("baseline", i, "Baseline" if slots == 1 else f"Baseline {i + 1}")
        for i in range(slots)
    ]
    numbers = sorted({s.followup_number or 0 for r in rows for s in r.studies_of_type("followup")})
    columns += [
        StudyColumn("followup", number, followups.label("followup", number)) for number in numbers
    ]
    return columns


def progress_grid(query: GridQuery, now: datetime | None = None) -> GridPage:
    """The page of participants the query asks for, with the study columns that page needs."""
    now = now or datetime.now(UTC)
    everyone = participants(now)
    rows = everyone
    if query.schedule:
        today = _today(now)
        rows = [r for r in rows if r.has_schedule(query.schedule, today)]
    if query.study_type:
        rows = [r.of_type(query.study_type) for r in rows]
        rows = [r for r in rows if r]
    if query.search:
        rows = [r for r in rows if _matches(r, query.search)]
    if query.state:
        rows = [r for r in rows if any(s.state == query.state for s in r.studies)]
    shown = paging.page_of(_sort_rows(rows, query.sort), query.page, query.per_page)
    return GridPage(
        query=query,
        rows=shown,
        columns=_columns_for(shown.items),
        total_participants=len(everyone),
    )


def summarise_test(doc: dict, score: scoring.TestScore, counts: bool = True) -> TestSummary:
    """A stored test as the participant page shows it: its answers, and `score` (scoring's
    TestScore of the same document: the numbers of summary.csv and the scores pages)."""
    kind = TEST_TYPES.get(doc.get("test_type"))
    result = doc.get("result")
    answers = result if isinstance(result, list) else [result] if isinstance(result, dict) else []
    columns = kind.field_names if kind else []
    scores = [
        ScoreValue(
            column,
            scoring.score_name(column),
            value,
            scoring.score_unit(column),
            kind.max_score if column == kind.score_field else None,
        )
        for column, value in score.scores.items()
    ]
    return TestSummary(
        test_id=doc.get("test_id", ""),
        test_type=doc.get("test_type", UNCLASSIFIED),
        label=testtypes.label(doc.get("test_type")),
        time_started=doc.get("time_started"),
        received_at=doc.get("received_at"),
        time_elapsed_milliseconds=doc.get("time_elapsed_milliseconds"),
        device_info=doc.get("device_info") or "",
        notes=doc.get("notes"),
        columns=columns,
        answers=[{name: a.get(name) for name in columns} for a in answers if isinstance(a, dict)],
        scores=scores,
        implausible_rts=score.flags.get("implausible_rt", 0),
        counts=counts,
    )


def study_results(study: StudyProgress, docs: list[dict], rules: QualityRules) -> StudyResults:
    """A study's tests in battery order, each type's submissions in scoring's order
    (`scoring.submission_order`: the first is the one whose scores count)."""
    summary = scoring.summarise_study({}, docs, rules)
    by_id = {doc.get("test_id"): doc for doc in docs}
    per_type = Counter(test.test_type for test in summary.tests)
    seen = Counter()
    tests = []
    for score in summary.tests:
        seen[score.test_type] += 1
        shown = summarise_test(
            by_id[score.test_id], score, counts=summary.scored.get(score.test_type) is score
        )
        shown.submission_number = seen[score.test_type]
        shown.submissions_of_type = per_type[score.test_type]
        tests.append(shown)
    battery = list(TEST_TYPES)
    # A stable sort: within a type, the submissions stay in scoring's order.
    tests.sort(key=lambda t: battery.index(t.test_type) if t.test_type in battery else len(battery))
    return StudyResults(study, tests, quarantine.count_refused(study.study_id))


def participant_details(participant_id: str, now: datetime | None = None) -> ParticipantDetails:
    """A participant's studies, each with its tests in battery order; or ParticipantNotFound."""
    if not isinstance(participant_id, str) or not participant_id:
        raise ParticipantNotFound(participant_id)
    studies = load_progress(now, {"participant_id": participant_id})
    if not studies:
        raise ParticipantNotFound(participant_id)
    docs_by_study = defaultdict(list)
    for doc in db.tests().find({"study_id": {"$in": [s.study_id for s in studies]}}, {"_id": 0}):
        docs_by_study[doc["study_id"]].append(doc)
    rules = QualityRules.from_config(current_app.config)
    return ParticipantDetails(
        participant_id,
        [
            study_results(study, docs_by_study[study.study_id], rules)
            for study in sorted(studies, key=_study_order)
        ],
    )


def batch_studies(batch_id: str, *, page: int = 1, per_page: int = paging.DEFAULT_PER_PAGE) -> Page:
    """One page of the studies one creation batch made, in creation order (empty: no batch)."""
    if not isinstance(batch_id, str) or not batch_id:
        return paging.page_of([], page, per_page)
    # A batch is at most MAX_STUDIES_PER_REQUEST small documents: read whole, then paged.
    every = list(db.stream("studies", {"batch_id": batch_id}, STUDY_FIELDS))
    return paging.page_of(every, page, per_page)
