"""Reminder e-mails in real Chromium: a researcher switches them on under My account and sees
today's digest as the e-mail shows it; the page passes axe."""

from datetime import UTC, datetime, timedelta

import pytest
from conftest import LAPTOP, STRONG_PASSWORD, assert_accessible, make_account, serving

from intact import create_app, db
from intact.accounts import users

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """A live server with one researcher and one overdue follow-up (baseline 400 days ago)."""
    app = create_app(
        {
            "DB_CONNECTION_STR": "mongomock://",
            "ADMIN_PASSWORD": "shared-password-of-the-clinic",
            "SECRET_KEY": "reminders-browser-secret",
            "DATA_DIR": str(tmp_path_factory.mktemp("data")),
            "FOLLOWUP_SCHEDULE_DAYS": "180",
        }
    )
    started = datetime.now(UTC) - timedelta(days=400)
    with app.app_context():
        db.studies().insert_many(
            [
                {
                    "study_id": "remibase",
                    "participant_id": "P042",
                    "study_type": "baseline",
                    "url": "http://localhost:5173/remibase",
                    "created_at": started,
                    "started_at": started,
                    "submissions": {"immediate_recall": 1},
                    "empty_count": {},
                },
                {
                    "study_id": "remifoll",
                    "participant_id": "P042",
                    "study_type": "followup",
                    "followup_number": 1,
                    "url": "http://localhost:5173/remifoll",
                    "created_at": started,
                },
            ]
        )
    account = make_account(app, "ria@example.org", "researcher")
    with serving(app) as url:
        yield app, url, account


def test_a_researcher_switches_reminders_on_and_sees_todays_digest(live_server, page_at):
    app, url, account = live_server
    page = page_at(LAPTOP, bypass_csp=True)
    page.goto(f"{url}/admin/login")
    page.get_by_label("E-mail address").fill("ria@example.org")
    page.get_by_label("Password").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="My account").click()

    panel = page.locator("section", has=page.get_by_role("heading", name="Reminder e-mails"))
    assert "This server sends no e-mail yet" in panel.inner_text()
    overdue = panel.get_by_role("table", name="Overdue: participant, follow-up, due date (UTC)")
    assert overdue.get_by_role("rowheader").all_inner_texts() == ["P042"]
    assert "remifoll" not in panel.inner_text()
    assert_accessible(page, "My account with the reminder digest")

    panel.get_by_role("button", name="Switch reminder e-mails on").click()

    assert "Reminder e-mails are on" in page.locator("#messages").inner_text()
    assert page.get_by_role("button", name="Switch reminder e-mails off").count() == 1
    with app.app_context():
        assert users.get(account.account_id).reminders is True
    assert_accessible(page, "My account with reminders on")
    assert not page.errors
