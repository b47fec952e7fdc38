"""Scores of the stored studies: summary and change tables read from the database, dashboard data.

The numbers come from intact/scoring.py; this module reads the collections (with `db.stream`,
which holds one raw document at a time). Its tables go into the ZIP and the workbook
(intact/exports/archive.py); summary.csv is also a download of its own.
"""

import pickle
import statistics
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from flask import current_app

from intact import charts, db, exports, paging, scoring
from intact.exports.result_spools import ResultSpools
from intact.participants import followups
from intact.reliable_change import formula, method, sources
from intact.studies import ParticipantNotFound
from intact.testtypes import TEST_TYPES

SUMMARY = "summary"
SUMMARY_FILE = f"{SUMMARY}.csv"
CHANGE = "change"
RELIABLE_CHANGE = "reliable_change"
# change's columns: the ids, then each score's change followed by its RCI, classification, source.
CHANGE_COLUMNS = method.with_rci_columns(scoring.CHANGE_COLUMNS)
# Scores in these units take few whole-number values: charted as bars, not box plots.
DISCRETE_UNITS = ("count", "points")


def quality_rules() -> scoring.QualityRules:
    """The data-quality thresholds this app is configured with."""
    return scoring.QualityRules.from_config(current_app.config)


def iter_participants(participant_id: str | None = None) -> Iterator[list[scoring.StudySummary]]:
    """Each participant's study summaries (or one participant's), participant after participant.

    Studies and tests are read grouped by participant (`db.stream(..., by="participant_id")`), so
    only one participant's scores are held at a time: memory stays flat in the number of tests.
    """
    query = {} if participant_id is None else {"participant_id": participant_id}
    return _summarised(query, query)


def _summarised(studies_query: dict, tests_query: dict, tests=None):
    return scoring.summarise_participants(
        db.stream("studies", studies_query, by="participant_id"),
        tests if tests is not None else db.stream("tests", tests_query, by="participant_id"),
        quality_rules(),
    )


def iter_summaries(participant_id: str | None = None) -> Iterator[scoring.StudySummary]:
    """Every study (or one participant's) with its scores, in participant then study order."""
    for summaries in iter_participants(participant_id):
        yield from summaries


def iter_summary_rows(participant_id: str | None = None) -> Iterator[dict]:
    """The summary table: one row per study, `scoring.SUMMARY_COLUMNS`."""
    for summary in iter_summaries(participant_id):
        yield scoring.summary_row(summary)


def reliable_change_method(scored: Iterable[scoring.StudySummary] | None = None) -> method.Method:
    """The reliable change method in force, its sample estimates from every participant.

    `scored`: every study's summary, when the caller holds them already (a list, read again
    here); otherwise they are read from the database, and only if a score needs them.
    """
    return sources.current_method(
        lambda: scoring.by_participant(iter_summaries() if scored is None else scored)
    )


def change_rows_with_rci(
    summaries: Iterable[scoring.StudySummary], reliable_change: method.Method
) -> Iterator[dict]:
    """`scoring.change_rows` with each score's RCI columns (`CHANGE_COLUMNS`)."""
    for row in scoring.change_rows(summaries):
        row.update(reliable_change.change_cells(row))
        yield row


def iter_change_rows(participant_id: str | None = None) -> Iterator[dict]:
    """The change table: one row per follow-up study, `CHANGE_COLUMNS`.

    The sample estimates always come from every participant, also for one participant's rows.
    """
    # Estimates (kept until the data change) and rows: each a pass grouped by participant.
    reliable_change = reliable_change_method()
    yield from change_rows_with_rci(iter_summaries(participant_id), reliable_change)


class ScoresPass:
    """One read of a download's studies and tests that makes its summary and change tables.

    The summary rows stream out as participants are scored; each participant's change rows go
    meanwhile to a spool (memory up to `SPOOL_BYTES`, then an anonymous temporary file), read back
    when the change table is written after it: one scoring of every test serves both tables, and
    memory stays flat. The same pass notes the field names of the window's tests (the result
    tables' extra columns, `fields_seen`), gathers the reliable change estimates when it reads
    every participant (`sources.SampleCollector`), and, when asked for, keeps each participant's
    baseline start and hands each window test to `results` (the ZIP's result tables, so that a
    test is decoded once) once its participant is scored.

    With a window that starts at `since`, a study is in the tables when it received a test in the
    window, and its scores come from all its tests received before the window's end (never half
    a study: a later window lists it again, with scores from its tests up to then).
    """

    SPOOL_BYTES = 1024 * 1024

    def __init__(
        self,
        selection: exports.Selection,
        baseline_starts: bool = False,
        results: ResultSpools | None = None,
    ):
        self.selection = selection
        self.fields_seen: dict[str, exports.FieldsSeen] | None = None
        self.baseline_starts: dict[str, object] | None = {} if baseline_starts else None
        # Where each test of the window goes once its participant is scored (the ZIP's result
        # tables, `ResultSpools`): after, so that a de-identified row can count days since the
        # participant's baseline.
        self.results = results
        self._spool = None
        self._touched: dict[str, set] = {}
        self._unwritten: dict[str, list] = {}
        self._tests_read = 0

    @property
    def done(self) -> bool:
        """True once the pass has read everything."""
        return self.fields_seen is not None

    def participants(self) -> Iterator[tuple[list, list, list]]:
        """For each participant of the selection: (all their study summaries, those the window
        lists, their change rows the window lists); runs the pass (once)."""
        if self.done:
            raise RuntimeError("the scores pass has run already")
        seen: dict[str, exports.FieldsSeen] = {}
        selection = self.selection
        # Every participant is read when the selection is not one participant's: the reliable
        # change estimates are gathered on the way (their own pass would read everything again).
        sample = sources.SampleCollector() if selection.participant_id is None else None
        tests = db.stream("tests", selection.up_to_end_query(), by="participant_id")
        groups = _summarised(selection.participants_query(), {}, self._observed(tests, seen))
        for participant in groups:
            participant_id = participant[0].participant_id
            if sample is not None:
                for studies in scoring.by_participant(participant):
                    sample.add(studies)
            touched = self._touched.pop(participant_id, set())
            if self.baseline_starts is not None:
                baseline = scoring.baseline_of(participant)
                if baseline is not None and baseline.started_at is not None:
                    self.baseline_starts[participant_id] = baseline.started_at
            self._write_results(participant_id if isinstance(participant_id, str) else "")
            listed = participant
            if selection.since is not None:
                listed = [study for study in participant if study.study_id in touched]
                if not listed:
                    continue
            # A change needs the baseline even when only the follow-up was in the window.
            changes = [
                row
                for row in scoring.participant_change_rows(participant)
                if selection.since is None
                or touched & {row["baseline_study_id"], row["followup_study_id"]}
            ]
            yield participant, listed, changes
        self._write_remaining_results()
        if sample is not None:
            sample.keep(self._tests_read)
        self.fields_seen = exports.finish_fields(seen)

    def _write_results(self, key: str) -> None:
        """Hand one participant's window tests (by `scoring` participant key) to `results`."""
        if self.results is not None:
            for test in self._unwritten.pop(key, ()):
                self.results.add(test)

    def _write_remaining_results(self) -> None:
        """Hand the tests still waiting (their participant key matched no summary) on too."""
        for key in list(self._unwritten):
            self._write_results(key)

    def summary_rows(self) -> Iterator[dict]:
        """The summary table's rows; runs the pass, spooling the change rows for later."""
        # Closed by change_rows once read back (it outlives this generator, so no `with`).
        self._spool = tempfile.SpooledTemporaryFile(max_size=self.SPOOL_BYTES)  # noqa: SIM115
        for _, listed, changes in self.participants():
            for row in changes:
                pickle.dump(row, self._spool, pickle.HIGHEST_PROTOCOL)
            for summary in listed:
                yield scoring.summary_row(summary)

    def _observed(self, tests: Iterable[dict], seen: dict) -> Iterator[dict]:
        """The tests, passed on as read, noting the field names and studies of the window's."""
        holds = self.selection.window.holds
        unwritten = self._unwritten if self.results is not None else None
        for test in tests:
            self._tests_read += 1
            if holds(test):
                exports.note_fields(seen, test)
                key = scoring.participant_key(test)
                self._touched.setdefault(key, set()).add(test.get("study_id"))
                if unwritten is not None:
                    unwritten.setdefault(key, []).append(test)
            yield test

    def run(self) -> None:
        """Read everything without keeping the summary rows (for tables that need the pass)."""
        if not self.done:
            for _ in self.summary_rows():
                pass

    def change_rows(self) -> Iterator[dict]:
        """The change table's rows with their RCI columns, from the spool the pass filled
        (running it first if needed). The method's sample estimates come from every
        participant (`reliable_change_method`, kept until the data change)."""
        self.run()
        spool, self._spool = self._spool, None
        if spool is None:
            return
        reliable_change = reliable_change_method()
        with spool:
            spool.seek(0)
            while True:
                try:
                    # Rows this pass pickled a moment ago into its own anonymous file.
                    row = pickle.load(spool)  # noqa: S301
                except EOFError:
                    return
                row.update(reliable_change.change_cells(row))
                yield row


# --- Tables of the ZIP and the workbook; summary.csv as a download ---------------------------


def summary_table(scores: ScoresPass | None = None) -> exports.Table:
    """summary: one row per study with every test's scores and flags.

    `scores`: the pass that makes the rows (the ZIP shares one with change); by default one of
    everything received so far.
    """
    scores = scores or ScoresPass(exports.Selection())
    columns = _columns(SUMMARY, scoring.summary_codebook(quality_rules()))
    return exports.Table(
        SUMMARY,
        columns,
        lambda convert: _values(columns, scores.summary_rows(), convert),
        primary_key=("study_id",),
        foreign_keys=(("study_id", "studies", "study_id"),),
    )


def change_table(scores: ScoresPass | None = None) -> exports.Table:
    """change: one row per follow-up with each score's change from the baseline and its RCI."""
    scores = scores or ScoresPass(exports.Selection())
    # The codebook names each score's source, which needs no estimate: no pass over the data.
    columns = _columns(CHANGE, change_codebook(sources.current_method(None)))
    # In a window, studies.csv holds the studies the window touched: a follow-up whose change
    # is listed because its baseline changed may not be among them.
    references = (
        ()
        if scores.selection.since is not None
        else (
            ("followup_study_id", "studies", "study_id"),
            ("baseline_study_id", "studies", "study_id"),
        )
    )
    return exports.Table(
        CHANGE,
        columns,
        lambda convert: _values(columns, scores.change_rows(), convert),
        primary_key=("followup_study_id",),
        foreign_keys=references,
    )


def reliable_change_table(participant_id: str | None = None) -> exports.Table:
    """reliable_change: r, SD1, practice and their source per score and follow-up number.

    The same for every participant (`participant_id` is not used): the method is the study's.
    """
    columns = _columns(RELIABLE_CHANGE, _PARAMETER_ENTRIES)
    return exports.Table(
        RELIABLE_CHANGE,
        columns,
        lambda convert: _values(columns, reliable_change_method().parameter_rows(), convert),
    )


def change_codebook(reliable_change: method.Method) -> list[scoring.CodebookEntry]:
    """change.csv's columns, in order: `scoring.change_codebook` with each score's RCI columns."""
    entries = []
    for entry in scoring.change_codebook(quality_rules()):
        entries.append(entry)
        if entry.column.endswith("_change"):
            entries += reliable_change.codebook(entry.column.removesuffix("_change"))
    return entries


# reliable_change.csv's columns: (column, unit, description), in `method.PARAMETER_COLUMNS` order.
_PARAMETER_ENTRIES = tuple(
    scoring.CodebookEntry(column, "", unit, description)
    for column, unit, description in (
        ("score", "text", "the score column of summary.csv and change.csv"),
        ("followup_number", "count", "the follow-up the values apply to; empty: every follow-up"),
        ("source", "source", "where the values came from, or why there are none"),
        ("citation", "text", "publication or normative sample (reference and researcher values)"),
        ("pairs", "count", "participants with a baseline and a follow-up value (sample)"),
        ("r", "number", "test–retest reliability (sample: Pearson r of baseline and follow-up)"),
        ("sd_baseline", "number", "SD1: standard deviation at baseline (n − 1), score's unit"),
        ("practice", "number", "mean change (follow-up − baseline), in the score's unit"),
        ("sem", "number", "standard error of measurement: SD1 · √(1 − r), in the score's unit"),
        ("se_diff", "number", "standard error of the difference: √2 · SEM, in the score's unit"),
        ("decline_is", "text", "increase (reaction times, attempts) or decrease (other scores)"),
        ("confidence_level", "number", "two-sided level of the classification (0.9 is 90 %)"),
        ("critical_z", "number", "an |RCI| above this is a reliable change"),
        ("explanation", "text", "where the values came from, or why there are none, in words"),
    )
)


def summary_csv(selection: exports.Selection | None = None) -> Iterator[bytes]:
    """summary.csv: one row per study with every test's scores and flags."""
    return summary_table(ScoresPass(selection or exports.Selection())).csv()


def _values(columns: Sequence[exports.Column], rows: Iterable[Mapping], convert) -> Iterator[list]:
    names = [column.name for column in columns]
    return ([*map(convert, map(row.get, names))] for row in rows)


# Our units -> the export codebook's (type, unit, values).
_CODEBOOK_DETAILS = {
    "text": ("text", "", ""),
    "UTC date-time": ("timestamp", "UTC", ""),
    "true/false": ("boolean", "", "true | false"),
    "count": ("integer", "", ""),
    "count 1–2": ("integer", "", "1 to 2"),
    "count 0–5": ("integer", "", "0 to 5"),
    "points": ("integer", "points", ""),
    "points 0–2": ("integer", "points", "0 to 2"),
    "proportion": ("number", "proportion", ""),
    "proportion 0–1": ("number", "proportion", "0 to 1"),
    "ms": ("number", "ms", ""),
    "days": ("number", "days", ""),
    "number": ("number", "", ""),
    "z": ("number", "z", ""),
    "classification": ("text", "", " | ".join(formula.CLASSIFICATIONS)),
    "source": ("text", "", " | ".join((*formula.SOURCES, *formula.REASONS))),
}
# Columns that always have a value; every other derived column is empty when it cannot be had.
_ALWAYS_FILLED = {
    "study_id",
    "participant_id",
    "study_type",
    "withdrawn",
    "tests_submitted",
    "unclassified_submissions",
    "flagged_tests",
    "followup_study_id",
    *(f"{prefix}_submissions" for prefix in scoring.PREFIXES.values()),
    *(f"{column}_rci_source" for column in scoring.ALL_SCORE_COLUMNS),
}


# Filled in one table only: every change row is a follow-up (summary has baselines too); in
# reliable_change an empty followup_number means "every follow-up".
_FILLED_IN = {
    CHANGE: {"followup_number"},
    RELIABLE_CHANGE: {"score", "source", "pairs", "decline_is", "confidence_level", "critical_z"}
    | {"explanation"},
}


def _columns(table: str, entries: Iterable[scoring.CodebookEntry]) -> tuple[exports.Column, ...]:
    """Scoring's description of a table's derived columns, in the export codebook's terms."""
    filled = _ALWAYS_FILLED | _FILLED_IN.get(table, set())
    columns = []
    for entry in entries:
        value_type, unit, values = _CODEBOOK_DETAILS[entry.unit]
        if entry.column not in filled:
            value_type += " or empty"
        description = entry.formula
        if entry.test_type:
            description = f"{TEST_TYPES[entry.test_type].label}: {description}"
        columns.append(exports.Column(entry.column, description, value_type, unit, values))
    return tuple(columns)


# --- Dashboard ------------------------------------------------------------------------------


@dataclass
class ScoreLine:
    """One score of one participant: its value in each study, its change at each follow-up."""

    column: str
    test_type: str
    name: str  # within its test, e.g. "accuracy"
    label: str  # with its test, e.g. "Choice reaction time: accuracy"
    unit: str
    values: list  # one per `ParticipantOverview.studies`
    flags: list[tuple[str, ...]]  # flags of the test each value comes from
    changes: list  # one per follow-up
    reliable: list[method.Assessment]  # one per follow-up: RCI, classification, source
    reliable_notes: list[str]  # one per follow-up: where r, SD1 and practice came from, or why none


@dataclass
class ParticipantOverview:
    """A participant's baseline and follow-ups side by side, with the change in every score."""

    participant_id: str
    baseline: scoring.StudySummary | None
    followups: list[scoring.StudySummary]
    other_studies: list[scoring.StudySummary]  # further baselines, not the reference
    changes: list[dict]  # `scoring.CHANGE_COLUMNS` rows, one per follow-up
    lines: list[ScoreLine]
    reliable_change: method.Method

    @property
    def studies(self) -> list[scoring.StudySummary]:
        """The compared studies: the reference baseline (if any), then the follow-ups in order."""
        return ([self.baseline] if self.baseline else []) + self.followups

    @property
    def flagged_tests(self) -> list[scoring.TestScore]:
        """Every flagged submission of the participant, other studies included."""
        every = self.studies + self.other_studies
        return [test for study in every for test in study.flagged_tests]

    @property
    def reliable_change_notes(self) -> list[tuple[int, list[tuple[str, list[str]]]]]:
        """Per follow-up number: each distinct 'where the values came from' and its score labels."""
        notes = []
        for position, row in enumerate(self.changes):
            grouped: dict[str, list[str]] = {}
            for line in self.lines:
                grouped.setdefault(line.reliable_notes[position], []).append(line.label)
            notes.append((row["followup_number"], list(grouped.items())))
        return notes


def participant_overview(participant_id: str) -> ParticipantOverview:
    """Scores of one participant over time; raise ParticipantNotFound if they have no study."""
    studies = list(iter_summaries(participant_id))
    if not studies:
        raise ParticipantNotFound(participant_id)
    baseline = scoring.baseline_of(studies)
    followups = scoring.followups_of(studies)
    compared = ([baseline] if baseline else []) + followups
    others = [study for study in studies if study not in compared]
    changes = list(scoring.participant_change_rows(studies))
    reliable_change = reliable_change_method()
    lines = []
    for column in scoring.ALL_SCORE_COLUMNS:
        test_type = scoring.score_test_type(column)
        tests = [study.scored.get(test_type) for study in compared]
        numbered = [(row["followup_number"], row[f"{column}_change"]) for row in changes]
        reliable = [reliable_change.assess(column, number, change) for number, change in numbered]
        lines.append(
            ScoreLine(
                column=column,
                test_type=test_type,
                name=scoring.score_name(column),
                label=scoring.score_label(column),
                unit=scoring.score_unit(column),
                values=[study.score(column) for study in compared],
                flags=[test.raised_flags if test else () for test in tests],
                changes=[row[f"{column}_change"] for row in changes],
                reliable=reliable,
                reliable_notes=[
                    method.describe_basis(found.basis, number, reliable_change.min_pairs)
                    for found, (number, _) in zip(reliable, numbered, strict=True)
                ],
            )
        )
    return ParticipantOverview(
        participant_id, baseline, followups, others, changes, lines, reliable_change
    )


@dataclass
class ReliableDecline:
    """A participant whose latest follow-up shows a reliable decline on at least one score."""

    participant_id: str
    followup: scoring.StudySummary
    followup_number: int
    days_since_baseline: float | None
    # (score column, its label, unit, change, RCI), in score order
    declines: list[tuple[str, str, str, float, float]]


def reliable_declines(
    column: str | None = None, *, page: int = 1, per_page: int = paging.DEFAULT_PER_PAGE
) -> tuple[paging.Page, method.Method]:
    """One page of the participants with a reliable decline (on `column`, or on any score) at
    their latest follow-up, in participant order; and the method that decided it.

    The latest follow-up is the highest-numbered one with a scored test. Every participant is
    read and scored.
    """
    scored = list(iter_summaries())
    reliable_change = reliable_change_method(scored)
    columns = scoring.ALL_SCORE_COLUMNS if column is None else (column,)
    found = []
    for studies in scoring.by_participant(scored):
        # One change row per follow-up, in the order of followups_of: by number.
        pairs = zip(
            scoring.participant_change_rows(studies), scoring.followups_of(studies), strict=True
        )
        taken = [(row, followup) for row, followup in pairs if followup.scored]
        if not taken:
            continue
        row, followup = taken[-1]
        number = row["followup_number"]
        declines = []
        for score in columns:
            change = row[f"{score}_change"]
            assessed = reliable_change.assess(score, number, change)
            if assessed.classification == formula.DECLINE:
                label, unit = scoring.score_label(score), scoring.score_unit(score)
                declines.append((score, label, unit, change, assessed.rci))
        if declines:
            found.append(
                ReliableDecline(
                    row["participant_id"], followup, number, row["days_since_baseline"], declines
                )
            )
    return paging.page_of(found, page, per_page), reliable_change


@dataclass
class ScoreDistribution:
    """One score across all studies: its values at baseline and at each follow-up (by number),
    and the change from the baseline at each follow-up. Follow-up 1 and 2 are never pooled."""

    column: str
    test_type: str
    label: str
    unit: str
    baseline: list[float]
    # follow-up number -> values (and changes) of the studies with that number
    followups: dict[int, list[float]]
    changes: dict[int, list[float]]

    def followup(self, number: int) -> list[float]:
        """The values at Follow-up `number` (empty when there are none)."""
        return self.followups.get(number, [])

    def change(self, number: int) -> list[float]:
        """The changes from baseline to Follow-up `number`."""
        return self.changes.get(number, [])

    @property
    def numbers(self) -> list[int]:
        """The follow-up numbers that have a value or a change, in order."""
        return sorted(self.followups.keys() | self.changes.keys())

    @property
    def rows(self) -> list[tuple[str, str, list[float]]]:
        """(label, kind, values) for the numbers table: baseline, then each follow-up and its
        change; kind is "score" or "change"."""
        found = [("Baseline", "score", self.baseline)]
        for number in self.numbers:
            name = followups.label("followup", number)
            found.append((name, "score", self.followup(number)))
            found.append((f"Change to {name.lower()}", "change", self.change(number)))
        return found

    @staticmethod
    def median(values: list[float]) -> float | None:
        """The median, None for no values."""
        return statistics.median(values) if values else None

    @property
    def chart(self) -> charts.Chart:
        """Baseline vs each follow-up, ready for templates/admin/partials/_chart.html."""
        groups = [charts.Group("Baseline", "baseline", self.baseline)]
        groups += [
            charts.Group(
                followups.label("followup", number),
                f"followup followup-{min(number, charts.NUMBERED_FOLLOWUP_CLASSES)}",
                self.followup(number),
            )
            for number in self.numbers
        ]
        return charts.distribution_chart(
            self.label, self.unit, groups, discrete=self.unit.split(" ")[0] in DISCRETE_UNITS
        )


def score_distributions(exclude_flagged: bool = False) -> list[ScoreDistribution]:
    """Every score's values at baseline and at each follow-up number, and their changes.

    With `exclude_flagged`, a test with any data-quality flag contributes no value. A follow-up
    without a number (hand-made data only) counts as Follow-up 0.
    """
    found = {
        column: ScoreDistribution(
            column,
            scoring.score_test_type(column),
            scoring.score_label(column),
            scoring.score_unit(column),
            [],
            {},
            {},
        )
        for column in scoring.ALL_SCORE_COLUMNS
    }
    for studies in scoring.by_participant(iter_summaries()):
        for study in studies:
            number = study.followup_number or 0
            for test in study.scored.values():
                if exclude_flagged and test.flagged:
                    continue
                for column, value in test.scores.items():
                    if value is None:
                        continue
                    if study.study_type == "baseline":
                        found[column].baseline.append(value)
                    else:
                        found[column].followups.setdefault(number, []).append(value)
        baseline = scoring.baseline_of(studies)
        for followup in scoring.followups_of(studies):
            for column, distribution in found.items():
                if exclude_flagged and (
                    _is_flagged(baseline, column) or _is_flagged(followup, column)
                ):
                    continue
                change = scoring.score_change(column, baseline, followup)
                if change is not None:
                    number = followup.followup_number or 0
                    distribution.changes.setdefault(number, []).append(change)
    return list(found.values())


def _is_flagged(study: scoring.StudySummary | None, column: str) -> bool:
    test = study.scored.get(scoring.score_test_type(column)) if study else None
    return bool(test and test.flagged)


def flagged_tests(
    flag: str | None = None, *, page: int = 1, per_page: int = paging.DEFAULT_PER_PAGE
) -> paging.Page:
    """One page of the submissions with a data-quality flag (or with this flag), by participant
    and study; every study is scored to find them."""
    flagged = [
        test
        for study in iter_summaries()
        for test in study.flagged_tests
        if flag is None or flag in test.raised_flags
    ]
    return paging.page_of(flagged, page, per_page)
