"""Exported tables: studies, one per test type, unclassified results; cells and CSV.

A `Table` is one file of a download: its columns, each described for the codebook, and its rows,
read from the database one document at a time when the table is written. `intact/exports/archive.py`
lists the tables of the ZIP and the workbook; a single CSV download writes one table. Memory stays
flat whatever the data size, and two downloads at once share nothing.
"""

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain, islice

from flask import current_app
from marshmallow import fields, validate

from intact import cooperative, db, progress, studies
from intact.exports.selection import Selection
from intact.json_text import readable_json
from intact.participants import schedule
from intact.spreadsheet_safety import FORMULA_TRIGGERS, neutralise
from intact.testtypes import TEST_TYPES, UNCLASSIFIED
from intact.timestamps import utc_iso

STUDIES_FILE = "studies.csv"
EXPORTABLE_TEST_TYPES = (*TEST_TYPES, UNCLASSIFIED)

# The stored fields, `withdrawn` (whether the participant withdrew: every export says so), then
# what the dashboard shows of each study (from its counters, at export time): run state, tests
# received, last activity, and a follow-up's due date and schedule state.
WITHDRAWN = "withdrawn"
STUDY_STATUS_COLUMNS = (
    "state",
    "tests_received",
    "last_activity",
    "due_date",
    "due_date_set_by_hand",
    "schedule_state",
)
STUDY_COLUMNS = (*studies.STUDY_FIELDS, WITHDRAWN, *STUDY_STATUS_COLUMNS)
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
# Rows written per csv.writer.writerows call, with a turn for other requests after each batch.
# Measured on the 12,000-test ZIP: with 8 rows 99 % of the gaps between turns stay under 2 ms
# (with 32, 1 % passed cooperative's 5 ms slice).
CSV_BATCH_ROWS = 8


# --- cells -------------------------------------------------------------------------------------


def as_is(value):
    """The value itself: how the workbook takes a table's values (it types its cells itself)."""
    return value


def cell(value):  # noqa: PLR0911 - one early return per kind of value, the commonest first
    """One CSV cell: empty for missing, true/false, ISO timestamps, JSON for nested values."""
    kind = type(value)
    # This runs for every cell (half a million in the 12,000-test ZIP): the exact types first,
    # each without a lookup or a call. Text a spreadsheet could run as a formula gets a leading
    # quote (`neutralise`, inlined).
    if kind is str:
        return "'" + value if value.startswith(FORMULA_TRIGGERS) else value
    if kind is int or kind is float:
        return value
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, int | float):
        # bson's Int64 and other number subclasses.
        return value
    if isinstance(value, dict | list):
        value = readable_json(value, default=str)
    return neutralise(str(value))


LINE_END = "\r\n"


def csv_writer(buffer):
    """The one CSV dialect of every download: every field quoted, CRLF line ends (RFC 4180)."""
    return csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator=LINE_END)


def csv_chunks(
    header: Iterable[str], rows: Iterable[Iterable], *, cells: bool = False
) -> Iterator[bytes]:
    """The header and rows as UTF-8 CSV (every field quoted, CRLF), in pieces of about 64 KiB.

    Every cell, header included, passes through `neutralise`: a column is named after whatever
    field a submission sent ("=2+5", "@SUM(1;2)"), so a header can start a formula too (OWASP).
    The codebook names each column the same way, so it matches the header it documents.
    `cells=True` says every value of `rows` is a `cell` already (which neutralised it), so it
    is not done twice: on the 12,000-test ZIP that second pass was 1.2 million calls.
    """
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow(map(neutralise, header))
    rows = iter(rows)
    # writerows on a batch: one call for CSV_BATCH_ROWS rows rather than one per row.
    batches = iter(lambda: list(islice(rows, CSV_BATCH_ROWS)), [])
    written = (
        writer.writerows(batch if cells else (map(neutralise, row) for row in batch))
        for batch in batches
    )
    return text_chunks(buffer, written)


def text_chunks(buffer: io.StringIO, steps: Iterable) -> Iterator[bytes]:
    """What `steps` (a generator writing into `buffer`) writes, as UTF-8 in pieces of about
    CHUNK_CHARS, with a turn for other requests after each step (see intact/cooperative.py)."""
    for _ in steps:
        cooperative.turn()
        if buffer.tell() >= CHUNK_CHARS:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


# Stands for a test's own columns in its answer rows until their text replaces it (a control
# character no front-end sends; a test whose values hold it is written without the shortcut).
_OWN_COLUMNS = "\x00"
_OWN_COLUMNS_TEXT = f'"{_OWN_COLUMNS}"'


class ResultCsvWriter:
    """Result rows as CSV text into a buffer, a test's own columns written once for its rows.

    Those columns (`TEST_COLUMNS`) are about half of each answer row's text: a test's rows are
    written with a marker in their place, the marker then replaced by their text, made once. A
    test whose values hold the marker itself is written row by row. The text is what
    `csv_writer` writes for the whole rows.
    """

    def __init__(self, buffer: io.StringIO):
        self._rows = csv_writer(buffer)
        self._buffer = buffer
        self._scratch = io.StringIO()
        self._scratch_rows = csv_writer(self._scratch)

    def write(self, own: list, rests: list[list]) -> None:
        """One test's rows: `own` followed by each of `rests` (`result_parts`), all cells."""
        if len(rests) == 1:
            self._rows.writerow([*own, *rests[0]])
            return
        own_text = self._scratch_text(lambda rows: rows.writerow(own))[: -len(LINE_END)]
        text = self._scratch_text(lambda rows: rows.writerows([_OWN_COLUMNS, *r] for r in rests))
        if text.count(_OWN_COLUMNS_TEXT) == len(rests):
            self._buffer.write(text.replace(_OWN_COLUMNS_TEXT, own_text))
        else:
            self._rows.writerows([*own, *rest] for rest in rests)

    def _scratch_text(self, write) -> str:
        self._scratch.seek(0)
        self._scratch.truncate()
        write(self._scratch_rows)
        return self._scratch.getvalue()


# --- tables ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of an exported table, as the codebook describes it."""

    name: str
    description: str
    value_type: str = "text"  # text, integer, number, boolean, timestamp, JSON; "… or empty"
    unit: str = ""  # ms, UTC, points, proportion, days
    values: str = ""  # allowed values: "left | right", "0 to 5"


@dataclass(frozen=True)
class Table:
    """One exported table: a CSV file of the ZIP and a sheet of the workbook.

    `rows(convert)` reads the data when called and yields each row in column order, every value
    (number, boolean, datetime, None, nested list or object) passed through `convert`: `cell` for
    CSV, `as_is` for the workbook, which types its cells itself. A value shared by many rows (a
    test's fixed columns, on each of its answer rows) is converted once: on bench/exports.py's
    data (1,000 participants) converting on every row cost the ZIP 3.16 s of CPU against 2.51 s.
    """

    name: str  # the sheet's name; the file is `<name>.csv`
    columns: tuple[Column, ...]
    rows: Callable[[Callable], Iterable[Sequence]]
    # Columns whose values identify a row, and (column, table, its column) references to other
    # tables: what datapackage.json declares as primary and foreign keys.
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[tuple[str, str, str], ...] = ()

    @property
    def file_name(self) -> str:
        """The CSV's name in downloads and in the ZIP."""
        return f"{self.name}.csv"

    @property
    def header(self) -> tuple[str, ...]:
        """The column names, in order."""
        return tuple(column.name for column in self.columns)

    # The CSV rows (bytes, without the header) when the table writes them its own way: a result
    # table (`ResultCsvWriter`), or the ZIP's spools (intact/exports/result_spools.py), which
    # wrote them while reading for the scores. None: csv_chunks writes rows(cell).
    written: Callable[[], Iterable[bytes]] | None = None

    def csv(self) -> Iterator[bytes]:
        """The table as CSV (see `csv_chunks`), read from the database as it is written."""
        if self.written is None:
            return csv_chunks(self.header, self.rows(cell), cells=True)
        return chain(csv_chunks(self.header, ()), self.written())


def _described(name: str, docs: dict) -> Column:
    description, details = docs[name]
    return Column(name, description, **details)


# --- studies.csv -------------------------------------------------------------------------------


def studies_table(selection: Selection | None = None, batch_id: str | None = None) -> Table:
    """studies: every study of the selection (or of one batch), in creation order.

    With a window starting at `since`: the studies that received a test in it or were created in
    it, so that every test of the download finds its study here.
    """
    selection = selection or Selection()
    query = selection.participants_query()
    if batch_id:
        query["batch_id"] = batch_id

    def read():
        if selection.since is None:
            return db.stream("studies", query)
        return _studies_in_window(selection, query)

    return _studies_table(read)


def _studies_in_window(selection: Selection, query: dict) -> Iterator[dict]:
    # The window's tests name their studies: a set as large as the window, not the collection.
    tested = {
        test.get("study_id")
        for test in db.stream("tests", selection.tests_query(), fields=("study_id",))
    }
    since = selection.since
    for study in db.stream("studies", query):
        created = study.get("created_at")
        if created is not None and created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        if study.get("study_id") in tested or (created is not None and since <= created):
            yield study


def _study_status(now: datetime):
    """A function giving a study document's STUDY_STATUS_COLUMNS values, as the dashboard's.

    Reads every participant's baseline start once (for the follow-ups' due dates).
    """
    abandoned_after = timedelta(days=current_app.config["ABANDONED_AFTER_DAYS"])
    rules = schedule.Rules.from_config(current_app.config)
    today = schedule.as_date(now)
    started = schedule.baseline_starts()

    def status(doc: dict) -> dict:
        study = progress.progress_of(doc)
        due = None
        if schedule.in_schedule(doc):
            due = schedule.followup_due(doc, started.get(doc.get("participant_id")), rules, today)
        return {
            "state": progress.study_state(study, now, abandoned_after),
            "tests_received": study.tests_received,
            "last_activity": study.last_activity,
            "due_date": due.due_date.isoformat() if due and due.due_date else None,
            "due_date_set_by_hand": due.set_by_hand if due else None,
            "schedule_state": due.state if due else None,
        }

    return status


def _studies_table(read: Callable[[], Iterable[dict]]) -> Table:
    def rows(convert):
        status = _study_status(datetime.now(UTC))
        for study in read():
            row = {**study, WITHDRAWN: bool(study.get(studies.WITHDRAWN_AT)), **status(study)}
            yield [convert(row.get(name)) for name in STUDY_COLUMNS]

    columns = tuple(_described(name, STUDY_COLUMN_DOCS) for name in STUDY_COLUMNS)
    return Table("studies", columns, rows, primary_key=("study_id",))


def studies_csv(selection: Selection | None = None, batch_id: str | None = None) -> Iterator[bytes]:
    """studies.csv: every study of the selection (or of one batch), in creation order."""
    return studies_table(selection, batch_id).csv()


def studies_csv_from(studies: Iterable[dict]) -> Iterator[bytes]:
    """studies.csv for these study documents (a new batch, for example)."""
    return _studies_table(lambda: studies).csv()


# --- result tables -----------------------------------------------------------------------------


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


def scan_fields(selection: Selection | None = None, test_type: str | None = None) -> dict:
    """{test_type: FieldsSeen} for every test type present: one pass that keeps only names."""
    query = (selection or Selection()).tests_query()
    if test_type:
        query["test_type"] = test_type
    seen: dict[str, FieldsSeen] = {}
    for test in db.stream("tests", query, fields=("test_type", "result", "extra", "notes")):
        note_fields(seen, test)
    return finish_fields(seen)


def note_fields(seen: dict, test: dict) -> None:
    """Add one test document's field names to `seen` ({test_type: FieldsSeen})."""
    name = test.get("test_type")
    found = seen.get(name)
    if found is None:
        found = seen[name] = FieldsSeen()
    if test.get("extra") or test.get("notes") is not None:
        found.in_submissions.update(submission_extras(test))
    if name not in TEST_TYPES:
        # unclassified.csv keeps the result whole, as JSON: no answer columns to find.
        return
    result = test.get("result")
    answers = result if isinstance(result, list) else [result]
    # One update with every answer's keys: this runs for each test of a download.
    found.in_answers.update(*[answer for answer in answers if isinstance(answer, dict)])


def finish_fields(seen: dict) -> dict:
    """`seen` with each known type's declared fields taken out (they have columns already)."""
    for name, found in seen.items():
        if name in TEST_TYPES:
            found.in_answers.difference_update(TEST_TYPES[name].field_names)
    return seen


@dataclass(frozen=True)
class ResultLayout:
    """The columns of one result table and where each value comes from."""

    test_type: str
    columns: tuple[Column, ...]
    answer_keys: tuple  # read from each answer: the schema's fields, then extras seen
    submission_keys: tuple  # read from submission_extras(test)


EXTRA_FIELD_DOC = (
    "A field this backend's schemas do not declare, exported as sent "
    "(JSON for nested values); empty where a test did not have it."
)


def result_layout(test_type: str, seen: FieldsSeen | None = None) -> ResultLayout:
    """The columns of test_type's table: fixed ones, the schema's, then extra fields, sorted."""
    seen = seen or FieldsSeen()
    columns = [_described(name, TEST_COLUMN_DOCS) for name in TEST_COLUMNS]
    known = TEST_TYPES.get(test_type)
    if known is None:
        columns.append(RAW_RESULT_COLUMN)
        answer_extras = []
        answer_keys = []
    else:
        if known.is_list:
            columns.append(QUESTION_NUMBER_COLUMN)
        for key, schema_field in known.fields.items():
            description = schema_field.metadata.get("description", "")
            columns.append(Column(key, description, **describe_field(schema_field)))
        answer_extras = sorted(seen.in_answers)
        answer_keys = [*known.field_names, *answer_extras]
    submission_keys = sorted(seen.in_submissions)
    taken = [column.name for column in columns]
    extra_names = _unclashed(answer_extras, taken, "result.")
    extra_names += _unclashed(submission_keys, taken + extra_names, "submission.")
    columns += [Column(name, EXTRA_FIELD_DOC) for name in extra_names]
    return ResultLayout(
        test_type,
        columns=tuple(columns),
        answer_keys=tuple(answer_keys),
        submission_keys=tuple(submission_keys),
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


def result_rows(layout: ResultLayout, tests: Iterable[dict], convert: Callable) -> Iterator[list]:
    """The rows of these tests: one per answer for list types, one per test otherwise.

    Each value is passed through `convert` (see `Table`); a test's own columns once per test,
    not on each of its answer rows (the CSV writes 64,000 rows for 12,000 tests).
    """
    for own, rests in result_parts(layout, tests, convert):
        for rest in rests:
            yield [*own, *rest]


def result_parts(
    layout: ResultLayout, tests: Iterable[dict], convert: Callable
) -> Iterator[tuple[list, list[list]]]:
    """Per test: (its own columns' values, `TEST_COLUMNS`; the rest of each of its rows).

    A row of the table is the test's own values followed by one of the rests: its answer's
    number and values (list types), its result's values, or its whole result (unclassified),
    then the submission's extra fields.
    """
    known = TEST_TYPES.get(layout.test_type)
    answer_keys, submission_keys = layout.answer_keys, layout.submission_keys
    for test in tests:
        own = [*map(convert, map(test.get, TEST_COLUMNS))]
        if submission_keys:
            extras = submission_extras(test)
            tail = [convert(extras.get(key)) for key in submission_keys]
        else:
            tail = []
        result = test.get("result")
        if known is None:
            yield own, [[convert(result), *tail]]
        elif not known.is_list:
            answer = result if isinstance(result, dict) else {}
            yield own, [[*[convert(answer.get(key)) for key in answer_keys], *tail]]
        elif not result:
            # A typed test without answers still shows up, with its answer columns empty.
            empty = convert(None)
            yield own, [[empty, *[empty for _ in answer_keys], *tail]]
        else:
            # map inside one comprehension: 64,000 answer rows in the 12,000-test ZIP.
            yield (
                own,
                [
                    [number, *map(convert, map(_answer_get(answer), answer_keys)), *tail]
                    for number, answer in enumerate(result, start=1)
                ],
            )


def _answer_get(answer):
    """`answer.get`, or that of an empty answer when the stored answer is not an object."""
    return answer.get if isinstance(answer, dict) else _NO_ANSWER.get


_NO_ANSWER: dict = {}


def result_table(test_type: str, selection: Selection | None = None, seen: dict | None = None):
    """The table of one test type's results (or of unclassified ones) in the selection.

    `seen` is the field names of the selection's tests (`scan_fields`, or the scores pass of the
    ZIP and the workbook, which notes them while scoring); without it, this type's tests are
    scanned first. Its rows are the tests received in the window, in the order they were stored
    (in the ZIP, where the scores pass writes them, grouped by participant).
    """
    selection = selection or Selection()
    if seen is None:
        seen = scan_fields(selection, test_type if test_type in TEST_TYPES else None)
    query = selection.tests_query()
    if test_type in TEST_TYPES:
        query["test_type"] = test_type
        layout = result_layout(test_type, seen.get(test_type))
    else:
        # Every stored test whose type is none of the six (normally the "unclassified" ones),
        # named from the scan so that the query can use the test_type index.
        unknown = sorted(name for name in seen if name not in TEST_TYPES)
        merged = FieldsSeen()
        for name in unknown:
            merged.in_submissions |= seen[name].in_submissions
        query["test_type"] = {"$in": unknown}
        layout = result_layout(UNCLASSIFIED, merged)

    def read():
        if query["test_type"] == {"$in": []}:
            return ()  # the scan found no such test: nothing to read
        return db.stream("tests", query)

    return table_of_results(layout, read)


def table_of_results(layout: ResultLayout, read: Callable[[], Iterable[dict]]) -> Table:
    """The result table of this layout whose rows come from the test documents `read()` gives.

    Its CSV writes each test's own columns once for all its rows (`ResultCsvWriter`).
    """
    known = TEST_TYPES.get(layout.test_type)
    key = ("test_id", QUESTION_NUMBER) if known is not None and known.is_list else ("test_id",)

    def written() -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = ResultCsvWriter(buffer)
        parts = result_parts(layout, read(), cell)
        return text_chunks(buffer, (writer.write(own, rests) for own, rests in parts))

    return Table(
        layout.test_type,
        layout.columns,
        lambda convert: result_rows(layout, read(), convert),
        primary_key=key,
        foreign_keys=(("study_id", "studies", "study_id"),),
        written=written,
    )


def test_type_csv(test_type: str, selection: Selection | None = None) -> Iterator[bytes]:
    """`<test_type>.csv` (or unclassified.csv) of the selection."""
    return result_table(test_type, selection).csv()


# --- what each column means --------------------------------------------------------------------


STUDY_COLUMN_DOCS = {
    "study_id": ("The study's id: the last part of its link, the participant's credential.", {}),
    "participant_id": (
        "The participant's id, as the researcher entered it (Unicode NFKC, trimmed).",
        {},
    ),
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
    "state": (
        "The study's run state when the file was made, as on the dashboard: not started (link "
        "not opened), opened (no test yet), in progress (some of the six tests), complete (all "
        "six), abandoned (opened or started, then no activity for ABANDONED_AFTER_DAYS days).",
        {"values": " | ".join(progress.STUDY_STATES)},
    ),
    "tests_received": (
        "How many of the six tests have arrived at least once.",
        {"value_type": "integer", "values": "0 to 6"},
    ),
    "last_activity": (
        "The latest of first opened, last seen and last test received; empty if none.",
        {"value_type": "timestamp or empty", "unit": "UTC"},
    ),
    "due_date": (
        "A follow-up's due date: FOLLOWUP_SCHEDULE_DAYS after the baseline was started, or set "
        "by hand; empty for baselines, follow-ups with no due date, a withdrawn participant's and "
        "deactivated links.",
        {"value_type": "date or empty", "unit": "UTC day (YYYY-MM-DD)"},
    ),
    "due_date_set_by_hand": (
        "Whether a researcher set the due date by hand (it wins over the schedule); empty for "
        "baselines.",
        {"value_type": "boolean or empty"},
    ),
    "schedule_state": (
        "A follow-up's schedule state when the file was made: not yet due, due (within "
        "FOLLOWUP_WINDOW_DAYS of the due date), overdue (window passed, not complete), done "
        "(complete), unscheduled (no due date); empty for baselines, a withdrawn participant's "
        "follow-ups and deactivated links.",
        {"values": " | ".join(schedule.SCHEDULE_STATES)},
    ),
    "withdrawn_at": (
        "When the participant withdrew (their links closed, their data kept); empty if not.",
        {"value_type": "timestamp", "unit": "UTC"},
    ),
    "deactivated_at": (
        "When this link was deactivated (a reissued link replaces it); empty while it works.",
        {"value_type": "timestamp", "unit": "UTC"},
    ),
    "replaces": (
        "The deactivated study this reissued link replaces (same type and follow-up number); "
        "empty for a first link.",
        {},
    ),
    WITHDRAWN: (
        "Whether the participant withdrew from the study.",
        {"value_type": "boolean", "values": "true | false"},
    ),
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
QUESTION_NUMBER_COLUMN = Column(
    QUESTION_NUMBER,
    "Position of the answer within the test, from 1 (empty when the test has no answers).",
    value_type="integer",
)
RAW_RESULT_COLUMN = Column(
    RAW_RESULT,
    "The result exactly as sent, as JSON; it matched no test type (an empty list of answers sent "
    "without a test_type).",
    value_type="JSON",
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
