"""Everything a download is made of: tables and their cells, the ZIP and the workbook.

- `tables.py`: cells and CSV (one rule for every cell), `Column` and `Table`, the studies table
  and one table per test type (and unclassified results), with what each column means.
- `selection.py`: what a download holds (`Selection`): whose data, which window of time
  (`since`), identifiable or de-identified.
- `deidentify.py`: de-identified tables (pseudonyms, device families, removed columns).
- `datapackage.py`: datapackage.json, the ZIP's files described as a Frictionless Data Package.
- `redcap.py`: the scores as a longitudinal REDCap project's import, data dictionary, events.
- `archive.py`: the two downloads of everything, the ZIP of CSV files and the workbook, built
  from one explicit list of tables, with the codebook that describes every column.

The derived scores' tables (summary, change) are made in intact/summaries.py from
intact/scoring.py; intact/downloads.py hands every file over. The names below are the tables'
public ones, so `from intact import exports; exports.Table` reads as before the package.
"""

from intact.exports.selection import OPTIONS, Selection, SelectionSchema, Window, options_of
from intact.exports.tables import (
    EXPORTABLE_TEST_TYPES,
    STUDIES_FILE,
    STUDY_COLUMNS,
    TEST_COLUMNS,
    Column,
    FieldsSeen,
    Table,
    as_is,
    cell,
    csv_chunks,
    finish_fields,
    note_fields,
    result_table,
    scan_fields,
    studies_csv,
    studies_csv_from,
    studies_table,
    submission_extras,
    test_type_csv,
)

__all__ = [
    "OPTIONS",
    "SelectionSchema",
    "options_of",
    "EXPORTABLE_TEST_TYPES",
    "STUDIES_FILE",
    "STUDY_COLUMNS",
    "TEST_COLUMNS",
    "Column",
    "FieldsSeen",
    "Selection",
    "Table",
    "Window",
    "as_is",
    "cell",
    "csv_chunks",
    "finish_fields",
    "note_fields",
    "result_table",
    "scan_fields",
    "studies_csv",
    "studies_csv_from",
    "studies_table",
    "submission_extras",
    "test_type_csv",
]
