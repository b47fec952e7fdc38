"""Reliable change in headless Chromium: the decline list, its score filter, a participant's RCI,
and a researcher entering published values. Data: tests/rci_dataset.py (worked out by hand).

Screenshots go to screenshots/ (git-ignored) for a person to look at.
"""

import re

import pytest
import rci_dataset
from conftest import LAPTOP, PHONE, TEST_PASSWORD, logged_in_page, serving, shoot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def rci_server(tmp_path_factory):
    """The app holding the hand-computed data set, on a free loopback port."""
    folder = tmp_path_factory.mktemp("rci")
    config = {
        "DB_CONNECTION_STR": "mongomock://",
        "ADMIN_PASSWORD": TEST_PASSWORD,
        "SECRET_KEY": "browser-test-secret",
        "DATA_DIR": str(folder / "data"),
    }
    with serving(rci_dataset.app_with_data(config, folder)) as url:
        yield url


def test_researcher_finds_reliable_declines_and_opens_a_participant(rci_server, page_at):
    page = logged_in_page(page_at, rci_server, LAPTOP)
    page.click("nav >> text=Reliable change")
    page.wait_for_url(re.compile(r"/admin/reliable-change$"))
    rows = page.locator("table.declines tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td a").inner_text() == "P1"
    assert "Follow-up 2" in rows.nth(0).inner_text()
    assert "+3.11" in rows.nth(0).inner_text() and "+1.70" in rows.nth(1).inner_text()
    # The stylesheet (no inline styles under the CSP) marks a decline in the warning colour.
    colour = page.eval_on_selector(".rci--decline", "e => getComputedStyle(e).color")
    assert colour != page.eval_on_selector("body", "e => getComputedStyle(e).color")
    shoot(page, "laptop-30-reliable-declines")

    # Filter by a score: htmx swaps the table and keeps the address.
    page.select_option("#score", "dr_score")
    page.wait_for_url(re.compile(r"score=dr_score"))
    page.wait_for_selector("text=No reliable decline")
    assert page.locator("table.declines").count() == 0
    page.select_option("#score", "crt_rt_median_correct")
    page.wait_for_url(re.compile(r"score=crt_rt_median_correct"))
    page.wait_for_function("document.querySelectorAll('table.declines tbody tr').length === 2")

    page.click("table.declines >> text=P4")
    page.wait_for_url(re.compile(r"/admin/participants/P4/scores$"))
    rci_cells = page.locator("td.score-table__rci .rci--decline")
    assert rci_cells.all_inner_texts() == ["+1.70", "+1.70"]  # mean and median RT, +100 ms
    page.click("text=How the reliable change index (RCI) was computed")
    assert page.locator("#reliable-change").get_by_text("Test manual 2026").count() >= 1
    shoot(page, "laptop-31-participant-rci")
    assert page.errors == []


def test_researcher_enters_published_values_for_a_score(rci_server, page_at):
    page = logged_in_page(page_at, rci_server, PHONE)
    page.goto(f"{rci_server}/admin/reliable-change/method")
    page.click("a[href$='/reliable-change/method/dr_score']")
    page.wait_for_url(re.compile(r"/method/dr_score$"))
    page.fill("#r", "0,8")
    page.fill("#sd_baseline", "1.2")
    page.fill("#practice", "0.5")
    page.fill("#source", "Norms 2024, Table 2")
    page.click("button:has-text('Save')")
    # htmx puts the form back with the message beside the field; what was typed stays.
    error = page.wait_for_selector("#r-error")
    assert "dot as the decimal mark" in error.inner_text()
    assert page.input_value("#sd_baseline") == "1.2"
    shoot(page, "phone-32-reliable-change-values-error")
    page.fill("#r", "0.8")
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"/admin/reliable-change/method$"))
    assert page.locator("text=Saved the values of Delayed recall: score.").count() == 1
    assert page.get_by_text("Entered by a researcher: r = 0.8, SD1 = 1.2").count() == 1
    shoot(page, "phone-33-reliable-change-method")
    page.click("a[href$='/reliable-change/method/dr_score']")
    page.click("button:has-text('Remove the values entered')")
    page.wait_for_url(re.compile(r"/admin/reliable-change/method$"))
    assert page.get_by_text("Entered by a researcher").count() == 0
    assert page.errors == []
