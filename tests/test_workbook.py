"""The .xlsx writer: typed cells, formula-safe text, exact raw values, sheets past Excel's limit."""

from datetime import UTC, datetime, timedelta, timezone

import openpyxl

from intact import workbook
from intact.workbook import Sheet, write_workbook


def read_back(path):
    book = openpyxl.load_workbook(path)
    return {
        name: [list(row) for row in book[name].iter_rows(values_only=True)]
        for name in book.sheetnames
    }


def test_cells_keep_their_types_and_text_cannot_start_a_formula(tmp_path):
    path = tmp_path / "book.xlsx"
    moment = datetime(2026, 11, 20, 15, 3, 7, 512000, tzinfo=timezone(timedelta(hours=1)))
    rows = [
        {
            "text": '=HYPERLINK("http://x")',
            "number": 412,
            "flag": True,
            "when": moment,
            "missing": None,
        },
        {"text": "plain", "number": 0.6667, "flag": False, "when": None, "missing": None},
        {"text": "-2+3", "number": 1_700_000_000_000, "flag": None, "when": None, "missing": None},
        {
            "text": "@SUM(A1)",
            "number": 2**63 - 1,
            "flag": None,
            "when": None,
            "missing": {"a": [1]},
        },
    ]
    write_workbook(path, [Sheet("data", ("text", "number", "flag", "when", "missing"), rows)])
    table = read_back(path)["data"]
    assert table[0] == ["text", "number", "flag", "when", "missing"]
    assert table[1] == [
        '\'=HYPERLINK("http://x")',
        412,
        True,
        datetime(2026, 11, 20, 14, 3, 7, 512000),
        None,
    ]
    assert table[2] == ["plain", 0.6667, False, None, None]
    assert table[3] == ["'-2+3", 1_700_000_000_000, None, None, None]
    # Past 2**53 a double cannot hold the value: it is kept exact as text.
    assert table[4] == ["'@SUM(A1)", str(2**63 - 1), None, None, '{"a": [1]}']


def test_rows_may_be_sequences_in_column_order(tmp_path):
    path = tmp_path / "book.xlsx"
    write_workbook(path, [Sheet("one", ("a", "b"), [(1, "x"), (2, "y")]), Sheet("two", ("c",), [])])
    assert read_back(path) == {"one": [["a", "b"], [1, "x"], [2, "y"]], "two": [["c"]]}


def test_a_table_longer_than_excel_allows_goes_on_in_a_second_sheet(tmp_path, monkeypatch):
    monkeypatch.setattr(workbook, "EXCEL_MAX_ROWS", 4)  # header + 3 rows per sheet
    path = tmp_path / "book.xlsx"
    write_workbook(path, [Sheet("raw", ("n",), ({"n": n} for n in range(7)))])
    sheets = read_back(path)
    assert list(sheets) == ["raw", "raw (2)", "raw (3)"]
    assert sheets["raw"] == [["n"], [0], [1], [2]]
    assert sheets["raw (2)"] == [["n"], [3], [4], [5]]
    assert sheets["raw (3)"] == [["n"], [6]]


def test_naive_datetimes_are_taken_as_utc(tmp_path):
    path = tmp_path / "book.xlsx"
    naive = datetime(2026, 1, 5, 10, 0)
    write_workbook(
        path, [Sheet("t", ("when",), [{"when": naive}, {"when": naive.replace(tzinfo=UTC)}])]
    )
    assert read_back(path)["t"][1:] == [[naive], [naive]]
