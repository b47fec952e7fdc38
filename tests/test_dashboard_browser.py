"""The dashboard in real headless Chromium against a live server: what a researcher does.

Screenshots of every page, at a laptop and a phone width, go to screenshots/ (git-ignored) for a
person to look at.
"""

import re
import zipfile
from pathlib import Path

import pytest
from conftest import LAPTOP, PHONE, open_recording_page, shoot, submit_login

pytestmark = pytest.mark.browser


def test_researcher_logs_in_searches_opens_a_participant_and_logs_out(seeded_server, page_at):
    page = page_at(LAPTOP)
    page.goto(f"{seeded_server}/admin/progress")
    assert "/admin/login" in page.url
    shoot(page, "laptop-01-login")

    submit_login(page, password="not-the-password")
    assert (
        page.locator(".field-error").inner_text() == "That password is not right. Please try again."
    )
    shoot(page, "laptop-02-login-wrong-password")

    submit_login(page)
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

    page.goto(f"{seeded_server}/admin/participants/P002")
    assert page.locator("article.test").count() == 7
    assert page.locator(".badge").first.inner_text() == "taken 1 of 2"
    shoot(page, "laptop-06-participant")

    page.goto(f"{seeded_server}/admin/")
    assert page.locator(".card__number").first.inner_text() == "15"
    shoot(page, "laptop-03-overview")

    page.goto(f"{seeded_server}/admin/help")
    shoot(page, "laptop-07-help")

    page.goto(f"{seeded_server}/admin/participants/nobody")
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
    page.goto(f"{seeded_server}/admin/")
    assert "/admin/login" in page.url
    assert page.errors == []


def test_an_expired_session_sends_htmx_to_the_login_page(seeded_server, page_at):
    page = page_at(LAPTOP)
    page.goto(f"{seeded_server}/admin/login")
    submit_login(page)
    page.goto(f"{seeded_server}/admin/progress")
    page.context.clear_cookies()
    page.fill("#q", "P001")
    page.wait_for_url(re.compile(r"/admin/login\?next="))
    assert page.locator("h1").inner_text() == "Log in"
    submit_login(page)
    page.wait_for_url(re.compile(r"/admin/progress"))


@pytest.fixture(scope="module")
def phone_page(seeded_server, chromium):
    """A phone-sized page logged in once for the pages that only read (a login costs seconds)."""
    page = open_recording_page(chromium, PHONE)
    page.goto(f"{seeded_server}/admin/login")
    shoot(page, "phone-01-login")
    submit_login(page)
    page.wait_for_url(re.compile(r"/admin/$"))
    assert page.errors == []
    yield page
    page.context.close()


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
def test_pages_fit_a_phone(seeded_server, phone_page, name, path):
    page = phone_page
    page.errors.clear()
    page.goto(f"{seeded_server}{path}")
    shoot(page, f"phone-{name}")
    # Only the tables scroll sideways (inside their own box); the page itself never does.
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= PHONE["width"]
    assert page.errors == []
