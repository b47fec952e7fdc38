"""Streaming exports: studies.csv, one CSV per test type, and a ZIP of them all with a codebook.

Every export is a generator of bytes. Documents are read from the database one at a time and
written as they come, so memory stays flat whatever the data size and nothing touches the disk:
two downloads at once share nothing.
"""

import csv
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from marshmallow import fields, validate

from intact import db, studies
from intact.spreadsheet_safety import neutralise
from intact.testtypes import TEST_TYPES, UNCLASSIFIED
from intact.timestamps import utc_iso

STUDIES_FILE = "studies.csv"
CODEBOOK_FILE = "codebook.csv"
UNCLASSIFIED_FILE = f"{UNCLASSIFIED}.csv"
EXPORTABLE_TEST_TYPES = (*TEST_TYPES, UNCLASSIFIED)

STUDY_COLUMNS = studies.STUDY_FIELDS
TEST_COLUMNS = (
    "participant_id",
    "study_id",
    "study_type",
    "followup_number",
    "test_id",
    "test_type",
    "time_started",
    "time_elapsed_milliseconds",
    "device_info",
)
QUESTION_NUMBER = "question_number"
# unclassified.csv keeps the result as sent, as JSON: there is no schema to spread it over.
RAW_RESULT = "result"
# Text is encoded and handed on in pieces of about this many characters.
CHUNK_CHARS = 64 * 1024
# zlib's default level. Measured on bench/exports.py's 19 MB of CSV: level 1 took 2.81 s for
# 1.27 MB, level 6 2.97 s for 1.03 MB, level 9 5.24 s for 0.94 MB (writing the CSV dominates).
ZIP_COMPRESSLEVEL = 6


# --- cells -------------------------------------------------------------------------------------


def _same(value):
    return value


# The cell of a value of exactly these types: looked up first, as this runs for every cell.
_EXACT_TYPE_CELLS = {
    int: _same,
    float: _same,
    # Text a spreadsheet could run as a formula gets a leading quote.
    str: neutralise,
    type(None): lambda value: "",
    bool: lambda value: "true" if value else "false",
}


def cell(value):
    """One CSV cell: empty for missing, true/false, ISO timestamps, JSON for nested values."""
    exact = _EXACT_TYPE_CELLS.get(type(value))
    if exact is not None:
        return exact(value)
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, int | float):
        # bson's Int64 and other number subclasses.
        return value
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return neutralise(str(value))


def csv_chunks(header: Iterable[str], rows: Iterable[Iterable]) -> Iterator[bytes]:
    """The header and rows as UTF-8 CSV (every field quoted, CRLF), in pieces of about 64 KiB."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() >= CHUNK_CHARS:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


# --- studies.csv -------------------------------------------------------------------------------


def studies_csv(participant_id: str | None = None, batch_id: str | None = None) -> Iterator[bytes]:
    """studies.csv: every study (or one participant's, or one batch's), in creation order."""
    query = {}
    if participant_id:
        query["participant_id"] = participant_id
    if batch_id:
        query["batch_id"] = batch_id
    yield from studies_csv_from(db.stream("studies", query))


def studies_csv_from(studies: Iterable[dict]) -> Iterator[bytes]:
    """studies.csv for these study documents (a new batch, for example)."""
    rows = ([cell(study.get(column)) for column in STUDY_COLUMNS] for study in studies)
    yield from csv_chunks(STUDY_COLUMNS, rows)


# --- result CSVs -------------------------------------------------------------------------------


def submission_extras(test: dict) -> dict:
    """Fields of a submission beyond the known ones: its notes and its unknown top-level fields."""
    extras = dict(test.get("extra") or {})
    if test.get("notes") is not None:
        extras["notes"] = test["notes"]
    return extras


@dataclass
class FieldsSeen:
    """Field names met in one test type's stored results, beyond what its schema declares."""

    in_answers: set = field(default_factory=set)
    in_submissions: set = field(default_factory=set)


def scan_fields(participant_id: str | None = None, test_type: str | None = None) -> dict:
    """{test_type: FieldsSeen} for every test type present: one pass that keeps only names."""
    query = _tests_query(participant_id)
    if test_type:
        query["test_type"] = test_type
    seen: dict[str, FieldsSeen] = {}
    for test in db.stream("tests", query, fields=("test_type", "result", "extra", "notes")):
        name = test.get("test_type")
        found = seen.setdefault(name, FieldsSeen())
        found.in_submissions.update(submission_extras(test))
        if name not in TEST_TYPES:
            # unclassified.csv keeps the result whole, as JSON: no answer columns to find.
            continue
        result = test.get("result")
        for answer in result if isinstance(result, list) else [result]:
            if isinstance(answer, dict):
                found.in_answers.update(answer)
    for name, found in seen.items():
        if name in TEST_TYPES:
            found.in_answers.difference_update(TEST_TYPES[name].field_names)
    return seen


@dataclass(frozen=True)
class ResultLayout:
    """The columns of one result CSV and where each value comes from."""

    test_type: str
    header: tuple
    answer_keys: tuple  # read from each answer: the schema's fields, then extras seen
    submission_keys: tuple  # read from submission_extras(test)
    extra_columns: tuple  # the header's columns for fields outside the schema

    @property
    def file_name(self) -> str:
        """The CSV's name in downloads and in the ZIP."""
        return f"{self.test_type}.csv"


def result_layout(test_type: str, seen: FieldsSeen | None = None) -> ResultLayout:
    """The columns of test_type's CSV: fixed ones, the schema's, then extra fields seen, sorted."""
    seen = seen or FieldsSeen()
    header = list(TEST_COLUMNS)
    known = TEST_TYPES.get(test_type)
    if known is None:
        header.append(RAW_RESULT)
        answer_extras = []
        answer_keys = []
    else:
        if known.is_list:
            header.append(QUESTION_NUMBER)
        header += known.field_names
        answer_extras = sorted(seen.in_answers)
        answer_keys = [*known.field_names, *answer_extras]
    submission_keys = sorted(seen.in_submissions)
    extra_columns = _unclashed(answer_extras, header, "result.")
    extra_columns += _unclashed(submission_keys, header + extra_columns, "submission.")
    return ResultLayout(
        test_type,
        header=(*header, *extra_columns),
        answer_keys=tuple(answer_keys),
        submission_keys=tuple(submission_keys),
        extra_columns=tuple(extra_columns),
    )


def _unclashed(names: list[str], taken: list[str], prefix: str) -> list[str]:
    """Column names for extra fields; a name in use already gets a prefix saying its origin."""
    columns = []
    used = set(taken)
    for name in names:
        column = name if name not in used else prefix + name
        used.add(column)
        columns.append(column)
    return columns


def result_rows(layout: ResultLayout, tests: Iterable[dict]) -> Iterator[list]:
    """The CSV rows of these tests: one per answer for list types, one per test otherwise."""
    known = TEST_TYPES.get(layout.test_type)
    for test in tests:
        fixed = [cell(test.get(column)) for column in TEST_COLUMNS]
        extras = submission_extras(test)
        tail = [cell(extras.get(key)) for key in layout.submission_keys]
        result = test.get("result")
        if known is None:
            yield [*fixed, cell(result), *tail]
        elif not known.is_list:
            answer = result if isinstance(result, dict) else {}
            yield [*fixed, *(cell(answer.get(key)) for key in layout.answer_keys), *tail]
        elif not result:
            # A typed test without answers still shows up, with its answer columns empty.
            yield [*fixed, "", *("" for _ in layout.answer_keys), *tail]
        else:
            for number, answer in enumerate(result, start=1):
                values = answer if isinstance(answer, dict) else {}
                yield [
                    *fixed,
                    number,
                    *(cell(values.get(key)) for key in layout.answer_keys),
                    *tail,
                ]


def result_layout_and_query(test_type: str, participant_id: str | None, seen: dict):
    """The layout of test_type's CSV and the query for its tests (None: no such test stored).

    unclassified.csv takes every stored test whose type is none of the six (normally the
    "unclassified" ones), named from the scan so that the query can use the test_type index.
    """
    query = _tests_query(participant_id)
    if test_type in TEST_TYPES:
        query["test_type"] = test_type
        return result_layout(test_type, seen.get(test_type)), query
    unknown = sorted(name for name in seen if name not in TEST_TYPES)
    merged = FieldsSeen()
    for name in unknown:
        merged.in_submissions |= seen[name].in_submissions
    query["test_type"] = {"$in": unknown}
    # None: the scan found no such test, so there is nothing to read.
    return result_layout(UNCLASSIFIED, merged), query if unknown else None


def test_type_csv(
    test_type: str, participant_id: str | None = None, seen: dict | None = None
) -> Iterator[bytes]:
    """`<test_type>.csv` (or unclassified.csv), optionally for one participant only.

    Two passes over the matching tests: field names first (for the extra columns), then rows.
    """
    if seen is None:
        seen = scan_fields(participant_id, test_type if test_type in TEST_TYPES else None)
    layout, query = result_layout_and_query(test_type, participant_id, seen)
    tests = db.stream("tests", query) if query is not None else ()
    yield from csv_chunks(layout.header, result_rows(layout, tests))


def _tests_query(participant_id: str | None) -> dict:
    return {"participant_id": participant_id} if participant_id else {}


# --- codebook ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodebookEntry:
    """What one column of one exported file holds."""

    file: str
    column: str
    description: str
    value_type: str = "text"
    unit: str = ""
    values: str = ""


class Codebook:
    """Every column of every exported file, its meaning, type and unit, in file order.

    Other modules add their own files' columns with `add` (see `register_archive_file`).
    """

    HEADER = ("file", "column", "type", "unit", "values", "description")

    def __init__(self):
        self.entries: list[CodebookEntry] = []

    def add(self, file: str, column: str, description: str, **details) -> None:
        """Describe one column; details are value_type, unit and values."""
        self.entries.append(CodebookEntry(file, column, description, **details))

    def columns(self, file: str) -> list[str]:
        """The columns described for one file, in order."""
        return [entry.column for entry in self.entries if entry.file == file]

    def csv(self) -> Iterator[bytes]:
        """codebook.csv."""
        rows = (
            [
                cell(e.file),
                cell(e.column),
                cell(e.value_type),
                cell(e.unit),
                cell(e.values),
                cell(e.description),
            ]
            for e in self.entries
        )
        yield from csv_chunks(self.HEADER, rows)


STUDY_COLUMN_DOCS = {
    "study_id": ("The study's id: the last part of its link, the participant's credential.", {}),
    "participant_id": ("The participant's id, as the researcher entered it.", {}),
    "study_type": ("Which session this study is.", {"values": "baseline | followup"}),
    "followup_number": (
        "Follow-up k: numbered 1, 2, … per participant when the study was created, never "
        "changed; the same k on every page and in every file. Empty for baselines.",
        {"value_type": "integer or empty"},
    ),
    "url": ("The link handed to the participant.", {}),
    "created_at": ("When the study was created.", {"value_type": "timestamp", "unit": "UTC"}),
    "first_opened_at": (
        "When the link was first opened; empty if never.",
        {"value_type": "timestamp", "unit": "UTC"},
    ),
    "last_seen_at": (
        "Last time the link was opened or a test arrived; empty if never.",
        {"value_type": "timestamp", "unit": "UTC"},
    ),
    "batch_id": ("The creation request that made this study (one per batch).", {}),
}
TEST_COLUMN_DOCS = {
    "participant_id": ("The participant's id.", {}),
    "study_id": ("The study this test was taken in.", {}),
    "study_type": ("The session the test belongs to.", {"values": "baseline | followup"}),
    "followup_number": (
        "Which follow-up (the study's number, as in studies.csv); empty for baselines.",
        {"value_type": "integer or empty"},
    ),
    "test_id": ("The stored test's id: one per submission.", {}),
    "test_type": ("Which cognitive test.", {}),
    "time_started": (
        "When the participant started the test, by the device's clock.",
        {"value_type": "timestamp", "unit": "UTC"},
    ),
    "time_elapsed_milliseconds": (
        "How long the test took, by the device's clock.",
        {"value_type": "integer", "unit": "ms"},
    ),
    "device_info": ("The browser's user agent.", {}),
}
QUESTION_NUMBER_DOC = (
    "Position of the answer within the test, from 1 (empty when the test has no answers).",
    {"value_type": "integer"},
)
RAW_RESULT_DOC = (
    "The result exactly as sent, as JSON; it matched no test type (an empty list of answers).",
    {"value_type": "JSON"},
)


def describe_field(schema_field: fields.Field) -> dict:
    """Codebook details (type, unit, allowed values) read from a schema field and its metadata."""
    if isinstance(schema_field, fields.Boolean):
        value_type = "boolean"
    elif isinstance(schema_field, fields.Integer):
        value_type = "integer"
    elif isinstance(schema_field, fields.Number):
        value_type = "number"
    else:
        value_type = "text"
    if schema_field.allow_none:
        value_type += " or empty"
    values = ""
    for validator in schema_field.validators:
        if isinstance(validator, validate.OneOf):
            values = " | ".join(str(choice) for choice in validator.choices)
        elif isinstance(validator, validate.Range):
            values = f"{validator.min} to {validator.max}"
    if value_type == "boolean":
        values = "true | false"
    return {
        "value_type": value_type,
        "unit": schema_field.metadata.get("unit", ""),
        "values": values,
    }


def describe_result_file(codebook: Codebook, layout: ResultLayout) -> None:
    """Add the columns of one result CSV to the codebook."""
    name = layout.file_name
    for column in TEST_COLUMNS:
        description, details = TEST_COLUMN_DOCS[column]
        codebook.add(name, column, description, **details)
    known = TEST_TYPES.get(layout.test_type)
    if known is None:
        codebook.add(name, RAW_RESULT, RAW_RESULT_DOC[0], **RAW_RESULT_DOC[1])
    else:
        if known.is_list:
            codebook.add(name, QUESTION_NUMBER, QUESTION_NUMBER_DOC[0], **QUESTION_NUMBER_DOC[1])
        declared = known.schema._declared_fields
        for key in known.field_names:
            description = declared[key].metadata.get("description", "")
            codebook.add(name, key, description, **describe_field(declared[key]))
    for column in layout.extra_columns:
        codebook.add(
            name,
            column,
            "A field this backend's schemas do not declare, exported as sent "
            "(JSON for nested values); empty where a test did not have it.",
        )


def build_codebook(layouts: Iterable[ResultLayout]) -> Codebook:
    """The codebook of a ZIP: studies.csv, every result CSV, and every registered extra file."""
    codebook = Codebook()
    for column in STUDY_COLUMNS:
        description, details = STUDY_COLUMN_DOCS[column]
        codebook.add(STUDIES_FILE, column, description, **details)
    for layout in layouts:
        describe_result_file(codebook, layout)
    for extra in ARCHIVE_FILES.values():
        extra.describe(codebook)
    return codebook


# --- the ZIP -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveFile:
    """A further file in the ZIP, contributed by another module (derived scores, for example)."""

    name: str
    # participant_id (or None for everyone) -> the file's bytes, streamed.
    chunks: Callable[[str | None], Iterable[bytes]]
    # Adds the file's columns to the codebook.
    describe: Callable[[Codebook], None]


ARCHIVE_FILES: dict[str, ArchiveFile] = {}


def register_archive_file(archive_file: ArchiveFile) -> None:
    """Include a further file and its codebook entries in every ZIP (again: replace it)."""
    ARCHIVE_FILES[archive_file.name] = archive_file


class _Pipe:
    """A write-only, unseekable file that hands what was written to whoever drains it."""

    def __init__(self):
        self._pieces: list[bytes] = []

    def write(self, data) -> int:
        self._pieces.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: pieces wait for drain()."""

    def drain(self) -> bytes:
        data = b"".join(self._pieces)
        self._pieces.clear()
        return data


def archive_members(participant_id: str | None = None) -> Iterator[tuple[str, Iterable[bytes]]]:
    """(file name, its bytes) for every file of the ZIP, in order, codebook first."""
    seen = scan_fields(participant_id)
    layouts = [
        result_layout_and_query(name, participant_id, seen)[0] for name in EXPORTABLE_TEST_TYPES
    ]
    yield CODEBOOK_FILE, build_codebook(layouts).csv()
    yield STUDIES_FILE, studies_csv(participant_id)
    for layout in layouts:
        yield layout.file_name, test_type_csv(layout.test_type, participant_id, seen)
    for extra in ARCHIVE_FILES.values():
        yield extra.name, extra.chunks(participant_id)


def zip_archive(participant_id: str | None = None) -> Iterator[bytes]:
    """The ZIP of every export, built while it is sent: no temporary file, flat memory."""
    pipe = _Pipe()
    with zipfile.ZipFile(
        pipe, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_COMPRESSLEVEL
    ) as archive:
        for name, chunks in archive_members(participant_id):
            # force_zip64: the size is not known up front, and a member may pass 4 GiB.
            with archive.open(name, "w", force_zip64=True) as member:
                for chunk in chunks:
                    member.write(chunk)
                    if data := pipe.drain():
                        yield data
            if data := pipe.drain():
                yield data
    # Closing the archive wrote its central directory.
    yield pipe.drain()


def archive_file_name(participant_id: str | None = None, now: datetime | None = None) -> str:
    """intact-data[-<participant>]-<UTC time>.zip: downloads do not overwrite each other."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    who = f"-{participant_id}" if participant_id else ""
    return f"intact-data{who}-{stamp}.zip"
