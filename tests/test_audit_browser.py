"""The audit log page in real headless Chromium: it lists, filters (htmx) and downloads."""

import csv
import io
import re

import pytest
from conftest import LAPTOP, PHONE, TEST_PASSWORD, serving, shoot, submit_login

from intact import audit, create_app

pytestmark = pytest.mark.browser


@pytest.fixture
def audit_server(tmp_path):
    """The app on a fresh in-memory database with a few audit entries, on a free loopback port."""
    app = create_app(
        {
            "DB_CONNECTION_STR": "mongomock://",
            "ADMIN_PASSWORD": TEST_PASSWORD,
            "SECRET_KEY": "browser-test-secret",
            "DATA_DIR": str(tmp_path / "data"),
        }
    )
    with app.app_context():
        audit.record(audit.LOGIN_FAILURE, client="203.0.113.9")
        audit.record(audit.STUDIES_CREATED, count=40, participants=20, client="192.0.2.10")
        audit.record(audit.DOWNLOAD, count=18_432, file="studies.csv", completed=True)
    with serving(app) as url:
        yield url


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_audit_log_page_lists_filters_and_downloads(audit_server, chromium, viewport):
    context = chromium.new_context(viewport=viewport, accept_downloads=True)
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        # Chromium logs the missing favicon as a failed load; anything else is a fault.
        page.on(
            "console",
            lambda m: (
                m.type == "error" and "favicon" not in m.location["url"] and errors.append(m.text)
            ),
        )
        page.set_default_timeout(10_000)

        page.goto(f"{audit_server}/admin/audit")
        submit_login(page)
        page.wait_for_url(re.compile(r"/admin/audit$"))
        rows = page.locator("#audit-table tbody tr")
        # The three seeded entries and this login, newest first.
        assert rows.count() == 4
        assert "Dashboard login" in rows.first.inner_text()
        name = "laptop" if viewport is LAPTOP else "phone"
        shoot(page, f"{name}-20-audit-log")

        page.select_option("#action", audit.STUDIES_CREATED)
        page.wait_for_url(re.compile(r"action=studies_created"))
        assert rows.count() == 1
        assert "192.0.2.10" in rows.first.inner_text()
        shoot(page, f"{name}-21-audit-log-filtered")

        with page.expect_download() as download_info:
            page.click("text=Download these as CSV")
        text = download_info.value.path().read_text(encoding="utf-8")
        table = list(csv.reader(io.StringIO(text)))
        assert table[0] == list(audit.CSV_COLUMNS)
        assert [row[1] for row in table[1:]] == ["studies_created"]
        assert errors == []
    finally:
        context.close()
