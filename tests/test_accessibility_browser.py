"""Every dashboard page has no serious or critical accessibility violation (axe-core, WCAG 2.1 AA).

The pages are found by walking the app's URL map, so a page added later is checked without
anyone listing it here; a URL variable this module has no sample value for fails the test,
asking for one. Pages are checked at laptop and phone width, logged out (the login page) and
logged in, and in the states a researcher meets: a form with its errors, a page not found.
Other browser tests can hold their own pages to the same rule with conftest's
`assert_accessible(page)`.
"""

import pytest
from conftest import LAPTOP, PHONE, TEST_PASSWORD, assert_accessible, submit_login

from intact import create_app

pytestmark = pytest.mark.browser

# A value for each URL variable of a dashboard page, from seed_a_study_in_full_swing.
SAMPLES = {
    "participant_id": "P002",
    "study_id": "ldjfwqop",
    "batch_id": "seed",
    "quarantine_id": "6a1f00000000000000000001",
    "unknown": "no-such-page",
    "score": "dr_score",
    # Not found pages: the seeded account's own page is reached from the Accounts list below.
    "account_id": "no-such-account",
    "key": "no-such-link",
}


def dashboard_pages() -> list[str]:
    """The path of every GET route of the dashboard, variables filled from SAMPLES."""
    app = create_app(
        {"DB_CONNECTION_STR": "mongomock://", "ADMIN_PASSWORD": "x" * 16, "SECRET_KEY": "y"}
    )
    paths = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("dashboard.") or "GET" not in rule.methods:
            continue
        missing = set(rule.arguments) - set(SAMPLES)
        assert not missing, f"{rule.rule}: add a sample value for {missing} to SAMPLES"
        paths.append(rule.build({name: SAMPLES[name] for name in rule.arguments})[1])
    return sorted(paths)


@pytest.fixture(scope="module")
def pages():
    return dashboard_pages()


@pytest.fixture(scope="module")
def is_page():
    """Whether each path answers an HTML page (not a download): asked once, for both widths."""
    return {}


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_every_dashboard_page_passes_axe(seeded_server, page_at, pages, is_page, viewport):
    page = page_at(viewport, bypass_csp=True)
    page.goto(f"{seeded_server}/admin/login")
    assert_accessible(page, "the login page")
    page.fill("#password", "not the password")
    page.click("button:has-text('Log in')")
    assert_accessible(page, "the login page with its error")
    submit_login(page, TEST_PASSWORD)
    checked = 0
    for path in pages:
        if path not in is_page:
            answer = page.request.get(f"{seeded_server}{path}")
            is_page[path] = answer.headers.get("content-type", "").startswith("text/html")
        if not is_page[path]:
            continue  # a download (CSV, ZIP), not a page
        page.goto(f"{seeded_server}{path}")
        assert_accessible(page, path)
        checked += 1
    assert checked >= 10
    page.goto(f"{seeded_server}/admin/accounts")
    page.click("a[href*='/admin/accounts/']")
    page.wait_for_selector("text=research.assistant@example.org")
    assert_accessible(page, "an account's page")


def test_forms_with_their_errors_pass_axe(seeded_server, page_at):
    page = page_at(LAPTOP, bypass_csp=True)
    page.goto(f"{seeded_server}/admin/login")
    submit_login(page, TEST_PASSWORD)
    page.goto(f"{seeded_server}/admin/studies/new")
    page.fill("#participant_ids", "P1\nP-2\nP1")
    page.click("button:has-text('Create studies')")
    page.wait_for_selector("#participant_ids-error")
    assert_accessible(page, "the create-studies form with its errors")
