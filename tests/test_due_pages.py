"""The schedule on the dashboard and in /api/v1: Due page, mail-merge CSV, grid filter, overview
counts, due dates set by hand, studies.csv's new columns.

Dates are relative to the server's UTC today (the pages compute for today); the states at the
window's edges, with hand-computed dates, are tests/test_schedule.py's.
"""

import csv
import io
import re
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from conftest import (
    HTMX,
    TEST_PASSWORD,
    bearer,
    is_fragment,
    make_account,
    make_token,
    start_session,
)

from intact import audit, db
from intact.testtypes import TEST_TYPES

TODAY = datetime.now(UTC).date()


def days_ago(days: int) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days), datetime.min.time(), tzinfo=UTC)


@pytest.fixture
def app_config(app_config):
    return {**app_config, "FOLLOWUP_SCHEDULE_DAYS": "180,365", "FOLLOWUP_WINDOW_DAYS": "14"}


@pytest.fixture
def cohort(started_participant, make_test):
    """P1 due in 3 days, P2 overdue (due 20 days ago), P3 not yet due (in 80 days), P4 done."""
    cohort = {
        "P1": started_participant("P1", days_ago(177)),
        "P2": started_participant("P2", days_ago(200)),
        "P3": started_participant("P3", days_ago(100)),
        "P4": started_participant("P4", days_ago(180)),
    }
    for test_type in TEST_TYPES:
        make_test(cohort["P4"][0], test_type)
    return cohort


def rows_of(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_the_due_page_lists_due_and_overdue_followups_with_their_links(admin, cohort):
    page = admin.get("/admin/due")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    overdue, due = text.split('id="overdue-heading"')[1].split('id="due-heading"')
    assert "P2" in overdue and "20 days ago" in overdue
    assert (TODAY - timedelta(days=20)).isoformat() in overdue
    assert "P1" in due and "in 3 days" in due
    assert "P3" not in text.split("<main")[1] and "P4" not in text.split("<main")[1]
    assert f'data-copy="{cohort["P1"][0]["url"]}"' in text
    assert f"Today is <strong>{TODAY.isoformat()}</strong>" in text
    assert 'href="/admin/due"' in text  # the menu's entry


def test_an_analyst_sees_the_due_list_without_links_or_study_ids(app, client, cohort):
    start_session(app, client, make_account(app, "ana@example.org", "analyst"))
    text = client.get("/admin/due").get_data(as_text=True)
    assert "P2" in text and "P1" in text
    for followups in cohort.values():
        assert followups[0]["study_id"] not in text
    assert "/admin/due.csv" not in text
    assert client.get("/admin/due.csv").status_code == 403


def test_the_mail_merge_csv_has_a_row_per_due_followup_with_its_link(app, admin, cohort):
    response = admin.get("/admin/due.csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=due-")
    rows = rows_of(response)
    assert [(r["participant_id"], r["followup"], r["schedule_state"]) for r in rows] == [
        ("P2", "Follow-up 1", "overdue"),
        ("P1", "Follow-up 1", "due"),
    ]
    p1 = rows[1]
    assert p1["due_date"] == (TODAY + timedelta(days=3)).isoformat()
    assert p1["window_opens"] == (TODAY - timedelta(days=11)).isoformat()
    assert p1["window_closes"] == (TODAY + timedelta(days=17)).isoformat()
    assert p1["days_left"] == "3"
    assert (p1["study_id"], p1["url"]) == (cohort["P1"][0]["study_id"], cohort["P1"][0]["url"])
    with app.app_context():
        assert db.collection(audit.COLLECTION).find_one({"action": audit.DOWNLOAD}) is not None


def test_the_overview_counts_due_soon_and_overdue(admin, cohort):
    text = admin.get("/admin/").get_data(as_text=True)
    assert '<p class="card__number">1</p>\n    <p class="card__label">follow-up overdue.' in text
    assert "follow-up due in the next 7 days" in text


def test_the_overview_says_nothing_of_a_schedule_nobody_has(admin, make_study):
    make_study("P1", "baseline")
    make_study("P1", "followup")
    assert "overdue" not in admin.get("/admin/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("wanted", "shown"),
    [
        ("overdue", {"P2"}),
        ("due", {"P1"}),
        ("due_soon", {"P1"}),
        ("not_yet_due", {"P1", "P2", "P3", "P4"}),  # everyone's follow-up 2
        ("done", {"P4"}),
    ],
)
def test_the_grid_filters_by_schedule_state(admin, cohort, wanted, shown):
    response = admin.get(f"/admin/progress?schedule={wanted}", headers=HTMX)
    assert is_fragment(response)
    text = response.get_data(as_text=True)
    assert {p for p in cohort if f">{p}</a>" in text} == shown


def test_the_grid_shows_each_followups_schedule_state_and_due_date(admin, cohort):
    text = admin.get("/admin/progress?q=P2").get_data(as_text=True)
    overdue_on = (TODAY - timedelta(days=20)).isoformat()
    assert f'<span class="schedule__state">Overdue</span> · due {overdue_on}' in text
    assert 'id="schedule"' in text  # the filter


def test_an_unknown_schedule_filter_is_a_400_naming_it(admin):
    response = admin.get("/admin/progress?schedule=soonish")
    assert response.status_code == 400
    assert "soonish" in response.get_data(as_text=True)


def test_a_due_date_set_and_cleared_on_the_participant_page(app, admin, cohort):
    study_id = cohort["P3"][0]["study_id"]
    page = admin.get("/admin/participants/P3")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    chosen = (TODAY + timedelta(days=2)).isoformat()
    response = admin.post(
        f"/admin/studies/{study_id}/due-date", data={"csrf_token": token, "due_date": chosen}
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/participants/P3#due-{study_id}")
    page = admin.get("/admin/participants/P3").get_data(as_text=True)
    assert f"{chosen} (set by hand)" in page and "Clear (use the schedule)" in page
    assert "P3" in admin.get("/admin/due").get_data(as_text=True).split("<main")[1]
    admin.post(f"/admin/studies/{study_id}/due-date", data={"csrf_token": token, "clear": "1"})
    page = admin.get("/admin/participants/P3").get_data(as_text=True)
    assert "(set by hand)" not in page
    with app.app_context():
        actions = [e["action"] for e in db.collection(audit.COLLECTION).find({}, {"_id": 0})]
    assert actions.count(audit.DUE_DATE_SET) == actions.count(audit.DUE_DATE_CLEARED) == 1


@pytest.mark.parametrize("typed", ["", "9 July", "2026-02-30", "1999-12-31"])
def test_a_bad_due_date_comes_back_beside_the_field(app, admin, cohort, typed):
    study_id = cohort["P3"][0]["study_id"]
    page = admin.get("/admin/participants/P3")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    response = admin.post(
        f"/admin/studies/{study_id}/due-date", data={"csrf_token": token, "due_date": typed}
    )
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert 'class="field-error"' in text and 'aria-invalid="true"' in text
    with app.app_context():
        assert "due_date" not in db.studies().find_one({"study_id": study_id})


def test_an_analyst_cannot_set_a_due_date_nor_sees_the_form(app, client, cohort):
    csrf = start_session(app, client, make_account(app, "ana@example.org", "analyst"))
    assert "Set due date" not in client.get("/admin/participants/P3").get_data(as_text=True)
    study_id = cohort["P3"][0]["study_id"]
    response = client.post(
        f"/admin/studies/{study_id}/due-date", data={"csrf_token": csrf, "due_date": "2026-01-01"}
    )
    assert response.status_code == 403


def test_studies_csv_carries_state_tests_last_activity_and_due_date(admin, cohort):
    token = admin.get("/admin/downloads").get_data(as_text=True)
    token = token.split('name="csrf_token" value="')[1].split('"')[0]
    rows = rows_of(admin.post("/admin/downloads/studies", data={"csrf_token": token}))
    by_id = {row["study_id"]: row for row in rows}
    p4_first = by_id[cohort["P4"][0]["study_id"]]
    assert (p4_first["followup_number"], p4_first["state"], p4_first["tests_received"]) == (
        "1",
        "complete",
        "6",
    )
    assert p4_first["schedule_state"] == "done" and p4_first["last_activity"]
    p2_first = by_id[cohort["P2"][0]["study_id"]]
    assert p2_first["due_date"] == (TODAY - timedelta(days=20)).isoformat()
    assert (p2_first["schedule_state"], p2_first["due_date_set_by_hand"]) == ("overdue", "false")
    p2_baseline = by_id["bxxxxxp2"]
    assert (p2_baseline["state"], p2_baseline["tests_received"]) == ("in_progress", "1")
    assert p2_baseline["due_date"] == p2_baseline["schedule_state"] == ""


# --- /api/v1 -------------------------------------------------------------------------------


@pytest.fixture
def researcher(app):
    return make_account(app, "res@example.org", "researcher")


def test_the_due_list_for_scripts(app, client, cohort, researcher):
    answer = client.get("/api/v1/due", headers=bearer(make_token(app, researcher))).json
    assert answer["today"] == TODAY.isoformat() and answer["window_days"] == 14
    assert [
        (i["participant_id"], i["schedule_state"], i["days_left"]) for i in answer["items"]
    ] == [
        ("P2", "overdue", -20),
        ("P1", "due", 3),
    ]
    assert answer["items"][1]["url"] == cohort["P1"][0]["url"]
    on_a_day = client.get(
        f"/api/v1/due?today={(TODAY + timedelta(days=100)).isoformat()}",
        headers=bearer(make_token(app, researcher)),
    ).json
    assert {i["participant_id"] for i in on_a_day["items"]} == {"P1", "P2", "P3"}


def test_an_analysts_due_list_has_no_study_ids_or_links(app, client, cohort):
    analyst = make_account(app, "ana@example.org", "analyst")
    items = client.get("/api/v1/due", headers=bearer(make_token(app, analyst))).json["items"]
    assert items and all("study_id" not in i and "url" not in i for i in items)


def test_a_due_date_set_and_cleared_through_the_api(app, client, cohort, researcher):
    token = bearer(make_token(app, researcher, "write"))
    study_id = cohort["P3"][1]["study_id"]
    month_ago = (TODAY - timedelta(days=30)).isoformat()
    answer = client.put(
        f"/api/v1/studies/{study_id.upper()}/due-date", json={"due_date": month_ago}, headers=token
    )
    assert answer.status_code == 200
    assert answer.json == {
        "study_id": study_id,
        "participant_id": "P3",
        "followup_number": 2,
        "due_date": month_ago,
        "due_date_set_by_hand": True,
        "schedule_state": "overdue",
    }
    participant = client.get("/api/v1/participants/P3", headers=token).json
    assert [s["due_date"] for s in participant["studies"]] == [
        None,
        (TODAY + timedelta(days=80)).isoformat(),
        month_ago,
    ]
    cleared = client.delete(f"/api/v1/studies/{study_id}/due-date", headers=token)
    assert cleared.status_code == 200
    assert cleared.json["due_date"] == (TODAY + timedelta(days=265)).isoformat()
    assert cleared.json["due_date_set_by_hand"] is False
    with app.app_context():
        entries = list(db.collection(audit.COLLECTION).find({"action": {"$regex": "^due_date"}}))
    assert [e["who"] for e in entries] == ["res@example.org"] * 2


@pytest.mark.parametrize(
    ("study_id", "body", "status", "said"),
    [
        ("f1xxxxp3", {"due_date": "next week"}, 422, "date"),
        ("f1xxxxp3", {}, 422, "required"),
        ("bxxxxxp3", {"due_date": "2026-03-01"}, 400, "baseline"),
        ("nosuchid", {"due_date": "2026-03-01"}, 404, "nosuchid"),
    ],
)
def test_a_due_date_the_api_cannot_set_is_a_4xx_naming_why(
    app, client, cohort, researcher, study_id, body, status, said
):
    token = bearer(make_token(app, researcher, "write"))
    answer = client.put(f"/api/v1/studies/{study_id}/due-date", json=body, headers=token)
    assert answer.status_code == status
    assert said in str(answer.json).lower()


def test_a_read_token_cannot_set_a_due_date(app, client, cohort, researcher):
    token = bearer(make_token(app, researcher, "read"))
    answer = client.put(
        "/api/v1/studies/f1xxxxp3/due-date", json={"due_date": "2026-03-01"}, headers=token
    )
    assert answer.status_code == 403


def test_a_long_due_list_comes_a_page_at_a_time(admin, started_participant, monkeypatch):
    from intact.admin import due

    monkeypatch.setattr(due, "ROWS_PER_PAGE", 2)
    for number, days in ((1, 200), (2, 201), (3, 202)):  # all overdue, P3 the longest
        started_participant(f"P{number}", days_ago(days))
    first = admin.get("/admin/due").get_data(as_text=True)
    assert ">P3</a>" in first and ">P2</a>" in first and ">P1</a>" not in first
    assert "1–2 of 3; the CSV holds them all" in first
    assert 'href="/admin/due?overdue_page=2#overdue-heading"' in first
    second = admin.get("/admin/due?overdue_page=2").get_data(as_text=True)
    assert ">P1</a>" in second and ">P3</a>" not in second
    assert admin.get("/admin/due?overdue_page=0").status_code == 400


def test_how_it_works_explains_the_schedule_in_force(admin):
    text = admin.get("/admin/help").get_data(as_text=True)
    assert "1 is due 180 days, 2 is due 365 days" in text
    assert "from 14 days before its due date to 14 days after it" in text
    assert "Overdue" in text and "The window has closed" in text


def test_withdrawal_takes_a_participant_off_the_due_list_and_a_reissued_link_replaces_its_old_one(
    app, admin, cohort
):
    from intact.participants import lifecycle

    with app.app_context():
        lifecycle.withdraw("P2", "moved abroad")
        new = lifecycle.reissue(cohort["P1"][0]["study_id"], "sent to the wrong address")
    text = admin.get("/admin/due").get_data(as_text=True).split("<main")[1]
    assert ">P2</a>" not in text  # withdrawn: nobody to contact
    assert f'data-copy="{new["url"]}"' in text  # the reissued link, same follow-up, same due date
    assert f'data-copy="{cohort["P1"][0]["url"]}"' not in text
    assert "in 3 days" in text
    rows = rows_of(admin.get("/admin/due.csv"))
    assert [(r["participant_id"], r["study_id"]) for r in rows] == [("P1", new["study_id"])]


def test_a_deidentified_download_gives_due_dates_as_days_since_the_baseline(client, cohort):
    # The form API with the admin password, as scripts download (see tests/test_deidentified.py).
    response = client.post(
        "/tests/zip-archive/download-file",
        data={"password": TEST_PASSWORD, "deidentified": "true", "days_since_baseline": "true"},
    )
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.data)) as files:
        studies_csv = files.read("studies.csv").decode()
    found = list(csv.DictReader(io.StringIO(studies_csv, newline="")))
    assert "due_date" not in found[0]
    # P1's baseline started 177 days ago at midnight UTC: follow-up 1 due 180 days after it.
    due_days = sorted(row["due_date_days"] for row in found if row["due_date_days"])
    assert "180.0" in due_days and "365.0" in due_days
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", "".join(r["due_date_days"] for r in found))
