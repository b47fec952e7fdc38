"""The two downloads of everything: the ZIP of CSV files and the researchers' workbook (.xlsx).

Both are made of one list of tables, `tables()`: the ZIP writes each as `<name>.csv`, the
workbook as a sheet `<name>`, in the same order, and both end with the codebook that describes
every column of every table. To add a file to both, add its table to that list. Rows are read
from the database while the file is written, one document at a time: memory stays flat whatever
the data size.

The derived scores come first: one pass over every test, grouped by participant, scores them for
summary and change, gathers the reliable change estimates and notes the field names that the
result tables' extra columns need (`summaries.ScoresPass`). In the ZIP the same pass also writes
each test's rows into its result table's spool (`result_spools.ResultSpools`), so each test is
read and decoded once; the workbook reads each type's tests again (twice in all). Columns are
known only after that pass, so the codebook comes last.
"""

import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator

from intact import exports, summaries, workbook
from intact.exports import datapackage
from intact.exports.deidentify import Deidentifier
from intact.exports.result_spools import ResultSpools, unchanged
from intact.timestamps import utc_iso

CODEBOOK = "codebook"
CODEBOOK_COLUMNS = ("file", "column", "type", "unit", "values", "description")
# zlib's fastest level. At 1,000 participants (11.8 MB of CSV), compressing takes 0.03 s of CPU
# for 0.69 MB at level 1 against 0.13 s for 0.55 MB at level 6 (the default); once a test is
# decoded once, that 0.1 s is a sixth of the ZIP's time, for a file a quarter larger.
ZIP_COMPRESSLEVEL = 1
FILE_CHUNK_BYTES = 64 * 1024


def tables(
    selection: exports.Selection | None = None,
    deidentifier: Deidentifier | None = None,
    *,
    results_in_pass: bool = False,
) -> Iterator[exports.Table]:
    """Every table of the ZIP and the workbook, in order, for the selection.

    summary (derived scores and flags per study), change (baseline → follow-up, with each
    change's reliable change index), reliable_change (the r, SD1 and practice behind each index),
    studies, one per test type, unclassified (results of no known type). A generator: each table
    is made when the one before it has been written, once the scores pass has noted the field
    names. With a `deidentifier` (`deidentifier_for`), every table comes de-identified.

    `results_in_pass` (the ZIP): the result tables' CSV rows are written while the scores pass
    reads each test (`ResultSpools`), so that a test is read and decoded once, not twice; their
    rows then come grouped by participant. Tables from here are written by `csv()` only.
    """
    selection = selection or exports.Selection()
    shown = unchanged if deidentifier is None else deidentifier.table
    results = ResultSpools(selection, shown) if results_in_pass else None
    scores = summaries.ScoresPass(
        selection, baseline_starts=selection.days_since_baseline, results=results
    )
    if deidentifier is not None and deidentifier.days_since_baseline:
        deidentifier.baseline_starts = scores.baseline_starts
    yield shown(summaries.summary_table(scores))
    yield shown(summaries.change_table(scores))
    yield shown(summaries.reliable_change_table())
    yield shown(exports.studies_table(selection))
    scores.run()  # normally done already: the summary table was written
    if results is not None:
        yield from results.tables(scores.fields_seen)
        return
    for test_type in exports.EXPORTABLE_TEST_TYPES:
        yield shown(exports.result_table(test_type, selection, scores.fields_seen))


def deidentifier_for(
    selection: exports.Selection, scores=None, run_pass: bool = True
) -> Deidentifier | None:
    """The de-identifier of a selection that asks for one (None otherwise).

    Days since baseline need each participant's baseline start: from `scores` (a pass that will
    run before the rows are written), or else from a pass run here, first (unless `run_pass` is
    false: `tables()` hands it its own pass's).
    """
    if not selection.deidentified:
        return None
    starts = None
    if selection.days_since_baseline and run_pass:
        if scores is None:
            scores = summaries.ScoresPass(selection, baseline_starts=True)
            scores.run()
        starts = scores.baseline_starts
    return Deidentifier(selection.days_since_baseline, starts)


def one_csv(selection: exports.Selection, make, scores=None) -> Iterator[bytes]:
    """One table as a CSV download: `make()` builds it; de-identified when the selection says."""
    deidentifier = deidentifier_for(selection, scores)
    table = make()
    yield from (table if deidentifier is None else deidentifier.table(table)).csv()


def notes_of(selection: exports.Selection, deidentifier: Deidentifier | None):
    """The codebook's notes for every file, read when the codebook is written (last)."""
    return lambda: selection.notes() + (deidentifier.notes() if deidentifier else [])


# The codebook's `file` for what holds for every file of the download (its window, for example).
EVERY_FILE = "*"


def codebook_table(described: Iterable[exports.Table], notes=()) -> exports.Table:
    """codebook: one row per column of every table: file, column, type, unit, values, meaning.

    `notes` ((topic, text) pairs, `Selection.notes()`) come first, under the file name "*": what
    holds for every file of the download, such as the window of time it covers.
    """
    entries = [(EVERY_FILE, topic, "", "", "", text) for topic, text in _called(notes)]
    entries += [
        (table.file_name, c.name, c.value_type, c.unit, c.values, c.description)
        for table in described
        for c in table.columns
    ]
    columns = tuple(exports.Column(name, "") for name in CODEBOOK_COLUMNS)
    return exports.Table(CODEBOOK, columns, lambda convert: ([*map(convert, e)] for e in entries))


def _called(notes):
    return notes() if callable(notes) else notes


# --- the ZIP -----------------------------------------------------------------------------------


def zip_archive(selection: exports.Selection | None = None) -> Iterator[bytes]:
    """The ZIP of every table as CSV, then codebook.csv, built while it is sent."""
    selection = selection or exports.Selection()
    deidentifier = deidentifier_for(selection, run_pass=False)
    return zip_of(
        tables(selection, deidentifier, results_in_pass=True),
        notes_of(selection, deidentifier),
        created=utc_iso(selection.window.until),
    )


def zip_of(members: Iterable[exports.Table], notes=(), created: str = "") -> Iterator[bytes]:
    """These tables as CSV files, then their codebook.csv and datapackage.json (a Frictionless
    Data Package describing every CSV), zipped as sent: no temporary file."""
    written: list[exports.Table] = []

    def files():
        for table in members:
            written.append(table)
            yield table.file_name, table.csv
        codebook = codebook_table(written, notes)
        written.append(codebook)
        yield codebook.file_name, codebook.csv
        described = datapackage.descriptor(written, created=created, notes=_called(notes))
        yield datapackage.FILE_NAME, lambda: iter([datapackage.json_bytes(described)])

    return zip_streams(files())


def zip_streams(files: Iterable[tuple[str, Callable[[], Iterable[bytes]]]]) -> Iterator[bytes]:
    """A ZIP of (name, chunks()) files, each made when the one before it is written, as sent."""
    pipe = _Pipe()
    with zipfile.ZipFile(
        pipe, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_COMPRESSLEVEL
    ) as archive:
        for name, chunks in files:
            # force_zip64: the size is not known up front, and a member may pass 4 GiB.
            with archive.open(name, "w", force_zip64=True) as member:
                for chunk in chunks():
                    member.write(chunk)
                    if data := pipe.drain():
                        yield data
            if data := pipe.drain():
                yield data
    # Closing the archive wrote its central directory.
    yield pipe.drain()


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


# --- the workbook ------------------------------------------------------------------------------


def write_workbook(output, selection: exports.Selection | None = None) -> None:
    """Write the researchers' workbook (every table as a sheet, then the codebook) to a path or
    binary file."""
    selection = selection or exports.Selection()
    deidentifier = deidentifier_for(selection, run_pass=False)
    written: list[exports.Table] = []

    def sheets():
        for table in tables(selection, deidentifier):
            written.append(table)
            yield workbook.Sheet(table.name, table.header, table.rows(exports.as_is))
        codebook = codebook_table(written, notes_of(selection, deidentifier))
        yield workbook.Sheet(codebook.name, codebook.header, codebook.rows(exports.as_is))

    workbook.write_workbook(output, sheets())


def workbook_chunks(selection: exports.Selection | None = None) -> Iterator[bytes]:
    """The workbook's bytes in pieces: an .xlsx is a ZIP finished last, so it is written to an
    anonymous temporary file first (xlsxwriter keeps each sheet's rows on disk, not in memory).
    """
    with tempfile.TemporaryFile() as handle:
        write_workbook(handle, selection)
        handle.seek(0)
        while piece := handle.read(FILE_CHUNK_BYTES):
            yield piece
