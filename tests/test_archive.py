"""The ZIP and the workbook hold the same tables, row for row, for everyone or one participant."""

import csv
import io
import zipfile
from datetime import datetime

import openpyxl
import pytest
from conftest import TEST_PASSWORD

from intact.exports import archive
from intact.testtypes import TEST_TYPES
from intact.timestamps import utc_iso

ZIP_URL = "/tests/zip-archive/download-file"
WORKBOOK_URL = "/tests/workbook/download-file"


def download(client, url, participant_id):
    form = {"password": TEST_PASSWORD}
    if participant_id:
        form["participant_id"] = participant_id
    response = client.post(url, data=form)
    assert response.status_code == 200, response.get_data(as_text=True)
    return io.BytesIO(response.data)


def zip_tables(client, participant_id) -> dict[str, list[list[str]]]:
    """{table name: rows, header first} of the ZIP, in member order."""
    with zipfile.ZipFile(download(client, ZIP_URL, participant_id)) as files:
        return {
            name.removesuffix(".csv"): list(
                csv.reader(io.StringIO(files.read(name).decode("utf-8"), newline=""))
            )
            for name in files.namelist()
            if name.endswith(".csv")
        }


def workbook_tables(client, participant_id) -> dict[str, list[tuple]]:
    """{sheet name: rows, header first} of the workbook, in sheet order."""
    book = openpyxl.load_workbook(download(client, WORKBOOK_URL, participant_id), read_only=True)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


def as_csv_text(value):
    """A typed workbook cell as the CSV writes the same value (numbers are compared as numbers)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return utc_iso(value)
    return value


def same_cell(text: str, value) -> bool:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return text != "" and float(text) == value
    return text == as_csv_text(value)


@pytest.mark.parametrize("participant_id", [None, "P1", "P2"])
def test_zip_files_and_workbook_sheets_are_the_same_tables(
    client, every_kind_of_result, participant_id
):
    files = zip_tables(client, participant_id)
    sheets = workbook_tables(client, participant_id)
    # The same tables in one order, the codebook last in both.
    assert list(files) == list(sheets)
    assert list(files)[-1] == archive.CODEBOOK
    # Notes for every file ("*") say when each download was asked for: the two differ there.
    for tables in (files, sheets):
        notes = [row for row in tables[archive.CODEBOOK] if row[0] == archive.EVERY_FILE]
        assert [row[1] for row in notes] == ["window", *(["participant"] if participant_id else [])]
        tables[archive.CODEBOOK] = [r for r in tables[archive.CODEBOOK] if r not in notes]
    for name, rows in files.items():
        sheet = sheets[name]
        assert len(sheet) == len(rows), name
        for number, (row, sheet_row) in enumerate(zip(rows, sheet, strict=True)):
            assert len(sheet_row) == len(row), (name, number)
            mismatched = [
                (column, text, value)
                for column, text, value in zip(rows[0], row, sheet_row, strict=True)
                if not same_cell(text, value)
            ]
            assert not mismatched, (name, number, mismatched)

    # The data set holds every test type, and only the chosen participant's rows.
    if participant_id != "P2":
        assert all(len(files[test_type]) > 1 for test_type in TEST_TYPES)
    for name, (header, *body) in files.items():
        if "participant_id" in header and participant_id:
            column = header.index("participant_id")
            assert {row[column] for row in body} <= {participant_id}, name
    # One real unclassified test: P1's, and nobody else's tests listed again beside it.
    expected_unclassified = 0 if participant_id == "P2" else 1
    assert len(files["unclassified"]) - 1 == expected_unclassified
    header, *unclassified = files["unclassified"]
    assert all(row[header.index("result")] == "[]" for row in unclassified)
