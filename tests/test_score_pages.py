"""Dashboard score pages: distributions, flagged tests, a participant's change, the report."""

from datetime import UTC, datetime, timedelta

import pytest
from conftest import HTMX, is_fragment

from intact.admin import formatting
from intact.admin import scores as score_pages

BASELINE_DAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def seeded(make_study, make_test):
    """P001: baseline with all six tests (a retaken CRT), follow-up 90 days later with two.

    The contract samples are short lists, so the list tests are flagged incomplete.
    """
    baseline = make_study("P001", "baseline", study_id="basebase")
    followup = make_study("P001", "followup", study_id="followup")
    for test_type in ("immediate_recall", "choice_reaction_time", "delayed_recall"):
        make_test(baseline, test_type, time_started=BASELINE_DAY)
    make_test(baseline, "choice_reaction_time", time_started=BASELINE_DAY + timedelta(hours=1))
    later = BASELINE_DAY + timedelta(days=90)
    make_test(
        followup,
        "immediate_recall",
        time_started=later,
        result={"ir_score": 2, "ir_rt_first": 7012, "ir_rt_second": None},
    )
    make_test(
        followup, "delayed_recall", time_started=later, result={"dr_rt": 15002, "dr_score": 0}
    )
    make_study("P002", "baseline", study_id="emptyaaa")


@pytest.mark.parametrize(
    "path",
    [
        "/admin/scores",
        "/admin/scores/flagged",
        "/admin/participants/P001/scores",
        "/admin/participants/P001/report",
    ],
)
def test_score_pages_need_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login?next=")


def test_scores_page_draws_a_chart_per_score(admin, seeded):
    response = admin.get("/admin/scores")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<a href="/admin/scores" aria-current="page">Scores</a>' in page
    assert "scores.css" in page
    assert "Immediate recall: score" in page
    # ir_score is drawn as bars (few whole numbers): 1 at baseline, 2 at follow-up.
    assert "Baseline, 1: 1 of 1" in page and "Follow-up 1, 2: 1 of 1" in page
    assert "Baseline: n = 1, median 1; Follow-up 1: n = 1, median 2" in page
    assert page.count("<svg") >= 4
    assert "No values yet." in page  # nothing for spatial memory


def test_scores_page_can_leave_flagged_tests_out(admin, seeded):
    every = admin.get("/admin/scores").get_data(as_text=True)
    unflagged = admin.get("/admin/scores?flagged=exclude").get_data(as_text=True)
    # The baseline CRT is a duplicate (and incomplete): left out, its chart has no values.
    assert "Choice reaction time: accuracy. Baseline: n = 1" in every
    assert "Choice reaction time: accuracy. Baseline: n = 1" not in unflagged
    assert 'value="exclude" checked' in unflagged


def test_flagged_tests_link_to_the_participant(admin, seeded):
    response = admin.get("/admin/scores/flagged")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "2 flagged tests." in page  # the two CRT submissions of the baseline
    assert page.count('href="/admin/participants/P001/scores"') == 2
    assert "duplicate" in page and "incomplete" in page


def test_flagged_tests_filter_answers_a_fragment_for_htmx(admin, seeded, make_study, make_test):
    make_test(make_study("P003", "baseline", study_id="unclunkn"), "unclassified")
    response = admin.get("/admin/scores/flagged?flag=unclassified", headers=HTMX)
    assert response.status_code == 200
    assert is_fragment(response)
    assert "HX-Request" in response.headers["Vary"]
    page = response.get_data(as_text=True)
    assert "1 flagged test with" in page
    assert "P003" in page and "P001" not in page


def test_a_followup_taken_before_its_baseline_is_on_the_data_quality_page(
    admin, make_study, make_test
):
    baseline = make_study("P004", "baseline", study_id="pfourbase")
    followup = make_study("P004", "followup", study_id="pfourfoll")
    make_test(baseline, "immediate_recall", time_started=BASELINE_DAY)
    make_test(followup, "immediate_recall", time_started=BASELINE_DAY - timedelta(days=2))

    page = admin.get("/admin/scores/flagged?flag=before_baseline").get_data(as_text=True)

    assert "1 flagged test with <code>before_baseline</code>." in page
    assert 'href="/admin/participants/P004/scores"' in page
    assert "Follow-up 1" in page
    # What it means is on the page, with the rest of the flags.
    assert "started before the participant&#39;s baseline" in page
    scores = admin.get("/admin/participants/P004/scores").get_data(as_text=True)
    assert "before_baseline" in scores


def test_flagged_tests_page_by_page(admin, seeded, monkeypatch):
    monkeypatch.setattr(score_pages, "FLAGGED_PER_PAGE", 1)
    first = admin.get("/admin/scores/flagged").get_data(as_text=True)
    assert "Show more" in first
    assert 'hx-get="/admin/scores/flagged?page=2"' in first
    second = admin.get("/admin/scores/flagged?page=2", headers=HTMX)
    rows = second.get_data(as_text=True)
    assert is_fragment(second)
    assert rows.count("<tr>") == 1 and "Show more" not in rows and "<table" not in rows
    # "Show more" past the end (flags went away meanwhile) adds nothing, not the last page again.
    past_the_end = admin.get("/admin/scores/flagged?page=3", headers=HTMX)
    assert past_the_end.status_code == 200
    assert "<tr" not in past_the_end.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "/admin/scores/flagged?flag=bogus",
            "There is no data-quality flag called &#39;bogus&#39;",
        ),
        ("/admin/scores/flagged?page=0", "The page number is a whole number from 1."),
        ("/admin/scores/flagged?page=x", "The page number is a whole number from 1."),
        ("/admin/scores?flagged=maybe", "Use flagged=exclude or leave it out."),
    ],
)
def test_score_pages_refuse_a_bad_query_with_a_page(admin, path, message):
    response = admin.get(path)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert message in response.get_data(as_text=True)


def test_participant_scores_side_by_side_with_change(admin, seeded):
    response = admin.get("/admin/participants/P001/scores")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Follow-up 1" in page and "day 90" in page
    assert '<td class="number score-table__change">+1</td>' in page  # ir_score 1 → 2
    assert '<td class="number score-table__change">−4</td>' in page  # dr_score 4 → 0
    assert "⚑" in page  # the baseline CRT values are flagged
    assert 'href="/admin/participants/P001/report"' in page


def test_participant_without_any_study_is_not_found(admin):
    response = admin.get("/admin/participants/nobody/scores")
    assert response.status_code == 404
    assert "No study belongs to a participant with the id nobody" in response.get_data(as_text=True)


def test_participant_with_a_study_but_no_test_has_an_empty_state(admin, seeded):
    page = admin.get("/admin/participants/P002/scores").get_data(as_text=True)
    assert "No scores yet" in page


def test_report_is_printable(admin, seeded):
    response = admin.get("/admin/participants/P001/report")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "INTACT cognitive tests: participant" in page
    assert "data-print" in page and "scores.js" in page
    assert "Reaction times outside 100–60,000 ms" in page
    assert '<td class="number score-table__change">+1</td>' in page


def test_score_formatting():
    # Halves away from zero, as every derived value (scoring.rounded), not Python's half-to-even.
    assert formatting.format_score(412.25, "ms") == "412.3 ms"
    assert formatting.format_score(1500.0, "ms") == "1,500.0 ms"
    assert formatting.format_score(0.6667, "proportion 0–1") == "0.667"
    assert formatting.format_score(3, "count 0–5") == "3"
    assert formatting.format_score(None, "ms") == "—"
    assert formatting.format_change(-12.5, "ms") == "−12.5 ms"
    assert formatting.format_change(1, "points 0–2") == "+1"
    assert formatting.format_change(0, "ms") == "±0"
    assert formatting.format_change(None, "ms") == "—"


def test_the_participant_page_links_to_their_scores(admin, seeded):
    page = admin.get("/admin/participants/P001").get_data(as_text=True)
    assert 'href="/admin/participants/P001/scores"' in page


def test_scores_page_offers_the_downloads_with_the_session_token(admin, seeded):
    page = admin.get("/admin/scores").get_data(as_text=True)
    assert 'action="/admin/downloads/summary"' in page
    assert 'action="/admin/downloads/workbook"' in page
    with admin.session_transaction() as session:
        token = session["csrf_token"]
    assert f'name="csrf_token" value="{token}"' in page
    response = admin.post("/admin/downloads/summary", data={"csrf_token": token})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"


def test_downloads_page_offers_the_scores_and_the_workbook(admin):
    page = admin.get("/admin/downloads").get_data(as_text=True)
    assert 'action="/admin/downloads/summary"' in page
    assert 'action="/admin/downloads/workbook"' in page
    assert 'id="workbook-participant" name="participant_id"' in page


def test_participant_page_and_scores_page_give_the_same_numbers(admin, make_study, make_test):
    """The contract's CRT sample: 412 ms (correct) and 388 ms (wrong). Both pages give scoring's
    mean over correct answers with plausible times, 412.0 ms, never the mean of all (400)."""
    study = make_study("P7", "baseline", study_id="sevenaaa")
    make_test(study, "choice_reaction_time", time_started=BASELINE_DAY)
    make_test(study, "spatial_memory", time_started=BASELINE_DAY)
    details = admin.get("/admin/participants/P7").get_data(as_text=True)
    scores = admin.get("/admin/participants/P7/scores").get_data(as_text=True)
    for test, name, value in (
        ("Choice reaction time", "mean RT of correct answers", "412.0 ms"),
        ("Choice reaction time", "median RT of correct answers", "412.0 ms"),
        ("Choice reaction time", "accuracy", "0.500"),
        ("Spatial memory", "median RT", "5,670.0 ms"),
    ):
        article = details.split(f"<h3>{test}")[1].split("</article>")[0]
        assert f"{name} <strong>{value}</strong>" in article, name
        group = scores.split(f'colspan="2">{test}</th>')[1]
        row = group.split(f'<th scope="row">{name} <span')[1].split("</tr>")[0]
        assert f'<td class="number">{value}' in row, name
    crt = details.split("<h3>Choice reaction time")[1].split("</article>")[0]
    assert "400" not in crt
