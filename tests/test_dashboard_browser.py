"""The dashboard in real headless Chromium against a live server: what a researcher does.

Screenshots of every page, at a laptop and a phone width, go to screenshots/ (git-ignored) for a
person to look at.
"""

import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import CHROMIUM, CHROMIUM_ARGS, TEST_PASSWORD, serving, stored_test

from intact import create_app, db
from intact.testtypes import TEST_TYPES

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
LAPTOP = {"width": 1366, "height": 850}
PHONE = {"width": 390, "height": 844}

if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)


def _seed(app) -> None:
    """A small study in full swing: every state, a retake, two follow-ups, an empty result."""
    now = datetime.now(UTC)
    prefix = app.config["STUDY_URL_PREFIX"].rstrip("/")
    studies, tests = [], []

    def study(participant_id, study_type, study_id, opened_days_ago=None, created_days_ago=20):
        doc = {
            "study_id": study_id,
            "participant_id": participant_id,
            "study_type": study_type,
            "url": f"{prefix}/{study_id}",
            "created_at": now - timedelta(days=created_days_ago),
            "batch_id": "seed",
        }
        if opened_days_ago is not None:
            doc["first_opened_at"] = doc["last_seen_at"] = now - timedelta(days=opened_days_ago)
        studies.append(doc)
        return doc

    def took(doc, test_types, days_ago):
        for offset, test_type in enumerate(test_types):
            received = now - timedelta(days=days_ago, minutes=30 - offset * 4)
            started = received - timedelta(minutes=3)
            tests.append(stored_test(doc, test_type, received_at=received, time_started=started))

    all_six = list(TEST_TYPES)
    took(study("P001", "baseline", "kqwmzrta", 12), all_six, 12)
    took(study("P001", "followup", "hvbnxeup", 1, created_days_ago=2), all_six[:3], 0.1)
    p002 = study("P002", "baseline", "ldjfwqop", 9)
    took(p002, all_six, 9)
    took(p002, ["choice_reaction_time"], 8)  # a retake
    study("P002", "followup", "pzcxvbnm")
    took(study("P003", "baseline", "rtyuiopa", 30), all_six[:2], 29)
    study("P003", "followup", "qazwsxed")
    study("P004", "baseline", "mnbvcxzl", 2)
    study("P004", "followup", "plokijuh")
    took(study("P005", "baseline", "wsxcderf", 3), [*all_six[:4], "unclassified"], 3)
    study("P005", "followup", "tgbnhyuj")
    for number in range(6, 14):
        study(f"P{number:03d}", "baseline", f"seedbas{chr(ord('a') + number)}")
        study(f"P{number:03d}", "followup", f"seedfol{chr(ord('a') + number)}")
    took(study("P010", "followup", "seedfolz", 4, created_days_ago=5), all_six[:1], 4)
    refused_body = {
        "study_id": "wsxcderf",
        "time_started": "2026-11-20T14:03:07.512Z",
        "time_elapsed_milliseconds": 41873,
        "device_info": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)",
        "result": [{"sm_rt": "1200", "sm_correct": True}],
    }
    refused = {
        "quarantine_id": "6a1f00000000000000000001",
        "study_id": "wsxcderf",
        "participant_id": "P005",
        "study_type": "baseline",
        "received_at": now - timedelta(days=3, hours=1),
        "content_type": "application/json",
        "message": "Invalid submission: result.0.sm_rt: Not a whole number.",
        "errors": [{"field": "result.0.sm_rt", "message": "Not a whole number."}],
        "raw_body": json.dumps(refused_body),
        "size_bytes": len(json.dumps(refused_body)),
        "truncated": False,
    }
    with app.app_context():
        db.studies().insert_many(studies)
        db.tests().insert_many(tests)
        db.quarantine().insert_one(refused)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """The app on a fresh in-memory database, served on a free loopback port."""
    app = create_app(
        {
            "DB_CONNECTION_STR": "mongomock://",
            "ADMIN_PASSWORD": TEST_PASSWORD,
            "SECRET_KEY": "browser-test-secret",
            "DATA_DIR": str(tmp_path_factory.mktemp("data")),
            "STUDY_URL_PREFIX": "https://intact.example.org",
        }
    )
    _seed(app)
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def chromium():
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page_at(chromium):
    """A fresh browser page of a given size that records console errors; closed afterwards."""
    contexts = []

    def open_page(viewport):
        context = chromium.new_context(viewport=viewport, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on("console", lambda message: _record_console_error(page, message))
        page.set_default_timeout(10_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


def _record_console_error(page, message) -> None:
    # A page answered with 401 or 404 on purpose is logged by Chromium as a failed load: not a bug.
    if message.type == "error" and "the server responded with a status of 4" not in message.text:
        page.errors.append(message.text)


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def log_in(page, base_url, password=TEST_PASSWORD):
    page.fill("#password", password)
    page.click("button:has-text('Log in')")


def test_researcher_logs_in_searches_opens_a_participant_and_logs_out(live_server, page_at):
    page = page_at(LAPTOP)
    page.goto(f"{live_server}/admin/progress")
    assert "/admin/login" in page.url
    shoot(page, "laptop-01-login")

    log_in(page, live_server, password="not-the-password")
    assert (
        page.locator(".field-error").inner_text() == "That password is not right. Please try again."
    )
    shoot(page, "laptop-02-login-wrong-password")

    log_in(page, live_server)
    page.wait_for_url(re.compile(r"/admin/progress$"))
    assert page.locator("table.grid tbody tr").count() == 13
    shoot(page, "laptop-04-progress")

    # Create studies: a mistake first (shown next to the field, nothing created), then for real.
    page.click("nav >> text=Create studies")
    page.fill("#participant_ids", "NEW01\nNEW 02")
    page.click("button:has-text('Create studies')")
    page.wait_for_selector("#participant_ids-error")
    assert "Check line 2." in page.locator("#participant_ids-error").inner_text()
    shoot(page, "laptop-11-create-error")
    page.fill("#participant_ids", "NEW01\nNEW02")
    page.fill("#followups_per_participant", "2")
    page.click("button:has-text('Create studies')")
    page.wait_for_url(re.compile(r"/admin/batches/"))
    assert "Created 6 studies for 2 participants." in page.locator("#messages").inner_text()
    assert page.locator("table.new-studies tbody tr").count() == 6
    shoot(page, "laptop-12-new-studies")
    with page.expect_download() as batch_download:
        page.click("text=Download these 6 studies as CSV")
    batch_rows = Path(batch_download.value.path()).read_text(encoding="utf-8").splitlines()
    assert len(batch_rows) == 7

    page.click("nav >> text=Progress")
    page.wait_for_url(re.compile(r"/admin/progress$"))

    # Typing in the search box swaps only the table and puts the search in the address.
    assert page.locator("table.grid tbody tr").count() == 15
    page.fill("#q", "P00")
    page.wait_for_url(re.compile(r"q=P00"))
    page.wait_for_function("document.querySelectorAll('table.grid tbody tr').length === 9")
    assert page.locator("h1").inner_text() == "Progress"
    page.select_option("#state", "abandoned")
    page.wait_for_url(re.compile(r"state=abandoned"))
    page.wait_for_function("document.querySelectorAll('table.grid tbody tr').length === 1")
    assert page.locator("table.grid tbody th").inner_text() == "P003"
    shoot(page, "laptop-05-progress-filtered")

    page.click("table.grid tbody th a")
    page.wait_for_url(re.compile(r"/admin/participants/P003$"))
    assert page.locator("h1").inner_text() == "Participant P003"
    page.go_back()
    page.wait_for_url(re.compile(r"state=abandoned"))
    assert page.locator("table.grid tbody tr").count() == 1

    page.goto(f"{live_server}/admin/participants/P002")
    assert page.locator("article.test").count() == 7
    assert page.locator(".badge").first.inner_text() == "taken 1 of 2"
    shoot(page, "laptop-06-participant")

    page.goto(f"{live_server}/admin/")
    assert page.locator(".card__number").first.inner_text() == "15"
    shoot(page, "laptop-03-overview")

    page.goto(f"{live_server}/admin/help")
    shoot(page, "laptop-07-help")

    page.goto(f"{live_server}/admin/participants/nobody")
    shoot(page, "laptop-08-not-found")

    page.click("nav >> text=Refused submissions")
    assert page.locator("table tbody tr").count() == 1
    shoot(page, "laptop-09-refused")
    page.click("text=See what was sent")
    assert '"sm_rt": "1200"' in page.locator("pre.raw-body").inner_text()
    shoot(page, "laptop-10-refused-detail")

    page.click("nav >> text=Downloads")
    shoot(page, "laptop-13-downloads")
    with page.expect_download() as zip_download:
        page.click("button:has-text('Download ZIP')")
    assert zip_download.value.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(zip_download.value.path()) as archive:
        names = archive.namelist()
        studies_csv = archive.read("studies.csv").decode("utf-8")
    assert "choice_reaction_time.csv" in names
    assert "codebook.csv" in names
    assert "NEW02" in studies_csv

    page.click("button:has-text('Log out')")
    page.wait_for_url(re.compile(r"/admin/login$"))
    assert "You have logged out." in page.locator("#messages").inner_text()
    page.goto(f"{live_server}/admin/")
    assert "/admin/login" in page.url
    assert page.errors == []


def test_an_expired_session_sends_htmx_to_the_login_page(live_server, page_at):
    page = page_at(LAPTOP)
    page.goto(f"{live_server}/admin/login")
    log_in(page, live_server)
    page.goto(f"{live_server}/admin/progress")
    page.context.clear_cookies()
    page.fill("#q", "P001")
    page.wait_for_url(re.compile(r"/admin/login\?next="))
    assert page.locator("h1").inner_text() == "Log in"
    log_in(page, live_server)
    page.wait_for_url(re.compile(r"/admin/progress"))


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("overview", "/admin/"),
        ("progress", "/admin/progress"),
        ("participant", "/admin/participants/P001"),
        ("help", "/admin/help"),
        ("refused", "/admin/refused/6a1f00000000000000000001"),
        ("create", "/admin/studies/new"),
        ("downloads", "/admin/downloads"),
    ],
)
def test_pages_fit_a_phone(live_server, page_at, name, path):
    page = page_at(PHONE)
    page.goto(f"{live_server}/admin/login")
    shoot(page, "phone-01-login")
    log_in(page, live_server)
    page.wait_for_url(re.compile(r"/admin/$"))
    page.goto(f"{live_server}{path}")
    shoot(page, f"phone-{name}")
    # Only the tables scroll sideways (inside their own box); the page itself never does.
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= PHONE["width"]
    assert page.errors == []
