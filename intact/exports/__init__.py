"""Everything a download is made of: tables and their cells, the ZIP and the workbook.

- `tables.py`: cells and CSV (one rule for every cell), `Column` and `Table`, the studies table
  and one table per test type (and unclassified results), with what each column means.
- `archive.py`: the two downloads of everything, the ZIP of CSV files and the workbook, built
  from one explicit list of tables, with the codebook that describes every column.

The derived scores' tables (summary, change) are made in intact/summaries.py from
intact/scoring.py; intact/downloads.py hands every file over. The names below are the tables'
public ones, so `from intact import exports; exports.Table` reads as before the package.
"""

from intact.exports.tables import (
    EXPORTABLE_TEST_TYPES,
    STUDIES_FILE,
    STUDY_COLUMNS,
    TEST_COLUMNS,
    Column,
    Table,
    cell,
    csv_chunks,
    result_table,
    scan_fields,
    studies_csv,
    studies_csv_from,
    studies_table,
    submission_extras,
    test_type_csv,
)

__all__ = [
    "EXPORTABLE_TEST_TYPES",
    "STUDIES_FILE",
    "STUDY_COLUMNS",
    "TEST_COLUMNS",
    "Column",
    "Table",
    "cell",
    "csv_chunks",
    "result_table",
    "scan_fields",
    "studies_csv",
    "studies_csv_from",
    "studies_table",
    "submission_extras",
    "test_type_csv",
]
