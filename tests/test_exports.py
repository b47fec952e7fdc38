"""Exports: CSV contents cell by cell, extra fields, the ZIP, the codebook, participant filters."""

import csv
import io
import re
import threading
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import TEST_PASSWORD, load_sample, serving

from intact import create_app, db, exports
from intact.scoring import ALL_SCORE_COLUMNS
from intact.testtypes import TEST_TYPES

FIXED = [
    "participant_id",
    "study_id",
    "study_type",
    "followup_number",
    "test_id",
    "test_type",
    "time_started",
    "time_elapsed_milliseconds",
    "device_info",
]
STARTED = "2026-11-20T14:03:07.512Z"
ELAPSED = "41873"
IPHONE = load_sample("delayed_recall", "x")["device_info"]


def post_download(client, path, **form):
    response = client.post(path, data={"password": TEST_PASSWORD, **form})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def rows_of_type(client, test_type, **form):
    response = post_download(
        client, "/tests/single-test-type/download-file", test_type=test_type, **form
    )
    return list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))


def zip_archive(client, **form):
    response = post_download(client, "/tests/zip-archive/download-file", **form)
    return zipfile.ZipFile(io.BytesIO(response.data))


def csv_rows(archive, name):
    return list(csv.reader(io.StringIO(archive.read(name).decode("utf-8"), newline="")))


@pytest.fixture
def store_result(app, client):
    """Submit like the front-end (POST /tests) and return the test as stored."""

    def submit(study, submission, *, extra=None, notes=None):
        assert submission["study_id"] == study["study_id"]
        body = {**submission, **(extra or {})}
        if notes is not None:
            body["notes"] = notes
        response = client.post("/tests", json=body)
        assert response.status_code == 200, response.json
        with app.app_context():
            return db.tests().find_one({"test_id": response.json["test_id"]}, {"_id": 0})

    return submit


@pytest.fixture
def study(make_study):
    return make_study(study_id="abcdefgh", participant_id="P001", study_type="baseline")


# --- one of each test type, cell by cell -------------------------------------------------------


def test_immediate_recall_is_one_row_per_test(client, study, store_result):
    first = store_result(study, load_sample("immediate_recall", study["study_id"]))
    second = store_result(study, load_sample("immediate_recall_first_try", study["study_id"]))
    base = ["P001", "abcdefgh", "baseline", ""]
    assert rows_of_type(client, "immediate_recall") == [
        [*FIXED, "ir_rt_first", "ir_rt_second", "ir_score"],
        [
            *base,
            first["test_id"],
            "immediate_recall",
            STARTED,
            ELAPSED,
            IPHONE,
            "8421",
            "6307",
            "1",
        ],
        [*base, second["test_id"], "immediate_recall", STARTED, ELAPSED, IPHONE, "7012", "", "2"],
    ]


def test_choice_reaction_time_is_one_row_per_answer(client, study, store_result):
    test = store_result(study, load_sample("choice_reaction_time", study["study_id"]))
    fixed = [*fixed_cells(test, "choice_reaction_time")]
    assert rows_of_type(client, "choice_reaction_time") == [
        [*FIXED, "question_number", "crt_rt", "crt_correct", "crt_response", "crt_dwell"],
        [*fixed, "1", "412", "true", "right", "96"],
        [*fixed, "2", "388", "false", "left", "110"],
    ]


def test_visual_paired_associates_is_one_row_per_answer(client, study, store_result):
    test = store_result(study, load_sample("visual_paired_associates", study["study_id"]))
    fixed = fixed_cells(test, "visual_paired_associates")
    assert rows_of_type(client, "visual_paired_associates") == [
        [*FIXED, "question_number", "vpa_rt", "vpa_correct", "vpa_response"],
        [*fixed, "1", "2210", "true", "bar3.jpg"],
        [*fixed, "2", "3975", "false", "lobby2.jpg"],
        [*fixed, "3", "1840", "true", "underwater8.jpg"],
    ]


def test_digit_symbol_matching_is_one_row_per_answer(client, study, store_result):
    test = store_result(study, load_sample("digit_symbol_matching", study["study_id"]))
    fixed = fixed_cells(test, "digit_symbol_matching")
    assert rows_of_type(client, "digit_symbol_matching") == [
        [*FIXED, "question_number", "dsm_rt", "dsm_correct", "dsm_response"],
        [*fixed, "1", "1530", "true", "3"],
        [*fixed, "2", "1212", "true", "1"],
    ]


def test_spatial_memory_is_one_row_per_answer(client, study, store_result):
    test = store_result(study, load_sample("spatial_memory", study["study_id"]))
    fixed = fixed_cells(test, "spatial_memory")
    assert rows_of_type(client, "spatial_memory") == [
        [*FIXED, "question_number", "sm_rt", "sm_correct"],
        [*fixed, "1", "5230", "true"],
        [*fixed, "2", "6110", "false"],
    ]


def test_delayed_recall_is_one_row_per_test_and_zero_is_a_score(client, study, store_result):
    four = store_result(study, load_sample("delayed_recall", study["study_id"]))
    none = store_result(study, load_sample("delayed_recall_none_recalled", study["study_id"]))
    assert rows_of_type(client, "delayed_recall") == [
        [*FIXED, "dr_rt", "dr_score"],
        [*fixed_cells(four, "delayed_recall"), "9120", "4"],
        [*fixed_cells(none, "delayed_recall"), "15002", "0"],
    ]


def test_empty_results_go_to_unclassified_with_the_result_as_json(client, study, store_result):
    sample = load_sample("spatial_memory_timed_out_no_answer", study["study_id"])
    test = store_result(study, sample)
    assert test["test_type"] == "unclassified"
    assert rows_of_type(client, "unclassified") == [
        [*FIXED, "result"],
        [*fixed_cells(test, "unclassified"), "[]"],
    ]


def fixed_cells(test, test_type):
    return [
        "P001",
        "abcdefgh",
        "baseline",
        "",
        test["test_id"],
        test_type,
        STARTED,
        ELAPSED,
        IPHONE,
    ]


def test_every_field_is_quoted_utf8_with_crlf(client, study, store_result):
    sample = load_sample("spatial_memory", study["study_id"])
    sample["device_info"] = "Navigateur «spécial» ✓"
    store_result(study, sample)
    response = post_download(
        client, "/tests/single-test-type/download-file", test_type="spatial_memory"
    )
    lines = response.data.split(b"\r\n")
    assert lines[0].startswith(b'"participant_id","study_id","study_type"')
    assert lines[1].endswith(b'"1","5230","true"')
    assert "Navigateur «spécial» ✓".encode() in lines[1]
    assert lines[-1] == b""
    assert not response.data.startswith(b"\xef\xbb\xbf")


def test_a_typed_test_without_answers_still_has_a_row(client, study, make_test):
    # The API stores an empty list as unclassified; older data may hold a typed one.
    test = make_test(study, "spatial_memory", result=[])
    assert rows_of_type(client, "spatial_memory")[1] == [
        *fixed_cells(test, "spatial_memory"),
        "",
        "",
        "",
    ]


# --- extra fields, notes, unsafe text ----------------------------------------------------------


def test_extra_fields_seen_are_appended_sorted(client, study, store_result):
    plain = store_result(study, load_sample("choice_reaction_time", study["study_id"]))
    sample = load_sample("choice_reaction_time", study["study_id"])
    sample["time_started"] = "2026-11-21T09:00:00.000Z"
    sample["result"][1]["crt_stimulus"] = "arrow"
    sample["result"][0]["study_id"] = "clash"
    sample["result"][0]["crt_meta"] = {"shown": [1, 2]}
    noted = store_result(
        study, sample, extra={"app_version": "2.1", "participant_id": "clash2"}, notes="timed out"
    )
    header, *rows = rows_of_type(client, "choice_reaction_time")
    assert header == [
        *FIXED,
        "question_number",
        "crt_rt",
        "crt_correct",
        "crt_response",
        "crt_dwell",
        "crt_meta",
        "crt_stimulus",
        "result.study_id",
        "app_version",
        "notes",
        "submission.participant_id",
    ]
    extras = [row[len(FIXED) + 5 :] for row in rows]
    assert extras == [
        ["", "", "", "", "", ""],
        ["", "", "", "", "", ""],
        ['{"shown": [1, 2]}', "", "clash", "2.1", "timed out", "clash2"],
        ["", "arrow", "", "2.1", "timed out", "clash2"],
    ]
    assert [row[4] for row in rows] == [plain["test_id"]] * 2 + [noted["test_id"]] * 2


def test_text_that_could_run_as_a_formula_is_neutralised(client, study, store_result):
    sample = load_sample("visual_paired_associates", study["study_id"])
    sample["result"][0]["vpa_response"] = '=HYPERLINK("http://evil")'
    sample["device_info"] = "+cmd|' /C calc'!A0"
    store_result(study, sample, extra={"comment": "@SUM(1)"})
    header, first, *_ = rows_of_type(client, "visual_paired_associates")
    assert first[header.index("vpa_response")] == '\'=HYPERLINK("http://evil")'
    assert first[header.index("device_info")] == "'+cmd|' /C calc'!A0"
    assert first[header.index("comment")] == "'@SUM(1)"
    assert first[header.index("vpa_rt")] == "2210"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (0, 0),
        (-1_700_000_000_000, -1_700_000_000_000),
        (datetime(2026, 11, 20, 14, 3, 7, 512000, tzinfo=UTC), "2026-11-20T14:03:07.512Z"),
        (datetime(2026, 11, 20, 14, 3, 7), "2026-11-20T14:03:07.000Z"),
        (
            datetime(2026, 11, 20, 15, 3, 7, tzinfo=timezone(timedelta(hours=1))),
            "2026-11-20T14:03:07.000Z",
        ),
        ({"a": "é"}, '{"a": "é"}'),
        # A lone surrogate (no store keeps one, mongomock could): its escape, encodable.
        ({"a": "\ud800"}, '{"a": "\\ud800"}'),
        ("-5", "'-5"),
        ("bar3.jpg", "bar3.jpg"),
    ],
)
def test_cells(value, expected):
    assert exports.cell(value) == expected


# --- participant filter ------------------------------------------------------------------------


def test_participant_filter_keeps_only_that_participant(client, make_study, store_result):
    mine = make_study(participant_id="P1", study_id="minemine")
    theirs = make_study(participant_id="P2", study_id="theirsxx", study_type="followup")
    for study in (mine, theirs):
        store_result(study, load_sample("spatial_memory", study["study_id"]))
        store_result(study, load_sample("delayed_recall", study["study_id"]))

    rows = rows_of_type(client, "spatial_memory", participant_id="P2")
    assert {row[0] for row in rows[1:]} == {"P2"}
    assert len(rows) == 3

    archive = zip_archive(client, participant_id="P1")
    for name in ("studies.csv", "spatial_memory.csv", "delayed_recall.csv"):
        header, *body = csv_rows(archive, name)
        column = header.index("participant_id")
        assert body and {row[column] for row in body} == {"P1"}, name

    # Nobody is P3: a 404 naming the id, not a header-only file that looks like an idle participant.
    nobody = client.post(
        "/tests/single-test-type/download-file",
        data={"password": TEST_PASSWORD, "test_type": "spatial_memory", "participant_id": "P3"},
    )
    assert nobody.status_code == 404
    assert '"P3"' in nobody.json["message"]


# --- the ZIP -----------------------------------------------------------------------------------


def test_zip_holds_every_file_header_only_when_empty(client, study, store_result):
    store_result(study, load_sample("digit_symbol_matching", study["study_id"]))
    archive = zip_archive(client)
    assert archive.testzip() is None
    assert archive.namelist() == [
        "summary.csv",  # derived scores (intact/summaries.py, listed by intact/exports/archive.py)
        "change.csv",
        "reliable_change.csv",
        "studies.csv",
        *(f"{name}.csv" for name in TEST_TYPES),
        "unclassified.csv",
        "codebook.csv",
        "datapackage.json",  # the same description for software (tests/test_datapackage.py)
    ]
    assert len(csv_rows(archive, "digit_symbol_matching.csv")) == 3
    for name in TEST_TYPES:
        if name != "digit_symbol_matching":
            assert len(csv_rows(archive, f"{name}.csv")) == 1, name
    assert csv_rows(archive, "unclassified.csv") == [[*FIXED, "result"]]
    single = rows_of_type(client, "digit_symbol_matching")
    assert csv_rows(archive, "digit_symbol_matching.csv") == single


def test_studies_csv_lists_every_study_with_its_run_state(client, make_study):
    opened = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    make_study(
        study_id="openedxx",
        participant_id="P1",
        first_opened_at=opened,
        last_seen_at=opened + timedelta(minutes=5),
    )
    make_study(study_id="neverxxx", participant_id="P2", study_type="followup")
    archive = zip_archive(client)
    header, first, second = csv_rows(archive, "studies.csv")
    assert header == list(exports.STUDY_COLUMNS)
    row = dict(zip(header, first, strict=True))
    assert row["study_id"] == "openedxx"
    assert row["first_opened_at"] == "2026-11-20T10:00:00.000Z"
    assert row["last_seen_at"] == "2026-11-20T10:05:00.000Z"
    assert row["created_at"].endswith("Z")
    assert row["url"] == "http://localhost:5173/openedxx"
    never = dict(zip(header, second, strict=True))
    assert (never["study_type"], never["first_opened_at"], never["last_seen_at"]) == (
        "followup",
        "",
        "",
    )
    assert (row["followup_number"], never["followup_number"]) == ("", "1")
    download = post_download(client, "/studies/download-file")
    assert download.data == archive.read("studies.csv")


def test_codebook_describes_every_column_of_every_file(client, study, store_result):
    sample = load_sample("choice_reaction_time", study["study_id"])
    sample["result"][0]["crt_stimulus"] = "arrow"
    store_result(study, sample, extra={"app_version": "2.1"})
    store_result(study, load_sample("spatial_memory_timed_out_no_answer", study["study_id"]))
    archive = zip_archive(client)
    header, *entries = csv_rows(archive, "codebook.csv")
    assert header == ["file", "column", "type", "unit", "values", "description"]
    described = {}
    for file, column, *_ in entries:
        described.setdefault(file, []).append(column)
    for name in archive.namelist():
        if name not in {"codebook.csv", "datapackage.json"}:
            assert described[name] == csv_rows(archive, name)[0], name
    by_key = {(e[0], e[1]): e for e in entries}
    assert by_key[("choice_reaction_time.csv", "crt_rt")][2:4] == ["integer", "ms"]
    assert by_key[("choice_reaction_time.csv", "crt_correct")][2:5] == [
        "boolean",
        "",
        "true | false",
    ]
    assert by_key[("choice_reaction_time.csv", "crt_response")][4] == "left | right"
    assert by_key[("immediate_recall.csv", "ir_rt_second")][2] == "integer or empty"
    assert by_key[("delayed_recall.csv", "dr_score")][3:5] == ["points", "0 to 5"]
    assert by_key[("choice_reaction_time.csv", "time_elapsed_milliseconds")][3] == "ms"
    assert by_key[("studies.csv", "created_at")][2:4] == ["timestamp", "UTC"]
    assert "not declare" in by_key[("choice_reaction_time.csv", "crt_stimulus")][5]
    assert all(entry[5] for entry in entries), "every column has a description"


# --- streaming and concurrency -----------------------------------------------------------------


def test_two_interleaved_downloads_both_complete(store_config, make_study):
    app = create_app(store_config)
    client = app.test_client()
    with app.app_context():
        from intact.studies import create_studies

        create_studies([f"P{n}" for n in range(30)])
    form = {"password": TEST_PASSWORD}
    first = client.post("/tests/zip-archive/download-file", data=form)
    second = client.post("/tests/zip-archive/download-file", data=form)
    pieces = {id(first): [], id(second): []}
    streams = [(first, iter(first.response)), (second, iter(second.response))]
    while streams:
        for entry in list(streams):
            response, chunks = entry
            chunk = next(chunks, None)
            if chunk is None:
                streams.remove(entry)
            else:
                pieces[id(response)].append(chunk)
    for response in (first, second):
        archive = zipfile.ZipFile(io.BytesIO(b"".join(pieces[id(response)])))
        assert archive.testzip() is None
        assert len(archive.read("studies.csv").splitlines()) == 61
        response.close()


def test_two_downloads_at_the_same_time_on_a_threaded_server(app, make_study):
    import urllib.parse
    import urllib.request

    for n in range(20):
        make_study(participant_id=f"P{n}")
    body = urllib.parse.urlencode({"password": TEST_PASSWORD}).encode()
    results = [None, None]

    def download(url, slot):
        with urllib.request.urlopen(url, data=body, timeout=30) as response:
            results[slot] = (response.status, response.read())

    with serving(app) as base:
        url = f"{base}/tests/zip-archive/download-file"
        workers = [threading.Thread(target=download, args=(url, slot)) for slot in (0, 1)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
    for status, data in results:
        assert status == 200
        archive = zipfile.ZipFile(io.BytesIO(data))
        assert archive.testzip() is None
        assert len(archive.read("studies.csv").splitlines()) == 21


# --- end to end --------------------------------------------------------------------------------


def test_create_submit_and_download_end_to_end(client):
    from conftest import CONTRACT_SAMPLES

    created = client.post(
        "/studies",
        data={
            "password": TEST_PASSWORD,
            "participant_ids": "A1\nB2",
            "followups_per_participant": 0,
        },
    ).json
    for study in created:
        for name in CONTRACT_SAMPLES:
            response = client.post("/tests", json=load_sample(name, study["study_id"]))
            assert response.status_code == 200, response.json
    archive = zip_archive(client)
    rows = {name: csv_rows(archive, name)[1:] for name in archive.namelist() if ".csv" in name}
    # Rows per study from the contract samples: two immediate and two delayed recalls, the list
    # tests' answers (2, 3, 2, 2), one empty answer list (unclassified), one summary row and no
    # change row (there is no follow-up). reliable_change.csv has a row per score, whoever asks.
    assert len(rows.pop("reliable_change.csv")) == len(ALL_SCORE_COLUMNS)
    assert {name: len(body) // 2 for name, body in rows.items() if name != "codebook.csv"} == {
        "studies.csv": 1,
        "immediate_recall.csv": 2,
        "choice_reaction_time.csv": 2,
        "visual_paired_associates.csv": 3,
        "digit_symbol_matching.csv": 2,
        "spatial_memory.csv": 2,
        "delayed_recall.csv": 2,
        "unclassified.csv": 1,
        "summary.csv": 1,
        "change.csv": 0,
    }
    header = csv_rows(archive, "spatial_memory.csv")[0]
    participants = {row[header.index("participant_id")] for row in rows["spatial_memory.csv"]}
    assert participants == {"A1", "B2"}
    only_b2 = zip_archive(client, participant_id="B2")
    assert len(csv_rows(only_b2, "choice_reaction_time.csv")) == 3


# --- every cell of every CSV, headers included, one rule ---------------------------------------

FORMULA_NAMES = ("=2+5", "@SUM(1;2)", "+cmd", "-1+1", "\tx")


def test_header_cells_named_by_a_submission_cannot_start_a_formula(
    client, make_study, store_result
):
    """A field name a participant's browser sends becomes a column name: the header is neutralised
    as data cells are, and the codebook names the column exactly as the header does."""
    study = make_study(participant_id="P1", study_id="formulas")
    submission = load_sample("spatial_memory", study["study_id"])
    for answer in submission["result"]:
        answer["=2+5"] = "x"
    store_result(study, submission, extra={"@SUM(1;2)": 1, "+cmd": 2, "-1+1": 3, "\tx": 4})
    archive = zip_archive(client)
    header = csv_rows(archive, "spatial_memory.csv")[0]
    assert {"'=2+5", "'@SUM(1;2)", "'+cmd", "'-1+1", "'\tx"} <= set(header)
    for name in archive.namelist():
        for row in csv_rows(archive, name):
            risky = [cell for cell in row if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
            assert risky == [], f"{name}: {risky}"
    documented = {
        row[1] for row in csv_rows(archive, "codebook.csv")[1:] if row[0] == "spatial_memory.csv"
    }
    assert set(header) == documented


def test_the_workbook_names_its_columns_as_the_csv_files_do(client, make_study, store_result):
    import openpyxl

    study = make_study(participant_id="P1", study_id="formulas")
    store_result(study, load_sample("delayed_recall", study["study_id"]), extra={"=2+5": 1})
    response = post_download(client, "/tests/workbook/download-file")
    book = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)
    header = [cell.value for cell in next(book["delayed_recall"].iter_rows(max_row=1))]
    assert "'=2+5" in header
    assert header == rows_of_type(client, "delayed_recall")[0]


def test_the_studies_download_is_documented_with_every_column_it_has():
    from intact.api import admin  # noqa: PLC0415 - the form API's documented route

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    studies_entry = readme[readme.index("- `studies.csv`:") :].split("\n- ")[0]
    for column in exports.STUDY_COLUMNS:
        named = re.compile(rf"\b{column}\b")
        assert named.search(admin.download_studies.__doc__), column
        assert named.search(studies_entry), column


@pytest.mark.parametrize(
    "own, rests",
    [
        (["P1", "s1", "=cmd", 'say "hi"'], [[1, 10, "true"], [2, 20, "false"], [3, "", ""]]),
        (["P1", "line\r\nbreak"], [[1, "a\nb"], [2, '"\x00"'], [3, "\x00"]]),
        (["P2", "\x00"], [[1, "x"], [2, "y"]]),
        (["P3", "s3"], [["only one row", 5]]),
        (["P4", "s4"], []),
    ],
)
def test_result_csv_writer_writes_what_the_csv_writer_writes_for_the_whole_rows(own, rests):
    expected, written = io.StringIO(), io.StringIO()
    exports.tables.csv_writer(expected).writerows([*own, *rest] for rest in rests)
    exports.tables.ResultCsvWriter(written).write(own, rests)
    assert written.getvalue() == expected.getvalue()
