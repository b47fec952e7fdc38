"""The ZIP's result tables, written while its scores pass reads the tests: one decoding a test.

The ZIP's summary and change come from a pass that reads every test of the download grouped by
participant (`summaries.ScoresPass`). Decoding a test's BSON is a fifth of the ZIP's time, and the
result tables (one per test type) used to read and decode every test a second time. Here each
test the pass meets in the download's window is written at once as its table's CSV rows, into
that table's spool (memory up to `SPOOL_BYTES`, then an anonymous temporary file), and the ZIP
copies the spool when the table's turn comes: memory stays flat in the number of tests.

The rows are those `exports.result_table` would make, de-identified when the download is
(`shown`), grouped by participant rather than in the order the tests were stored. A table's
columns depend on every test of the window (fields beyond the schema, `FieldsSeen`), known only
once the pass is over; the spools write the schema's columns, and a table whose tests turn out to
have more fields is read again from the database, as before (rare: a front-end sending fields the
schemas do not declare).
"""

import io
import tempfile
from collections.abc import Callable, Iterator

from intact import cooperative
from intact.exports.selection import Selection
from intact.exports.tables import (
    CHUNK_CHARS,
    EXPORTABLE_TEST_TYPES,
    ResultCsvWriter,
    Table,
    cell,
    csv_writer,
    result_layout,
    result_parts,
    result_table,
    table_of_results,
)
from intact.testtypes import TEST_TYPES, UNCLASSIFIED

# In memory per table before its spool moves to a temporary file, and text written at a time:
# seven tables at once, so less than the other downloads' 64 KiB pieces (measured at 1,000
# participants: the ZIP's Python peak is 2.7 MiB without spools, 5.4 MiB with 256 KiB each).
SPOOL_BYTES = 32 * 1024
SPOOL_TEXT_CHARS = 16 * 1024
# Tests rendered together: one pass of a table's row generators for several tests.
BATCH_TESTS = 16


def unchanged(table: Table) -> Table:
    """The table as it is (an identifiable download's `shown`)."""
    return table


class _Spool:
    """One result table's CSV rows (no header), written as its tests are handed over."""

    def __init__(self, test_type: str, shown: Callable[[Table], Table]):
        self.waiting: list[dict] = []
        # The table of the schema's columns, its rows made from `waiting`.
        self.fed_layout = result_layout(test_type)
        self.fed = table_of_results(self.fed_layout, lambda: self.waiting)
        self.shown = shown(self.fed)
        self._text = io.StringIO()
        self._writer = csv_writer(self._text)
        self._results = ResultCsvWriter(self._text)
        # Read back once, when the ZIP writes the table (no `with`: it outlives this call).
        self.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115

    def add(self, test: dict) -> None:
        self.waiting.append(test)
        if len(self.waiting) >= BATCH_TESTS:
            self.flush()

    def flush(self) -> None:
        """Write the waiting tests' rows."""
        if self.waiting:
            if self.shown is self.fed:
                for own, rests in result_parts(self.fed_layout, self.waiting, cell):
                    self._results.write(own, rests)
            else:
                self._writer.writerows(self.shown.rows(cell))
            self.waiting.clear()
            cooperative.turn()
        if self._text.tell() >= SPOOL_TEXT_CHARS:
            self._move_text()

    def _move_text(self) -> None:
        self.file.write(self._text.getvalue().encode())
        self._text.seek(0)
        self._text.truncate()

    def chunks(self) -> Iterator[bytes]:
        """The rows written, as UTF-8 CSV in pieces; closes the spool."""
        self.flush()
        self._move_text()
        with self.file:
            self.file.seek(0)
            while piece := self.file.read(CHUNK_CHARS):
                yield piece


class ResultSpools:
    """Every result table of one download, filled test by test during its scores pass.

    `shown(table)` gives a table as the download shows it (`Deidentifier.table`, or `unchanged`).
    """

    def __init__(self, selection: Selection, shown: Callable[[Table], Table] = unchanged):
        self._selection = selection
        self._shown = shown
        self._spools = {name: _Spool(name, shown) for name in EXPORTABLE_TEST_TYPES}

    def add(self, test: dict) -> None:
        """Write one test of the window (a decoded document) into its table."""
        name = test.get("test_type")
        self._spools[name if name in TEST_TYPES else UNCLASSIFIED].add(test)

    def tables(self, fields_seen: dict) -> Iterator[Table]:
        """Each result table as shown, in `EXPORTABLE_TEST_TYPES` order, once the pass is over.

        `fields_seen`: the pass's field names ({test_type: FieldsSeen}). A table whose columns are
        the schema's is its spool; one with more columns is read again from the database.
        """
        for name, spool in self._spools.items():
            read_again = result_table(name, self._selection, fields_seen)
            if read_again.columns != spool.fed.columns:
                spool.file.close()
                yield self._shown(read_again)
                continue
            shown = spool.shown
            yield Table(
                shown.name,
                shown.columns,
                self._shown(read_again).rows,
                primary_key=shown.primary_key,
                foreign_keys=shown.foreign_keys,
                written=spool.chunks,
            )
