"""Scores of the stored studies: summary and change rows read from the database, summary.csv, .xlsx.

The numbers come from intact/scoring.py; this module reads the collections (with `db.stream`,
which holds one raw document at a time) and writes the tables.
"""

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime

from flask import current_app

from intact import db, scoring
from intact.spreadsheet_safety import neutralise
from intact.workbook import Sheet, write_workbook

CODEBOOK_COLUMNS = ("table", "column", "test_type", "unit", "formula")
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
