"""Scores of the stored studies: summary and change tables read from the database, dashboard data.

The numbers come from intact/scoring.py; this module reads the collections (with `db.stream`,
which holds one raw document at a time). Its tables go into the ZIP and the workbook
(intact/archive.py); summary.csv is also a download of its own.
"""

import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from flask import current_app

from intact import charts, db, exports, paging, scoring
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


def iter_summaries(participant_id: str | None = None) -> Iterator[scoring.StudySummary]:
    """Every study (or one participant's) with its scores, in participant then study order."""
    query = {} if participant_id is None else {"participant_id": participant_id}
    return scoring.summarise_studies(
        db.stream("studies", query), db.stream("tests", query), quality_rules()
    )


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
    if participant_id is None:
        # One read for the estimates and the rows: summarise_studies holds every score anyway.
        scored = list(iter_summaries())
        yield from change_rows_with_rci(scored, reliable_change_method(scored))
    else:
        reliable_change = reliable_change_method()
        yield from change_rows_with_rci(iter_summaries(participant_id), reliable_change)


# --- Tables of the ZIP and the workbook; summary.csv as a download ---------------------------


def summary_table(participant_id: str | None = None) -> exports.Table:
    """summary: one row per study with every test's scores and flags."""
    columns = _columns(SUMMARY, scoring.summary_codebook(quality_rules()))
    return exports.Table(
        SUMMARY,
        columns,
        lambda convert: _values(columns, iter_summary_rows(participant_id), convert),
    )


def change_table(participant_id: str | None = None) -> exports.Table:
    """change: one row per follow-up with each score's change from the baseline and its RCI."""
    # The codebook names each score's source, which needs no estimate: no pass over the data.
    columns = _columns(CHANGE, change_codebook(sources.current_method(None)))
    return exports.Table(
        CHANGE, columns, lambda convert: _values(columns, iter_change_rows(participant_id), convert)
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


def summary_csv(participant_id: str | None = None) -> Iterator[bytes]:
    """summary.csv: one row per study with every test's scores and flags."""
    return summary_table(participant_id).csv()


def _values(columns: Sequence[exports.Column], rows: Iterable[Mapping], convert) -> Iterator[list]:
    names = [column.name for column in columns]
    return ([convert(row.get(name)) for name in names] for row in rows)


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
