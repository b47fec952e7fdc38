"""Scores of the stored studies: summary and change rows read from the database, summary.csv, .xlsx.

The numbers come from intact/scoring.py; this module reads the collections (with `db.stream`,
which holds one raw document at a time) and writes the tables.
"""

import csv
import io
import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app

from intact import charts, db, scoring
from intact.spreadsheet_safety import neutralise
from intact.workbook import Sheet, write_workbook

CODEBOOK_COLUMNS = ("table", "column", "test_type", "unit", "formula")
# Scores in these units take few whole-number values: charted as bars, not box plots.
DISCRETE_UNITS = ("count", "points")
CSV_ROWS_PER_CHUNK = 500


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


def iter_change_rows(participant_id: str | None = None) -> Iterator[dict]:
    """The change table: one row per follow-up study, `scoring.CHANGE_COLUMNS`."""
    return scoring.change_rows(iter_summaries(participant_id))


def codebook_rows(rules: scoring.QualityRules) -> Iterator[dict]:
    """The codebook of the summary and change tables, one row per column."""
    for table, entries in (
        ("summary", scoring.summary_codebook(rules)),
        ("change", scoring.change_codebook(rules)),
    ):
        for entry in entries:
            yield {
                "table": table,
                "column": entry.column,
                "test_type": entry.test_type,
                "unit": entry.unit,
                "formula": entry.formula,
            }


# --- CSV ------------------------------------------------------------------------------------


def csv_value(value) -> str:
    """One CSV cell: empty for missing, true/false, ISO 8601 UTC with Z, formula-safe text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso_utc(value)
    return neutralise(value)


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the millisecond (stored datetimes are UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def csv_chunks(columns: Sequence[str], rows: Iterable[Mapping]) -> Iterator[str]:
    """A CSV table as text chunks of a few hundred rows, for a streamed download."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for count, row in enumerate(rows, start=1):
        writer.writerow([csv_value(row.get(column)) for column in columns])
        if count % CSV_ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def summary_csv(participant_id: str | None = None) -> Iterator[str]:
    """summary.csv as text chunks: one row per study with every test's scores and flags."""
    return csv_chunks(scoring.SUMMARY_COLUMNS, iter_summary_rows(participant_id))


# --- Workbook -------------------------------------------------------------------------------


def workbook_sheets(raw_sheets: Iterable[Sheet] = ()) -> Iterator[Sheet]:
    """The workbook's sheets: the raw sheets given, then summary, change and codebook."""
    yield from raw_sheets
    # Scored once for both sheets: summarise_studies holds every TestScore anyway.
    studies = list(iter_summaries())
    yield Sheet("summary", scoring.SUMMARY_COLUMNS, map(scoring.summary_row, studies))
    yield Sheet("change", scoring.CHANGE_COLUMNS, scoring.change_rows(studies))
    yield Sheet("codebook", CODEBOOK_COLUMNS, codebook_rows(quality_rules()))


def write_summary_workbook(output, raw_sheets: Iterable[Sheet] = ()) -> None:
    """Write the researchers' workbook to a path or binary file."""
    write_workbook(output, workbook_sheets(raw_sheets))


# --- Dashboard ------------------------------------------------------------------------------


class ParticipantNotFound(LookupError):
    """No study has this participant id."""


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


@dataclass
class ParticipantOverview:
    """A participant's baseline and follow-ups side by side, with the change in every score."""

    participant_id: str
    baseline: scoring.StudySummary | None
    followups: list[scoring.StudySummary]
    other_studies: list[scoring.StudySummary]  # further baselines, not the reference
    changes: list[dict]  # `scoring.CHANGE_COLUMNS` rows, one per follow-up
    lines: list[ScoreLine]

    @property
    def studies(self) -> list[scoring.StudySummary]:
        """The compared studies: the reference baseline (if any), then the follow-ups in order."""
        return ([self.baseline] if self.baseline else []) + self.followups

    @property
    def flagged_tests(self) -> list[scoring.TestScore]:
        """Every flagged submission of the participant, other studies included."""
        every = self.studies + self.other_studies
        return [test for study in every for test in study.flagged_tests]


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
    lines = []
    for column in scoring.ALL_SCORE_COLUMNS:
        test_type = scoring.score_test_type(column)
        tests = [study.scored.get(test_type) for study in compared]
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
            )
        )
    return ParticipantOverview(participant_id, baseline, followups, others, changes, lines)


@dataclass
class ScoreDistribution:
    """One score across all studies: baseline vs follow-up values and the change per follow-up."""

    column: str
    test_type: str
    label: str
    unit: str
    baseline: list[float]
    followup: list[float]
    change: list[float]

    @property
    def medians(self) -> tuple[float | None, float | None, float | None]:
        """Median at baseline, at follow-up, and median change."""
        return tuple(
            statistics.median(values) if values else None
            for values in (self.baseline, self.followup, self.change)
        )

    @property
    def chart(self) -> charts.Chart:
        """Baseline vs follow-up distribution, ready for templates/admin/partials/_chart.html."""
        return charts.distribution_chart(
            self.label,
            self.unit,
            [
                charts.Group("Baseline", "baseline", self.baseline),
                charts.Group("Follow-up", "followup", self.followup),
            ],
            discrete=self.unit.split(" ")[0] in DISCRETE_UNITS,
        )


def score_distributions(exclude_flagged: bool = False) -> list[ScoreDistribution]:
    """Every score's values at baseline and at follow-up over all studies, and their changes.

    With `exclude_flagged`, a test with any data-quality flag contributes no value.
    """
    found = {
        column: ScoreDistribution(
            column,
            scoring.score_test_type(column),
            scoring.score_label(column),
            scoring.score_unit(column),
            [],
            [],
            [],
        )
        for column in scoring.ALL_SCORE_COLUMNS
    }
    for studies in scoring.by_participant(iter_summaries()):
        for study in studies:
            side = "baseline" if study.study_type == "baseline" else "followup"
            for test in study.scored.values():
                if exclude_flagged and test.flagged:
                    continue
                for column, value in test.scores.items():
                    if value is not None:
                        getattr(found[column], side).append(value)
        baseline = scoring.baseline_of(studies)
        for followup in scoring.followups_of(studies):
            for column, distribution in found.items():
                if exclude_flagged and (
                    _is_flagged(baseline, column) or _is_flagged(followup, column)
                ):
                    continue
                change = scoring.score_change(column, baseline, followup)
                if change is not None:
                    distribution.change.append(change)
    return list(found.values())


def _is_flagged(study: scoring.StudySummary | None, column: str) -> bool:
    test = study.scored.get(scoring.score_test_type(column)) if study else None
    return bool(test and test.flagged)


def flagged_tests(flag: str | None = None) -> list[scoring.TestScore]:
    """Every submission with a data-quality flag (or with this flag), by participant and study."""
    return [
        test
        for study in iter_summaries()
        for test in study.flagged_tests
        if flag is None or flag in test.raised_flags
    ]
