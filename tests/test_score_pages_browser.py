"""The score pages in headless Chromium: charts under the CSP, the flag filter, the printed report.

Screenshots go to screenshots/ (git-ignored), and the report's PDF too, for a person to look at.
"""

import re
from pathlib import Path

import pytest
from conftest import LAPTOP, PHONE, SCREENSHOTS, logged_in_page, shoot

pytestmark = pytest.mark.browser


def test_researcher_reads_scores_flags_and_prints_a_report(seeded_server, page_at):
    page = logged_in_page(page_at, seeded_server, LAPTOP)
    page.click("nav >> text=Scores")
    page.wait_for_url(re.compile(r"/admin/scores$"))
    assert page.locator("figure.chart svg").count() >= 10
    # The stylesheet, not inline styles (the CSP forbids them), colours the boxes.
    box_fill = page.eval_on_selector("figure.chart .box.baseline", "e => getComputedStyle(e).fill")
    assert box_fill == "rgb(156, 195, 213)"
    shoot(page, "laptop-10-scores")
    with page.expect_download() as summary:
        page.click("button:has-text('summary.csv')")
    assert summary.value.suggested_filename == "summary.csv"
    with page.expect_download() as workbook:
        page.click("button:has-text('Excel workbook')")
    assert workbook.value.suggested_filename.endswith(".xlsx")
    assert Path(workbook.value.path()).read_bytes()[:2] == b"PK"

    page.click("nav >> text=Data quality")
    page.wait_for_url(re.compile(r"/admin/scores/flagged$"))
    every = page.locator("table.flagged tbody tr").count()
    page.select_option("#flag", "unclassified")
    page.wait_for_url(re.compile(r"flag=unclassified"))
    page.wait_for_function("document.querySelectorAll('table.flagged tbody tr').length === 1")
    assert every > 1
    assert page.locator("table.flagged tbody td a").inner_text() == "P005"
    shoot(page, "laptop-11-flagged")

    page.goto(f"{seeded_server}/admin/participants/P001/scores")
    # score, baseline, follow-up, change, RCI
    assert page.locator("table.score-table thead th").count() == 5
    shoot(page, "laptop-12-participant-scores")

    page.click("text=Printable report")
    page.wait_for_url(re.compile(r"/admin/participants/P001/report$"))
    page.emulate_media(media="print")
    # On paper: no menu, no buttons, just the report.
    assert not page.locator(".site-header").is_visible()
    assert not page.locator("[data-print]").is_visible()
    assert page.locator("table.score-table").is_visible()
    shoot(page, "laptop-13-report-print")
    SCREENSHOTS.mkdir(exist_ok=True)
    pdf = page.pdf(path=SCREENSHOTS / "report-P001.pdf", format="A4", print_background=True)
    assert pdf.startswith(b"%PDF")
    assert page.errors == []


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("scores", "/admin/scores"),
        ("flagged", "/admin/scores/flagged"),
        ("participant-scores", "/admin/participants/P001/scores"),
        ("report", "/admin/participants/P001/report"),
    ],
)
def test_score_pages_fit_a_phone(seeded_server, page_at, name, path):
    page = logged_in_page(page_at, seeded_server, PHONE)
    page.goto(f"{seeded_server}{path}")
    shoot(page, f"phone-{name}")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.errors == []
