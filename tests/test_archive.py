"""The ZIP and the workbook hold the same tables, row for row, for everyone or one participant."""

import csv
import io
import zipfile
from datetime import datetime

import openpyxl
import pytest
from conftest import CONTRACT_SAMPLES, TEST_PASSWORD, load_sample

from intact.exports import archive
from intact.testtypes import TEST_TYPES
from intact.timestamps import utc_iso

ZIP_URL = "/tests/zip-archive/download-file"
WORKBOOK_URL = "/tests/workbook/download-file"


@pytest.fixture
def every_kind_of_result(client, make_study):
    """P1: a baseline with every contract sample (every test type, one empty answer list: the
    one real unclassified test) and a follow-up; P2: a baseline with extra fields and odd text."""
    p1_baseline = make_study("P1", "baseline", study_id="pbaseone")
    p1_followup = make_study("P1", "followup", study_id="pfollone")
    p2_baseline = make_study("P2", "baseline", study_id="pbasetwo")
    submissions = [load_sample(name, p1_baseline["study_id"]) for name in CONTRACT_SAMPLES]
    for name in ("immediate_recall", "choice_reaction_time", "delayed_recall"):
        later = load_sample(name, p1_followup["study_id"])
        later["time_started"] = "2027-05-20T09:30:00.250Z"
        submissions.append(later)
    odd = load_sample("choice_reaction_time", p2_baseline["study_id"])
    odd["result"][0]["crt_stimulus"] = {"shape": "flèche", "side": "left"}
    odd["device_info"] = "=cmd|' /C calc'!A0"
    odd["app_version"] = "2.1"
    odd["notes"] = "Participant «tired»"
    submissions += [odd, load_sample("spatial_memory", p2_baseline["study_id"])]
    for submission in submissions:
        response = client.post("/tests", json=submission)
        assert response.status_code == 200, response.json


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
    # The codebook is the ZIP's first file and the workbook's last sheet; the rest in one order.
    assert list(files)[0] == list(sheets)[-1] == archive.CODEBOOK
    assert list(files)[1:] == list(sheets)[:-1]
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
