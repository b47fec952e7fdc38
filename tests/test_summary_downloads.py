"""Downloads of the derived scores: summary.csv, the .xlsx workbook, and both in the ZIP."""

import csv
import io
import zipfile

import openpyxl
import pytest
from conftest import TEST_PASSWORD, load_sample, log_in

from intact import downloads, scoring, summaries
from intact.reliable_change import method

SUMMARY_URL = "/tests/summary/download-file"
WORKBOOK_URL = "/tests/workbook/download-file"


@pytest.fixture
def scored_data(client, make_study):
    """P1 with a baseline and a follow-up, P2 with a baseline; each has the CRT sample."""
    for participant_id, study_type in (("P1", "baseline"), ("P1", "followup"), ("P2", "baseline")):
        study = make_study(participant_id, study_type)
        sample = load_sample("choice_reaction_time", study["study_id"])
        assert client.post("/tests", json=sample).status_code == 200


def csv_of(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_summary_csv_download(client, scored_data):
    response = client.post(SUMMARY_URL, data={"password": TEST_PASSWORD})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == "attachment; filename=summary.csv"
    assert response.headers["Cache-Control"] == "no-store"
    rows = csv_of(response.data)
    assert list(rows[0]) == list(scoring.SUMMARY_COLUMNS)
    # By participant, then study id: make_study's ids are studyaaa, studyaa1, studyaa2.
    assert [(r["participant_id"], r["study_id"], r["study_type"]) for r in rows] == [
        ("P1", "studyaa1", "followup"),
        ("P1", "studyaaa", "baseline"),
        ("P2", "studyaa2", "baseline"),
    ]
    assert {r["crt_accuracy"] for r in rows} == {"0.5"}
    assert {r["crt_flag_incomplete"] for r in rows} == {"true"}


def test_summary_csv_of_one_participant(client, scored_data):
    response = client.post(SUMMARY_URL, data={"password": TEST_PASSWORD, "participant_id": "P2"})
    assert [r["participant_id"] for r in csv_of(response.data)] == ["P2"]


@pytest.mark.parametrize("url", [SUMMARY_URL, WORKBOOK_URL, SUMMARY_URL + "/"])
def test_downloads_need_the_admin_password(client, url):
    response = client.post(url, data={"password": "wrong"})
    assert response.status_code == 401
    assert response.json["message"] == "Wrong admin password"


@pytest.mark.parametrize("url", [SUMMARY_URL, WORKBOOK_URL])
def test_a_bad_participant_id_is_a_400_naming_the_field(client, url):
    response = client.post(url, data={"password": TEST_PASSWORD, "participant_id": "P 1;"})
    assert response.status_code == 400
    assert "participant_id" in response.json["message"]


def test_workbook_download(client, scored_data):
    response = client.post(WORKBOOK_URL, data={"password": TEST_PASSWORD})
    assert response.status_code == 200
    assert response.mimetype == downloads.XLSX_MIMETYPE
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=intact-scores-")
    assert disposition.endswith(".xlsx")
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.sheetnames[:4] == ["summary", "change", "reliable_change", "studies"]
    assert book.sheetnames[-1] == "codebook"
    assert book["choice_reaction_time"].max_row == 1 + 3 * 2  # two answers per test
    assert book["summary"].max_row == 1 + 3
    assert book["change"].max_row == 1 + 1  # P1's follow-up


def test_a_dashboard_session_can_download_with_its_csrf_token(client, scored_data):
    log_in(client)
    with client.session_transaction() as session:
        token = session["csrf_token"]
    refused = client.post(WORKBOOK_URL)  # a session without its CSRF token
    assert refused.status_code == 403
    response = client.post(WORKBOOK_URL, data={"csrf_token": token})
    assert response.status_code == 200
    assert response.data[:2] == b"PK"  # an .xlsx is a ZIP


def test_zip_holds_summary_and_change_with_their_codebook(client, scored_data):
    response = client.post("/tests/zip-archive/download-file", data={"password": TEST_PASSWORD})
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    summary = csv_of(archive.read("summary.csv"))
    change = csv_of(archive.read("change.csv"))
    assert len(summary) == 3
    assert [(r["participant_id"], r["crt_accuracy_change"]) for r in change] == [("P1", "0.0")]
    codebook = csv_of(archive.read("codebook.csv"))
    described = {(row["file"], row["column"]): row for row in codebook}
    median = described["summary.csv", "crt_rt_median_correct"]
    assert (median["type"], median["unit"]) == ("number or empty", "ms")
    assert "median of crt_rt over correct answers" in median["description"]
    assert [c for f, c in described if f == "change.csv"] == list(summaries.CHANGE_COLUMNS)
    assert [c for f, c in described if f == "reliable_change.csv"] == list(method.PARAMETER_COLUMNS)


def test_downloads_are_documented_in_the_openapi_spec(client):
    paths = client.get("/openapi.json").json["paths"]
    for url, content_type in (
        (SUMMARY_URL, "text/csv"),
        (WORKBOOK_URL, downloads.XLSX_MIMETYPE),
    ):
        operation = paths[url]["post"]
        assert content_type in operation["responses"]["200"]["content"]
        assert "401" in operation["responses"]
        assert operation["summary"].startswith("Download")
