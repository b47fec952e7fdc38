"""De-identified downloads: no participant id, study id, link, note or unknown field leaves."""

import csv
import io
import re
import zipfile

import openpyxl
import pytest
from conftest import TEST_PASSWORD, TEST_PSEUDONYM_KEY

from intact import pseudonyms

ZIP_URL = "/tests/zip-archive/download-file"
DATA_FILES_DATE = re.compile(r"\b20\d\d-\d\d-\d\d")


def post(client, url, **form):
    response = client.post(url, data={"password": TEST_PASSWORD, **form})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def zip_files(response) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(response.data)) as files:
        return {name: files.read(name).decode() for name in files.namelist()}


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


# What the data set of `every_kind_of_result` holds that must not leave in a de-identified file.
IDENTIFYING = [
    "P1",  # participant ids (as whole cells: "P1" is also inside pseudonyms' hex? never: no P)
    "P2",
    "pbaseone",  # study ids, which are credentials
    "pfollone",
    "pbasetwo",
    "http://",  # links
    "Mozilla/5.0",  # whole user-agent strings
    "calc",  # the formula-like user agent of P2's odd test
    "tired",  # a note
    "flèche",  # an unknown field inside an answer
    "app_version",  # an unknown top-level field
]
PSEUDONYM = re.compile(r"^[pst][0-9a-f]{20}$")


def test_a_deidentified_zip_holds_no_identifier_in_any_file(client, every_kind_of_result):
    files = zip_files(post(client, ZIP_URL, deidentified="true"))
    for name, text in files.items():
        if name in {"codebook.csv", "datapackage.json"}:
            continue  # they name what was removed (column names), never a value
        cells = [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]
        for cell in cells:
            if not PSEUDONYM.match(cell):
                assert not [found for found in IDENTIFYING if found in cell], (name, cell)
    studies = rows(files["studies.csv"])
    assert set(studies[0]) >= {"participant_pseudonym", "study_pseudonym", "study_type"}
    assert not {"participant_id", "study_id", "url", "batch_id"} & set(studies[0])
    crt = rows(files["choice_reaction_time.csv"])
    assert {(row["browser"], row["operating_system"]) for row in crt} >= {("Other", "Other")}
    assert not {"notes", "app_version", "crt_stimulus", "device_info"} & set(crt[0])
    assert "result" not in rows(files["unclassified.csv"])[0]


def test_pseudonyms_are_the_keyed_codes_and_link_baseline_and_followup(
    client, every_kind_of_result
):
    first = zip_files(post(client, ZIP_URL, deidentified="true"))
    again = zip_files(post(client, ZIP_URL, deidentified="true"))
    coder = pseudonyms.Pseudonymiser(TEST_PSEUDONYM_KEY)
    summary = rows(first["summary.csv"])
    assert summary == rows(again["summary.csv"])  # stable across downloads
    p1 = coder.participant("P1")
    assert {row["study_pseudonym"] for row in summary if row["participant_pseudonym"] == p1} == {
        coder.study("pbaseone"),
        coder.study("pfollone"),
    }
    (change,) = [row for row in rows(first["change.csv"]) if row["participant_pseudonym"] == p1]
    assert change["baseline_study_pseudonym"] == coder.study("pbaseone")
    assert change["followup_study_pseudonym"] == coder.study("pfollone")
    assert change["followup_number"] == "1"


def test_days_since_baseline_replace_every_date(client, every_kind_of_result):
    files = zip_files(post(client, ZIP_URL, deidentified="true", days_since_baseline="true"))
    for name, text in files.items():
        if name not in {"codebook.csv", "datapackage.json"}:  # the window's dates, not data
            assert not DATA_FILES_DATE.search(text), name
    later = [row for row in rows(files["delayed_recall.csv"]) if row["study_type"] == "followup"]
    assert later and all(float(row["time_started_days"]) > 0 for row in later)
    summary = rows(files["summary.csv"])
    baseline = [r for r in summary if r["study_type"] == "baseline" and r["started_at_days"]]
    assert {row["started_at_days"] for row in baseline} == {"0.0"}


def test_the_codebook_says_what_was_removed_or_transformed(client, every_kind_of_result):
    files = zip_files(post(client, ZIP_URL, deidentified="true"))
    notes = {
        row["column"]: row["description"]
        for row in rows(files["codebook.csv"])
        if row["file"] == "*"
    }
    assert "HMAC-SHA-256" in notes["participant_id"]
    assert "credentials" in notes["study_id"]
    assert "browser" in notes["device_info"]
    removed = notes["removed from choice_reaction_time.csv"].split(", ")
    assert set(removed) == {"crt_stimulus", "app_version", "notes"}


@pytest.mark.parametrize(
    ("url", "form"),
    [
        ("/studies/download-file", {}),
        ("/tests/single-test-type/download-file", {"test_type": "choice_reaction_time"}),
        ("/tests/summary/download-file", {}),
    ],
)
def test_single_files_can_be_deidentified_too(client, every_kind_of_result, url, form):
    response = post(client, url, deidentified="true", participant_id="P2", **form)
    text = response.get_data(as_text=True)
    disposition = response.headers["Content-Disposition"]
    assert "deidentified" in disposition
    assert "P2" not in disposition  # not even the file name names the participant
    assert "pbasetwo" not in text
    assert "participant_pseudonym" in text.splitlines()[0]


def test_a_deidentified_workbook_has_the_same_columns(client, every_kind_of_result):
    response = post(client, "/tests/workbook/download-file", deidentified="true")
    book = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)
    header = next(book["studies"].iter_rows(values_only=True))
    assert "study_pseudonym" in header
    assert "url" not in header


def test_a_reissued_link_names_the_study_it_replaces_by_pseudonym_only(
    app, client, every_kind_of_result
):
    """`replaces` holds the deactivated study's id, a credential like every study id."""
    from intact import db
    from intact.participants import lifecycle

    with app.test_request_context():
        new = lifecycle.reissue("pfollone", "lost the link")
        with app.app_context():
            study_ids = db.studies().distinct("study_id")
    files = zip_files(post(client, ZIP_URL, deidentified="true"))
    for name, text in files.items():
        if name in {"codebook.csv", "datapackage.json"}:
            continue
        leaked = [study_id for study_id in study_ids if study_id in text]
        assert not leaked, (name, leaked)
    studies = rows(files["studies.csv"])
    assert "replaces" not in studies[0]
    codes = pseudonyms.Pseudonymiser(TEST_PSEUDONYM_KEY)
    (reissued,) = [row for row in studies if row["study_pseudonym"] == codes.study(new["study_id"])]
    assert reissued["replaces_study_pseudonym"] == codes.study("pfollone")
