"""`since`: every download holds the tests received in a window, says which, and windows meet."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import TEST_PASSWORD, csrf_from, zip_csv_files

from intact import db
from intact.exports import selection

DOWNLOADS = {
    "zip": "/tests/zip-archive/download-file",
    "type": "/tests/single-test-type/download-file",
    "summary": "/tests/summary/download-file",
    "studies": "/studies/download-file",
    "workbook": "/tests/workbook/download-file",
}
MARCH = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def post(client, kind, **form):
    return client.post(DOWNLOADS[kind], data={"password": TEST_PASSWORD, **form})


@pytest.fixture
def arrivals(make_study, make_test):
    """P1's baseline: two tests received on 1 and 3 March; P2's baseline: one on 5 March."""
    p1 = make_study("P1", "baseline", study_id="pbaseone")
    p2 = make_study("P2", "baseline", study_id="pbasetwo")
    first = make_test(p1, "choice_reaction_time", received_at=MARCH)
    second = make_test(p1, "delayed_recall", received_at=MARCH + timedelta(days=2))
    third = make_test(p2, "delayed_recall", received_at=MARCH + timedelta(days=4))
    return first, second, third


def test_a_zip_since_a_moment_holds_what_arrived_from_then_and_says_so(client, arrivals):
    _, second, third = arrivals
    response = post(client, "zip", since="2026-03-02")
    tables = zip_csv_files(response)
    received = {row["test_id"] for row in tables["delayed_recall.csv"]}
    assert received == {second["test_id"], third["test_id"]}
    assert tables["choice_reaction_time.csv"] == []  # received on 1 March: not in the window
    # The summary lists the studies the window touched, scored from all their tests so far.
    summary = {row["study_id"]: row for row in tables["summary.csv"]}
    assert set(summary) == {"pbaseone", "pbasetwo"}
    assert summary["pbaseone"]["tests_submitted"] == "2"
    assert {row["study_id"] for row in tables["studies.csv"]} == {"pbaseone", "pbasetwo"}
    # The file name and the codebook say which window this is.
    disposition = response.headers["Content-Disposition"]
    assert "intact-data-20260302T000000Z-to-2" in disposition
    (window,) = [row for row in tables["codebook.csv"] if row["column"] == "window"]
    assert window["file"] == "*"
    assert "from 2026-03-02T00:00:00.000Z (inclusive)" in window["description"]


def test_windows_one_after_another_hold_every_test_exactly_once(app, client, arrivals, make_test):
    first_download = post(client, "zip")
    until = selection.parse_moment(
        next(
            row["description"].split("before ")[1].split(" ")[0]
            for row in zip_csv_files(first_download)["codebook.csv"]
            if row["column"] == "window"
        )
    )
    # A test that arrives at the very moment the first download was asked for goes to the next.
    late = make_test(
        {"study_id": "pbasetwo", "participant_id": "P2", "study_type": "baseline"},
        "spatial_memory",
        received_at=until,
    )
    earlier = zip_csv_files(first_download)
    later = zip_csv_files(post(client, "zip", since=until.isoformat()))
    seen = []
    for tables in (earlier, later):
        for rows in tables.values():
            if "test_id" in (rows[0] if rows else {}):
                seen += sorted({row["test_id"] for row in rows})
    assert sorted(seen) == sorted(test["test_id"] for test in (*arrivals, late))


@pytest.mark.parametrize("kind", ["zip", "type", "summary", "studies", "workbook"])
@pytest.mark.parametrize(
    ("value", "named"),
    [("yesterday", "since"), ("2026-13-01", "since"), ("2026-03-01T25:00", "since")],
)
def test_a_since_that_cannot_be_read_is_a_400_naming_it(client, kind, value, named):
    response = post(client, kind, since=value, test_type="delayed_recall")
    assert response.status_code == 400
    assert named in response.json["message"]
    assert "ISO 8601" in response.json["message"]


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01T09:30", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        ("2026-03-01T09:30:00Z", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        ("2026-03-01T11:30:00+02:00", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        ("20260301T093000Z", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        (" 2026-03-01T09:30:00.123456Z ", datetime(2026, 3, 1, 9, 30, 0, 123000, tzinfo=UTC)),
    ],
)
def test_since_reads_iso_8601_dates_and_date_times(text, moment):
    assert selection.parse_moment(text) == moment


def test_single_files_in_a_window_say_it_in_their_names(client, arrivals):
    for kind, stem in (("type", "delayed_recall"), ("summary", "summary"), ("studies", "studies")):
        response = post(client, kind, since="2026-03-02", test_type="delayed_recall")
        assert response.status_code == 200
        assert f"filename={stem}-20260302T000000Z-to-2" in response.headers["Content-Disposition"]
    # Without `since`, the original backend's names.
    response = post(client, "summary")
    assert response.headers["Content-Disposition"] == "attachment; filename=summary.csv"


def test_the_audit_log_keeps_each_downloads_window(app, client, arrivals):
    post(client, "zip", since="2026-03-02")
    with app.app_context():
        entry = db.collection("audit_log").find_one({"action": "download"})
    assert entry["details"]["since"] == datetime(2026, 3, 2, tzinfo=UTC)
    assert entry["details"]["until"] > entry["details"]["since"]


def test_days_since_baseline_only_in_deidentified_downloads(client):
    response = post(client, "zip", days_since_baseline="true")
    assert response.status_code == 400
    assert "days_since_baseline" in response.json["message"]


def test_a_deidentified_download_without_a_pseudonym_key_says_what_is_missing(app, client):
    app.config["PSEUDONYM_KEY"] = ""
    response = post(client, "zip", deidentified="true")
    assert response.status_code == 501
    assert "PSEUDONYM_KEY" in response.json["message"]


def test_a_followup_in_the_window_changes_from_a_baseline_before_it(client, make_study, make_test):
    baseline = make_study("P3", "baseline", study_id="bbbbbbbb")
    followup = make_study("P3", "followup", study_id="ffffffff")
    make_test(baseline, "delayed_recall", received_at=MARCH, result={"dr_rt": 900, "dr_score": 2})
    make_test(
        followup,
        "delayed_recall",
        received_at=MARCH + timedelta(days=180),
        result={"dr_rt": 900, "dr_score": 5},
    )
    tables = zip_csv_files(post(client, "zip", since="2026-06-01"))
    assert [row["study_id"] for row in tables["summary.csv"]] == ["ffffffff"]
    (change,) = tables["change.csv"]
    assert (change["baseline_study_id"], change["dr_score_change"]) == ("bbbbbbbb", "3")


# --- the dashboard -----------------------------------------------------------------------------


def test_the_dashboard_offers_what_is_new_since_the_last_download_of_everything(
    admin, arrivals, make_test
):
    page = admin.get("/admin/downloads").get_data(as_text=True)
    assert "Download what is new since" not in page  # never downloaded everything yet
    token = csrf_from(admin.get("/admin/downloads"))
    # One participant's ZIP is not "everything": it does not move the mark.
    admin.post("/admin/downloads/archive", data={"csrf_token": token, "participant_id": "P1"})
    assert "Download what is new since" not in admin.get("/admin/downloads").get_data(as_text=True)
    first = admin.post("/admin/downloads/archive", data={"csrf_token": token})
    assert len(zip_csv_files(first)["delayed_recall.csv"]) == 2
    page = admin.get("/admin/downloads").get_data(as_text=True)
    assert "(0 tests)" in page
    newer = make_test(
        {"study_id": "pbasetwo", "participant_id": "P2", "study_type": "baseline"},
        "spatial_memory",
    )
    page = admin.get("/admin/downloads").get_data(as_text=True)
    assert "(1 test)" in page
    since = re.search(r'name="since" value="([^"]+)"', page)[1]
    later = zip_csv_files(
        admin.post("/admin/downloads/archive", data={"csrf_token": token, "since": since})
    )
    assert {row["test_id"] for row in later["spatial_memory.csv"]} == {newer["test_id"]}
    assert later["delayed_recall.csv"] == []


def test_the_dashboard_puts_a_since_it_cannot_read_beside_the_field(admin):
    token = csrf_from(admin.get("/admin/downloads"))
    response = admin.post("/admin/downloads/summary", data={"csrf_token": token, "since": "soon"})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert 'id="summary-since-error"' in text
    assert "ISO 8601" in text
    assert 'value="soon"' in text  # what was typed stays in the field
