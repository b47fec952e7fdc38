"""The dashboard's read side: study states, overview numbers, the grid, participant details."""

from datetime import UTC, datetime, timedelta

import pytest

from intact import progress, scoring
from intact.progress import GridQuery, ParticipantNotFound
from intact.testtypes import TEST_TYPES

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ALL_SIX = list(TEST_TYPES)


@pytest.fixture
def in_app(app):
    with app.app_context():
        yield


def _state_of(app, study_id):
    with app.app_context():
        return next(s.state for s in progress.load_progress(NOW) if s.study_id == study_id)


@pytest.mark.parametrize(
    ("opened_days_ago", "tests", "days_since_last_test", "state"),
    [
        (None, [], None, "not_started"),
        (1, [], None, "opened"),
        (15, [], None, "abandoned"),
        (1, ["immediate_recall"], 1, "in_progress"),
        (20, ["immediate_recall", "choice_reaction_time"], 13, "in_progress"),
        (20, ["immediate_recall", "choice_reaction_time"], 15, "abandoned"),
        (1, ["unclassified"], 1, "in_progress"),
        (1, ALL_SIX, 1, "complete"),
        (60, ALL_SIX, 40, "complete"),
        (None, ["immediate_recall"], 1, "in_progress"),
    ],
)
def test_study_state_follows_opening_tests_and_quiet_time(
    app, make_study, make_test, opened_days_ago, tests, days_since_last_test, state
):
    fields = {}
    if opened_days_ago is not None:
        opened = NOW - timedelta(days=opened_days_ago)
        fields = {"first_opened_at": opened, "last_seen_at": opened}
    study = make_study(study_id="abcdefgh", **fields)
    for test_type in tests:
        make_test(study, test_type, received_at=NOW - timedelta(days=days_since_last_test))
    assert _state_of(app, "abcdefgh") == state


def test_abandoned_after_days_is_a_setting(app_config, make_study):
    from intact import create_app

    app_config["ABANDONED_AFTER_DAYS"] = "3"
    app = create_app(app_config)
    opened = NOW - timedelta(days=4)
    with app.app_context():
        from intact import db

        db.studies().insert_one(
            {
                "study_id": "abcdefgh",
                "participant_id": "P1",
                "study_type": "baseline",
                "first_opened_at": opened,
                "last_seen_at": opened,
            }
        )
    assert _state_of(app, "abcdefgh") == "abandoned"


def test_overview_counts_participants_studies_tests_and_latest_arrival(
    app, in_app, make_study, make_test
):
    p1_base = make_study("P1", "baseline", first_opened_at=NOW - timedelta(days=1))
    make_study("P1", "followup")
    make_study("P2", "baseline")
    latest = NOW - timedelta(hours=2)
    make_test(p1_base, "immediate_recall", received_at=NOW - timedelta(days=1))
    make_test(p1_base, "choice_reaction_time", received_at=latest)
    make_test(p1_base, "choice_reaction_time", received_at=NOW - timedelta(hours=3))
    make_test(p1_base, "unclassified", received_at=NOW - timedelta(hours=5))

    numbers = progress.overview(NOW)

    assert numbers.participants == 2
    assert numbers.studies == 3
    assert numbers.studies_by_type == {"baseline": 2, "followup": 1}
    assert numbers.studies_by_state == {
        "not_started": 2,
        "opened": 0,
        "in_progress": 1,
        "complete": 0,
        "abandoned": 0,
    }
    assert numbers.tests == 4
    assert list(numbers.tests_by_type) == [*ALL_SIX, "unclassified"]
    assert numbers.tests_by_type["choice_reaction_time"] == 2
    assert numbers.tests_by_type["unclassified"] == 1
    assert numbers.latest_submission_at == latest


def test_overview_of_an_empty_database(app, in_app):
    numbers = progress.overview(NOW)
    assert (numbers.participants, numbers.studies, numbers.tests) == (0, 0, 0)
    assert numbers.latest_submission_at is None


def _ids(page):
    return [row.participant_id for row in page.rows.items]


@pytest.fixture
def cohort(make_study, make_test):
    """P1 complete baseline; P2 opened; P10 two follow-ups; P3 nothing; P4 abandoned."""
    p1 = make_study("P1", "baseline", study_id="basepone")
    for test_type in ALL_SIX:
        make_test(p1, test_type, received_at=NOW - timedelta(hours=1))
    make_study("P2", "baseline", study_id="baseptwo", first_opened_at=NOW - timedelta(days=2))
    make_study("P10", "baseline", study_id="basepten")
    followup = make_study("P10", "followup", study_id="followaa", created_at=NOW - timedelta(2))
    make_study("P10", "followup", study_id="followbb", created_at=NOW - timedelta(1))
    make_test(followup, "immediate_recall", received_at=NOW - timedelta(days=3))
    make_study("P3", "baseline", study_id="basepthr")
    make_study("P4", "baseline", study_id="basepfou", first_opened_at=NOW - timedelta(days=30))


def test_grid_sorts_participant_ids_naturally(app, in_app, cohort):
    assert _ids(progress.progress_grid(GridQuery(), NOW)) == ["P1", "P2", "P3", "P4", "P10"]
    assert _ids(progress.progress_grid(GridQuery(sort="participant-desc"), NOW)) == [
        "P10",
        "P4",
        "P3",
        "P2",
        "P1",
    ]


def test_grid_sorts_by_activity_with_quiet_participants_last(app, in_app, cohort):
    assert _ids(progress.progress_grid(GridQuery(sort="latest"), NOW)) == [
        "P1",
        "P2",
        "P10",
        "P4",
        "P3",
    ]
    assert _ids(progress.progress_grid(GridQuery(sort="earliest"), NOW)) == [
        "P4",
        "P10",
        "P2",
        "P1",
        "P3",
    ]


@pytest.mark.parametrize(
    ("search", "found"),
    [
        ("p1", ["P1", "P10"]),
        ("P10", ["P10"]),
        ("followbb", ["P10"]),
        ("BASEPTWO", ["P2"]),
        ("nobody", []),
    ],
)
def test_grid_search_matches_participant_or_study_ids(app, in_app, cohort, search, found):
    assert _ids(progress.progress_grid(GridQuery(search=search), NOW)) == found


@pytest.mark.parametrize(
    ("state", "found"),
    [
        ("complete", ["P1"]),
        ("opened", ["P2"]),
        ("in_progress", ["P10"]),
        ("not_started", ["P3", "P10"]),
        ("abandoned", ["P4"]),
    ],
)
def test_grid_filters_by_state(app, in_app, cohort, state, found):
    assert _ids(progress.progress_grid(GridQuery(state=state), NOW)) == found


def test_grid_filter_by_study_type_keeps_only_those_studies(app, in_app, cohort):
    page = progress.progress_grid(GridQuery(study_type="followup"), NOW)
    assert _ids(page) == ["P10"]
    assert [s.study_id for s in page.rows.items[0].studies] == ["followaa", "followbb"]
    assert [c.label for c in page.columns] == ["Follow-up 1", "Follow-up 2"]


def test_grid_columns_are_one_group_per_study_slot(app, in_app, cohort):
    page = progress.progress_grid(GridQuery(), NOW)
    assert [c.label for c in page.columns] == ["Baseline", "Follow-up 1", "Follow-up 2"]
    p10 = page.rows.items[-1]
    assert p10.studies_of_type("followup")[0].received["immediate_recall"] == 1


def test_grid_paginates_and_clamps_past_the_last_page(app, in_app, cohort):
    first = progress.progress_grid(GridQuery(per_page=2, page=1), NOW)
    assert (_ids(first), first.rows.pages, first.rows.total) == (["P1", "P2"], 3, 5)
    last = progress.progress_grid(GridQuery(per_page=2, page=9), NOW)
    assert (_ids(last), last.rows.page) == (["P10"], 3)


def test_participant_details_summarise_each_test(app, in_app, make_study, make_test):
    study = make_study("P1", "baseline", study_id="abcdefgh")
    make_test(study, "delayed_recall", received_at=NOW - timedelta(minutes=1))
    make_test(study, "immediate_recall", received_at=NOW - timedelta(minutes=9))
    make_test(study, "choice_reaction_time", received_at=NOW - timedelta(minutes=8))
    make_test(study, "choice_reaction_time", received_at=NOW - timedelta(minutes=7))
    make_test(study, "unclassified", received_at=NOW - timedelta(minutes=6))

    details = progress.participant_details("P1", NOW)

    (results,) = details.studies
    assert [t.test_type for t in results.tests] == [
        "immediate_recall",
        "choice_reaction_time",
        "choice_reaction_time",
        "delayed_recall",
        "unclassified",
    ]
    immediate, crt_first, crt_again, delayed, empty = results.tests
    # The contract samples: CRT answers 412 ms (correct) and 388 ms (wrong). The scores are
    # scoring's: RT statistics over correct answers only, as on the scores page.
    assert len(crt_first.answers) == 2
    assert {s.column: s.value for s in crt_first.scores} == {
        "crt_answers": 2,
        "crt_accuracy": 0.5,
        "crt_rt_mean_correct": 412.0,
        "crt_rt_median_correct": 412.0,
        "crt_rt_sd_correct": None,
    }
    assert crt_first.scores[2].name == "mean RT of correct answers"
    assert crt_first.columns == ["crt_rt", "crt_correct", "crt_response", "crt_dwell"]
    assert (crt_first.submission_number, crt_again.submission_number) == (1, 2)
    assert (crt_first.counts, crt_again.counts) == (True, False)
    assert crt_first.submissions_of_type == 2
    (score, attempts) = immediate.scores
    assert (score.name, score.value, score.maximum) == ("score", 1, 2)
    assert (attempts.name, attempts.value, attempts.maximum) == ("attempts", 2, None)
    assert [(s.value, s.maximum) for s in delayed.scores] == [(4, 5)]
    assert (empty.label, empty.answers, empty.scores) == ("Empty result (no answers)", [], [])
    assert results.missing == [
        "Visual paired associates",
        "Digit symbol matching",
        "Spatial memory",
    ]


def test_taken_1_of_2_is_the_submission_whose_scores_count(app, in_app, make_study, make_test):
    """One ordering rule (scoring.submission_order): the earliest started comes first, even when
    the server received it last."""
    study = make_study("P1", "baseline", study_id="abcdefgh")
    started = NOW - timedelta(hours=2)
    later = make_test(
        study,
        "delayed_recall",
        received_at=NOW - timedelta(minutes=30),
        time_started=started + timedelta(minutes=20),
        result={"dr_rt": 9000, "dr_score": 5},
    )
    first = make_test(
        study,
        "delayed_recall",
        received_at=NOW - timedelta(minutes=5),
        time_started=started,
        result={"dr_rt": 9000, "dr_score": 2},
    )

    (results,) = progress.participant_details("P1", NOW).studies

    shown = [(t.test_id, t.submission_number, t.counts) for t in results.tests]
    assert shown == [(first["test_id"], 1, True), (later["test_id"], 2, False)]
    (summary,) = scoring.summarise_studies([study], [first, later])
    assert summary.scored["delayed_recall"].test_id == first["test_id"]
    assert summary.score("dr_score") == results.tests[0].scores[0].value == 2


@pytest.mark.parametrize("participant_id", ["nobody", "", None])
def test_unknown_participant_is_not_found(app, in_app, make_study, participant_id):
    make_study("P1")
    with pytest.raises(ParticipantNotFound):
        progress.participant_details(participant_id, NOW)


def test_reaction_times_follow_the_scoring_rules_and_say_how_many_were_left_out(app):
    doc = {
        "test_id": "t1",
        "test_type": "spatial_memory",
        "result": [
            {"sm_rt": 500, "sm_correct": True},
            {"sm_rt": 700, "sm_correct": False},
            {"sm_rt": 1_700_000_000_000, "sm_correct": True},
            {"sm_rt": -40, "sm_correct": True},
        ],
    }
    study = progress.StudyProgress("s1", "P1", "baseline", "", None, None, None)
    with app.app_context():
        (summary,) = progress.study_results(study, [doc], scoring.DEFAULT_RULES).tests
    assert {s.column: s.value for s in summary.scores} == {
        "sm_correct_count": 3,
        "sm_rt_median": 600.0,
    }
    assert summary.implausible_rts == 2
    assert len(summary.answers) == 4
