"""A participant's life in real Chromium, each page checked with axe-core: a note, more studies,
a link deactivated and reissued, its late result accepted, withdrawal, erasure."""

import re

import pytest
from conftest import (
    LAPTOP,
    PHONE,
    TEST_PASSWORD,
    assert_accessible,
    http_json,
    load_sample,
    serving,
    shoot,
    submit_login,
)

from intact import create_app, db, studies

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A live server with P1 (baseline + follow-up) and P2 (baseline), on a free port."""
    app = create_app(
        {
            "DB_CONNECTION_STR": "mongomock://",
            "ADMIN_PASSWORD": TEST_PASSWORD,
            "SECRET_KEY": "lifecycle-browser-secret",
            "DATA_DIR": str(tmp_path_factory.mktemp("data")),
            "STUDY_URL_PREFIX": "https://intact.example.org",
        }
    )
    with app.test_request_context():
        created = studies.create_studies(["P1", "P2"], 1, 1)
    with serving(app) as url:
        yield app, url, {(s["participant_id"], s["study_type"]): s for s in created}


def logged_in(page_at, url, viewport=LAPTOP):
    page = page_at(viewport, bypass_csp=True)
    page.goto(f"{url}/admin/login")
    submit_login(page)
    page.wait_for_url(re.compile(r"/admin/$"))
    return page


def messages(page) -> str:
    return page.locator("#messages").inner_text()


def test_note_add_studies_reissue_accept_withdraw(live, page_at):
    app, url, created = live
    page = logged_in(page_at, url)
    page.goto(f"{url}/admin/participants/P1")
    assert_accessible(page, "participant page")

    page.get_by_label("New note").fill("Phoned 12 May: will do it next week.")
    page.get_by_role("button", name="Add note").click()
    assert "Note added" in messages(page)
    assert "Phoned 12 May" in page.locator("#notes").inner_text()

    page.get_by_role("link", name="Add studies").click()
    assert_accessible(page, "add studies")
    page.get_by_label("Follow-up studies to add").fill("1")
    page.get_by_label("Reason (optional)").fill("Extended to 24 months")
    page.get_by_role("button", name="Add studies").click()
    assert "Added Follow-up 2 for P1" in messages(page)
    assert page.get_by_role("heading", name=re.compile("Follow-up 2")).count() == 1

    old = created[("P1", "followup")]
    page.get_by_role("link", name="Deactivate and reissue link (Follow-up 1)").click()
    assert_accessible(page, "reissue")
    page.get_by_role("button", name="Deactivate and reissue the link").click()
    assert page.get_by_label("Reason").evaluate("field => field.validity.valueMissing")
    page.get_by_label("Reason").fill("Forwarded to a relative")
    page.get_by_role("button", name="Deactivate and reissue the link").click()
    assert f"link {old['study_id']} is deactivated" in messages(page)
    assert page.get_by_text("Link deactivated").count() == 1
    shoot(page, "participant-reissued")

    # The participant's browser still sends a result for the old link: refused, kept, accepted.
    status, body, _ = http_json(f"{url}/tests", load_sample("delayed_recall", old["study_id"]))
    assert (status, body["message"]) == (400, "Unknown study_id: no study has this id.")
    page.goto(f"{url}/admin/refused")
    page.get_by_role("link", name="See what was sent").first.click()
    assert_accessible(page, "refused submission")
    page.get_by_role("button", name="Accept into P1's data").click()
    assert "now in the participant's data" in messages(page)
    with app.app_context():
        assert db.tests().count_documents({"study_id": old["study_id"]}) == 1

    page.get_by_role("link", name="Withdraw participant").click()
    assert_accessible(page, "withdraw")
    page.get_by_label("Reason").fill("Consent withdrawn by phone")
    page.get_by_role("button", name="Withdraw P1").click()
    assert "P1 is withdrawn" in messages(page)
    assert page.locator("#withdrawal").inner_text().startswith("Withdrew on")
    assert_accessible(page, "withdrawn participant")
    page.goto(f"{url}/admin/progress")
    row = page.get_by_role("row", name=re.compile(r"^P1\b"))
    assert "Withdrawn" in row.inner_text()
    assert_accessible(page, "progress with a withdrawn participant")


def test_erase_on_a_phone(live, page_at):
    app, url, _ = live
    page = logged_in(page_at, url, PHONE)
    page.goto(f"{url}/admin/participants/P2")
    page.get_by_role("link", name="Erase participant").click()
    assert_accessible(page, "erase")
    page.get_by_label("Reason").fill("Asked for erasure (GDPR art. 17)")
    page.get_by_label("Type the participant id, P2, to confirm").fill("P3")
    page.get_by_role("button", name="Erase P2 for good").click()
    assert "Type P2 exactly" in page.locator("#confirm_participant_id-error").inner_text()
    assert_accessible(page, "erase refused")
    page.get_by_label("Type the participant id, P2, to confirm").fill("P2")
    page.get_by_role("button", name="Erase P2 for good").click()
    page.wait_for_url(re.compile(r"/admin/progress$"))
    assert "P2 is erased" in messages(page)
    shoot(page, "participant-erased-phone")
    with app.app_context():
        assert db.studies().count_documents({"participant_id": "P2"}) == 0
    assert not page.errors
