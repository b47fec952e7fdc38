"""The two downloads of everything: the ZIP of CSV files and the researchers' workbook (.xlsx).

Both are made of one list of tables, `tables()`: the ZIP writes each as `<name>.csv`, the
workbook as a sheet `<name>`, in the same order, and both add the codebook that describes every
column of every table (first in the ZIP, last in the workbook). To add a file to both, add its
table to that list. Rows are read from the database while the file is written, one document at a
time: memory stays flat whatever the data size.
"""

import tempfile
import zipfile
from collections.abc import Iterable, Iterator

from intact import exports, summaries, workbook

CODEBOOK = "codebook"
CODEBOOK_COLUMNS = ("file", "column", "type", "unit", "values", "description")
# zlib's default level. Measured on bench/exports.py's 19 MB of CSV: level 1 took 2.81 s for
# 1.27 MB, level 6 2.97 s for 1.03 MB, level 9 5.24 s for 0.94 MB (writing the CSV dominates).
ZIP_COMPRESSLEVEL = 6
FILE_CHUNK_BYTES = 64 * 1024


def tables(participant_id: str | None = None) -> list[exports.Table]:
    """Every table of the ZIP and the workbook, in order, for everyone or one participant.

    studies, one per test type, unclassified (results of no known type), summary (derived
    scores and flags per study) and change (baseline → follow-up). Test tables' columns depend on
    the extra fields stored, so this reads every test's field names once (`exports.scan_fields`).
    """
    seen = exports.scan_fields(participant_id)
    return [
        exports.studies_table(participant_id),
        *(
            exports.result_table(test_type, participant_id, seen)
            for test_type in exports.EXPORTABLE_TEST_TYPES
        ),
        summaries.summary_table(participant_id),
        summaries.change_table(participant_id),
    ]


def codebook_table(described: Iterable[exports.Table]) -> exports.Table:
    """codebook: one row per column of every table: file, column, type, unit, values, meaning."""
    entries = [
        (table.file_name, c.name, c.value_type, c.unit, c.values, c.description)
        for table in described
        for c in table.columns
    ]
    columns = tuple(exports.Column(name, "") for name in CODEBOOK_COLUMNS)
    return exports.Table(CODEBOOK, columns, lambda: entries)


# --- the ZIP -----------------------------------------------------------------------------------


def zip_archive(participant_id: str | None = None) -> Iterator[bytes]:
    """The ZIP of every table as CSV, codebook.csv first, built while it is sent."""
    return zip_of(tables(participant_id))


def zip_of(members: list[exports.Table]) -> Iterator[bytes]:
    """These tables as CSV files after their codebook.csv, zipped as sent: no temporary file."""
    pipe = _Pipe()
    with zipfile.ZipFile(
        pipe, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_COMPRESSLEVEL
    ) as archive:
        for table in (codebook_table(members), *members):
            # force_zip64: the size is not known up front, and a member may pass 4 GiB.
            with archive.open(table.file_name, "w", force_zip64=True) as member:
                for chunk in table.csv():
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


def write_workbook(output, participant_id: str | None = None) -> None:
    """Write the researchers' workbook (every table as a sheet, then the codebook) to a path or
    binary file."""
    sheets = tables(participant_id)
    sheets.append(codebook_table(sheets))
    workbook.write_workbook(
        output, (workbook.Sheet(table.name, table.header, table.rows()) for table in sheets)
    )


def workbook_chunks(participant_id: str | None = None) -> Iterator[bytes]:
    """The workbook's bytes in pieces: an .xlsx is a ZIP finished last, so it is written to an
    anonymous temporary file first (xlsxwriter keeps each sheet's rows on disk, not in memory).
    """
    with tempfile.TemporaryFile() as handle:
        write_workbook(handle, participant_id)
        handle.seek(0)
        while piece := handle.read(FILE_CHUNK_BYTES):
            yield piece
