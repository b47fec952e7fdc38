"""The follow-up schedule in headless Chromium: the Due page (copy, CSV, axe), the grid's filter,
a due date set by hand on the participant page.

Screenshots go to screenshots/ (git-ignored) for a person to look at.
"""

import csv
import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import (
    LAPTOP,
    PHONE,
    TEST_PASSWORD,
    assert_accessible,
    serving,
    shoot,
    stored_test,
    submit_login,
)

from intact import create_app, db
from intact.participants import counters

pytestmark = pytest.mark.browser

TODAY = datetime.now(UTC).date()
PREFIX = "https://intact.example.org"


def _seed(app) -> None:
    """P01 due in 3 days, P02 overdue by 20 days, P03 not yet due; follow-ups at 180 and 365."""
    now = datetime.now(UTC)
    for number, started_days_ago in ((1, 177), (2, 200), (3, 100)):
        pid = f"P{number:02d}"
        baseline = {
            "study_id": f"base{'abc'[number - 1]}xyz",
            "participant_id": pid,
            "study_type": "baseline",
            "url": f"{PREFIX}/base{'abc'[number - 1]}xyz",
            "created_at": now - timedelta(days=300),
            "batch_id": "seed",
        }
        followups = [
            {
                "study_id": f"fol{k}{'abc'[number - 1]}xyz",
                "participant_id": pid,
                "study_type": "followup",
                "followup_number": k,
                "url": f"{PREFIX}/fol{k}{'abc'[number - 1]}xyz",
                "created_at": now - timedelta(days=300),
                "batch_id": "seed",
            }
            for k in (1, 2)
        ]
        started = now - timedelta(days=started_days_ago)
        test = stored_test(baseline, "immediate_recall", received_at=started, time_started=started)
        with app.app_context():
            db.studies().insert_many([baseline, *followups])
            db.tests().insert_one(dict(test))
            counters.count_test(test)


@pytest.fixture(scope="module")
def schedule_server(tmp_path_factory):
    """The app with a 180/365-day schedule and three participants, on a free port."""
    app = create_app(
        {
            "DB_CONNECTION_STR": "mongomock://",
            "ADMIN_PASSWORD": TEST_PASSWORD,
            "SECRET_KEY": "browser-test-secret",
            "DATA_DIR": str(tmp_path_factory.mktemp("data")),
            "STUDY_URL_PREFIX": PREFIX,
            "FOLLOWUP_SCHEDULE_DAYS": "180,365",
            "FOLLOWUP_WINDOW_DAYS": "14",
        }
    )
    _seed(app)
    with serving(app) as url:
        yield url


def logged_in(page_at, server, viewport):
    page = page_at(viewport, bypass_csp=True)
    page.goto(f"{server}/admin/login")
    submit_login(page, TEST_PASSWORD)
    page.wait_for_url(re.compile(r"/admin/$"))
    return page


def test_a_researcher_works_through_the_due_list(schedule_server, page_at, tmp_path):
    page = logged_in(page_at, schedule_server, LAPTOP)
    # The overview's counts lead there.
    assert "1\n\nfollow-up overdue" in page.locator(".cards").inner_text()
    page.click("nav >> text=Due")
    page.wait_for_url(re.compile(r"/admin/due$"))
    overdue = page.locator("section[aria-labelledby=overdue-heading] tbody tr")
    due = page.locator("section[aria-labelledby=due-heading] tbody tr")
    assert overdue.count() == 1 and due.count() == 1
    assert "P02" in overdue.nth(0).inner_text() and "20 days ago" in overdue.nth(0).inner_text()
    assert "P01" in due.nth(0).inner_text() and "in 3 days" in due.nth(0).inner_text()
    assert (TODAY + timedelta(days=3)).isoformat() in due.nth(0).inner_text()
    assert_accessible(page, "the Due page")
    shoot(page, "laptop-40-due")

    due.nth(0).locator("button.copy").click()
    page.wait_for_selector("button.copy.is-copied, button.copy:has-text('Select and copy')")

    with page.expect_download() as downloading:
        page.click("text=Download this list as CSV")
    saved = tmp_path / "due.csv"
    downloading.value.save_as(saved)
    rows = list(csv.DictReader(saved.open(encoding="utf-8")))
    assert [(r["participant_id"], r["schedule_state"], r["url"]) for r in rows] == [
        ("P02", "overdue", f"{PREFIX}/fol1bxyz"),
        ("P01", "due", f"{PREFIX}/fol1axyz"),
    ]
    assert page.errors == []


def test_the_grid_filters_by_schedule_state(schedule_server, page_at):
    page = logged_in(page_at, schedule_server, LAPTOP)
    page.goto(f"{schedule_server}/admin/progress")
    page.select_option("#schedule", "overdue")
    page.wait_for_url(re.compile(r"schedule=overdue"))
    page.wait_for_function("document.querySelectorAll('table.grid tbody tr').length === 1")
    assert "P02" in page.locator("table.grid tbody").inner_text()
    assert "Overdue · due" in page.locator("table.grid tbody").inner_text()
    assert_accessible(page, "the progress grid filtered by schedule state")
    assert page.errors == []


def test_a_due_date_set_by_hand_moves_a_participant_onto_the_due_list(schedule_server, page_at):
    page = logged_in(page_at, schedule_server, PHONE)
    page.goto(f"{schedule_server}/admin/participants/P03")
    form = page.locator("form.due-date-form").first
    form.locator("input[type=date]").fill(TODAY.isoformat())
    form.locator("button:has-text('Set due date')").click()
    page.wait_for_selector(".message--success")
    assert f"{TODAY.isoformat()} (set by hand)" in page.locator("main").inner_text()
    assert_accessible(page, "the participant page with a due date set by hand")
    shoot(page, "phone-41-due-date-set")
    page.goto(f"{schedule_server}/admin/due")
    assert "P03" in page.locator("section[aria-labelledby=due-heading]").inner_text()
    # Cleared again: the schedule's date (in 80 days) applies, and P03 leaves the list.
    page.goto(f"{schedule_server}/admin/participants/P03")
    page.click("button:has-text('Clear (use the schedule)')")
    page.wait_for_selector(".message--success")
    assert (TODAY + timedelta(days=80)).isoformat() in page.locator("main").inner_text()
    assert page.errors == []
