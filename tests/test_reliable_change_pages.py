"""Dashboard pages of reliable change: the decline list, the method, the values form, the scores.

The data set and the hand computation of its numbers are in tests/rci_dataset.py.
"""

import pytest
import rci_dataset
from conftest import HTMX, csrf_from, is_fragment, log_in

from intact import audit, summaries


def _words(response) -> str:
    """The page's HTML with every run of whitespace made one space, as a reader sees it."""
    return " ".join(response.get_data(as_text=True).split())


@pytest.fixture
def rci_app(app_config, tmp_path):
    return rci_dataset.app_with_data(app_config, tmp_path)


@pytest.fixture
def researcher(rci_app):
    client = rci_app.test_client()
    assert log_in(client).status_code == 303
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/reliable-change",
        "/admin/reliable-change/method",
        "/admin/reliable-change/method/dr_score",
    ],
)
def test_reliable_change_pages_need_a_login(rci_app, path):
    response = rci_app.test_client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login?next=")


def test_changing_values_needs_the_forms_token(researcher):
    for path in (
        "/admin/reliable-change/method/dr_score",
        "/admin/reliable-change/method/dr_score/clear",
    ):
        response = researcher.post(path, data={"r": "0.8", "sd_baseline": "1", "practice": "0"})
        assert response.status_code == 403


def test_the_decline_list_shows_the_latest_followups_declines(researcher):
    response = researcher.get("/admin/reliable-change")
    page = _words(response)
    assert response.status_code == 200
    assert '<a href="/admin/reliable-change" aria-current="page">Reliable change</a>' in page
    assert "2 participants with a reliable decline at their latest follow-up." in page
    # P1 at follow-up 2 (+200 ms, RCI 3.111), P4 at follow-up 1 (+100 ms, RCI 1.697).
    assert '<a href="/admin/participants/P1/scores">P1</a>' in page
    assert '<a href="/admin/participants/P4/scores">P4</a>' in page
    assert "Follow-up 2 <code>rcisecnd</code>" in page
    assert "Choice reaction time: median RT of correct answers: +200.0 ms, RCI" in page
    assert '<span class="rci rci--decline">+3.11</span>' in page
    assert '<span class="rci rci--decline">+1.70</span>' in page
    assert "beyond ±1.645 at the two-sided 90 % level" in page


def test_the_decline_list_filters_by_score_as_a_fragment(researcher):
    response = researcher.get("/admin/reliable-change?score=dr_score", headers=HTMX)
    assert is_fragment(response)
    assert "HX-Request" in response.headers["Vary"]
    text = response.get_data(as_text=True)
    assert "No participant's latest follow-up shows a reliable decline on this score." in text
    one = researcher.get("/admin/reliable-change?score=crt_rt_mean_correct").get_data(as_text=True)
    assert '<option value="crt_rt_mean_correct" selected>' in one
    assert "2 participants with a reliable decline" in one


@pytest.mark.parametrize("query", ["score=nonsense", "page=0", "page=two"])
def test_a_decline_list_address_it_does_not_understand_is_a_400_page(researcher, query):
    response = researcher.get(f"/admin/reliable-change?{query}")
    assert response.status_code == 400
    assert response.mimetype == "text/html"


def test_without_any_values_the_list_says_why_it_is_empty(researcher, rci_app):
    rci_app.config["RCI_MIN_PAIRS"] = 50
    rci_app.extensions["intact_rci_reference"] = {}
    page = researcher.get("/admin/reliable-change").get_data(as_text=True)
    assert "No score has an RCI yet" in page
    assert "at least 50 are" in page


def test_participant_scores_show_the_rci_beside_each_change(researcher):
    page = researcher.get("/admin/participants/P1/scores").get_data(as_text=True)
    assert page.count('<th scope="col" class="score-table__rci">') == 2  # one per follow-up
    # Delayed recall at follow-up 1: −1, RCI −2.309 from the sample → a reliable decline.
    assert '<span class="rci rci--decline">−2.31</span>' in page
    assert "this study&#39;s sample" in page
    # Reaction time, reference values: +150 ms → +2.404, +200 ms → +3.111.
    assert '<span class="rci rci--decline">+2.40</span>' in page
    assert '<span class="rci rci--decline">+3.11</span>' in page
    assert "reference file" in page
    # No RCI, and why: too few pairs at follow-up 2, no variance at baseline for ir_score.
    assert "too few pairs" in page and "no variance at baseline" in page
    assert "How the reliable change index (RCI) was computed" in page
    assert "Estimated from the 5 participants with a baseline and a follow-up 1 value" in page


def test_a_participant_without_the_followup_test_has_no_rci_for_it(researcher):
    page = researcher.get("/admin/participants/P6/scores").get_data(as_text=True)
    assert '<span class="rci rci--no_change">−0.28</span>' in page  # CRT: −40 ms → −0.283
    assert "rci--decline" not in page and "rci--improvement" not in page
    improvement = researcher.get("/admin/participants/P2/scores").get_data(as_text=True)
    assert '<span class="rci rci--improvement">+2.31</span>' in improvement  # delayed recall
    assert '<span class="rci rci--improvement">−1.84</span>' in improvement  # faster by 150 ms


def test_the_report_prints_the_rci_and_its_method(researcher):
    page = _words(researcher.get("/admin/participants/P4/report"))
    assert '<span class="rci rci--decline">+1.70</span>' in page
    assert "<h2>Reliable change</h2>" in page
    assert "the two-sided 90 % level" in page
    assert "Reference file: r = 0.75, SD1 = 100, practice = -20 (Test manual 2026)." in page


def test_the_method_page_lists_every_scores_values_and_source(researcher):
    page = _words(researcher.get("/admin/reliable-change/method"))
    assert "A change is reliable when |RCI| &gt; 1.645, the two-sided 90 % level" in page
    assert "<strong>Follow-up 1:</strong> Estimated from the 5 participants" in page
    assert "only 1 participant has both a baseline and a follow-up 2 value" in page
    assert page.count("Enter values<span") == 18  # no researcher values yet
    assert 'href="/admin/reliable-change/method/dr_score"' in page


def test_a_researcher_enters_values_fixes_a_typo_and_removes_them(researcher, rci_app):
    form = researcher.get("/admin/reliable-change/method/dr_score")
    assert form.status_code == 200
    token = csrf_from(form)
    # A decimal comma and a missing source: the form comes back with both fields explained.
    refused = researcher.post(
        "/admin/reliable-change/method/dr_score",
        data={"csrf_token": token, "r": "0,8", "sd_baseline": "1.2", "practice": "0.5"},
        headers=HTMX,
    )
    assert refused.status_code == 422
    assert is_fragment(refused)
    text = refused.get_data(as_text=True)
    assert 'id="r-error"' in text and "dot as the decimal mark" in text
    assert 'id="source-error"' in text
    assert 'value="1.2"' in text  # what was typed stays
    saved = researcher.post(
        "/admin/reliable-change/method/dr_score",
        data={
            "csrf_token": token,
            "r": "0.8",
            "sd_baseline": "1.2",
            "practice": "\u22120.5",
            "source": "Norms 2024, Table 2",
        },
    )
    assert saved.status_code == 303
    assert saved.headers["Location"] == "/admin/reliable-change/method"
    page = _words(researcher.get("/admin/reliable-change/method"))
    assert "Saved the values of Delayed recall: score." in page
    assert (
        "Entered by a researcher: r = 0.8, SD1 = 1.2, practice = -0.5 (Norms 2024, Table 2)."
        in page
    )
    with rci_app.test_request_context():
        (row, _) = [r for r in summaries.iter_change_rows("P1")]
        # SEM = 1.2 · √0.2 = 0.536656, SEdiff = 0.758947; P1: (−1 − (−0.5)) / 0.758947 = −0.659
        assert (row["dr_score_rci"], row["dr_score_rci_source"]) == (-0.659, "researcher")
        (entry,) = audit.find_entries(action=audit.RCI_VALUES_SET).items
        assert entry["details"]["values"] == {
            "r": 0.8,
            "sd_baseline": 1.2,
            "practice": -0.5,
            "citation": "Norms 2024, Table 2",
        }
    again = researcher.get("/admin/reliable-change/method/dr_score").get_data(as_text=True)
    assert 'value="0.8"' in again and "Norms 2024, Table 2</textarea>" in again
    cleared = researcher.post(
        "/admin/reliable-change/method/dr_score/clear", data={"csrf_token": token}
    )
    assert cleared.status_code == 303
    page = researcher.get("/admin/reliable-change/method").get_data(as_text=True)
    assert "Removed the values entered for Delayed recall: score." in page
    assert "Entered by a researcher" not in page


def test_an_unknown_score_has_no_values_form(researcher):
    assert researcher.get("/admin/reliable-change/method/nonsense").status_code == 404
    token = csrf_from(researcher.get("/admin/reliable-change/method/dr_score"))
    response = researcher.post(
        "/admin/reliable-change/method/nonsense/clear", data={"csrf_token": token}
    )
    assert response.status_code == 404
    assert response.mimetype == "text/html"
