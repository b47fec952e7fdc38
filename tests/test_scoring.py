"""Scores, data-quality flags, summaries and change, against numbers computed by hand."""

import random
import struct
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pytest

from intact import config, create_app, scoring
from intact.scoring import QualityRules, score_test

ABSURD_RT = 1_700_000_000_000  # a dwell/press time computed from a press that was never recorded
START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def stored_test(test_type, result, **overrides):
    """A document as the tests collection holds it (docs/architecture.md)."""
    document = {
        "test_id": f"t-{test_type}",
        "study_id": "studyaaa",
        "participant_id": "P01",
        "study_type": "baseline",
        "test_type": test_type,
        "time_started": START,
        "time_elapsed_milliseconds": 41873,
        "device_info": "Mozilla/5.0",
        "notes": None,
        "result": result,
        "extra": {},
        "received_at": START + timedelta(minutes=1),
    }
    document.update(overrides)
    return document


def crt(rt, correct, dwell=96):
    return {"crt_rt": rt, "crt_correct": correct, "crt_response": "left", "crt_dwell": dwell}


# Ten answers: 8 correct, of which -5, 50 and ABSURD_RT are implausible RTs. The plausible correct
# RTs are 412, 500, 300, 600, 700: mean 2512 / 5 = 502.4, median 500; deviations −202.4, −90.4,
# −2.4, 97.6, 197.6 square-sum to 97715.2, / 4 = 24428.8, √ = 156.297… → 156.3.
CRT_ANSWERS = [
    crt(412, True),
    crt(388, False),
    crt(500, True, dwell=-3),
    crt(300, True),
    crt(-5, True),
    crt(ABSURD_RT, True, dwell=ABSURD_RT),
    crt(50, True),
    crt(450, False),
    crt(600, True),
    crt(700, True),
]


def test_choice_reaction_time_scores_exclude_implausible_rts_but_count_them_for_accuracy():
    scored = score_test(stored_test("choice_reaction_time", CRT_ANSWERS))
    assert scored.scores == {
        "crt_answers": 10,
        "crt_accuracy": 0.8,
        "crt_rt_mean_correct": 502.4,
        "crt_rt_median_correct": 500.0,
        "crt_rt_sd_correct": 156.3,
    }
    assert scored.flags == {
        "implausible_rt": 3,
        "implausible_dwell": 2,
        "incomplete": False,
        "elapsed_inconsistent": False,
        "duplicate": False,
        "before_baseline": False,
    }
    assert scored.flagged
    assert scored.raised_flags == ("implausible_rt", "implausible_dwell")


def test_an_empty_list_scores_nothing_and_is_incomplete():
    scored = score_test(stored_test("choice_reaction_time", []))
    assert scored.scores == {
        "crt_answers": 0,
        "crt_accuracy": None,
        "crt_rt_mean_correct": None,
        "crt_rt_median_correct": None,
        "crt_rt_sd_correct": None,
    }
    assert scored.flags["incomplete"] is True
    assert scored.flags["implausible_rt"] == 0


def test_a_single_answer_has_a_mean_and_median_but_no_sd():
    scored = score_test(stored_test("choice_reaction_time", [crt(412, True)]))
    assert scored.scores["crt_accuracy"] == 1.0
    assert scored.scores["crt_rt_mean_correct"] == 412.0
    assert scored.scores["crt_rt_median_correct"] == 412.0
    assert scored.scores["crt_rt_sd_correct"] is None
    assert scored.flags["incomplete"] is True


def test_only_wrong_answers_give_accuracy_zero_and_no_correct_rt():
    scored = score_test(stored_test("choice_reaction_time", [crt(400, False), crt(500, False)]))
    assert scored.scores["crt_accuracy"] == 0.0
    assert scored.scores["crt_rt_median_correct"] is None


def test_only_absurd_rts_leave_rt_statistics_empty():
    answers = [crt(-1, True), crt(ABSURD_RT, True)]
    scored = score_test(stored_test("choice_reaction_time", answers))
    assert scored.scores["crt_accuracy"] == 1.0
    assert scored.scores["crt_rt_mean_correct"] is None
    assert scored.flags["implausible_rt"] == 2
    # Implausible RTs are left out of the elapsed-time check, so it does not fire as well.
    assert scored.flags["elapsed_inconsistent"] is False


def test_visual_paired_associates_front_end_sample():
    answers = [
        {"vpa_rt": 2210, "vpa_correct": True, "vpa_response": "bar3.jpg"},
        {"vpa_rt": 3975, "vpa_correct": False, "vpa_response": "lobby2.jpg"},
        {"vpa_rt": 1840, "vpa_correct": True, "vpa_response": "underwater8.jpg"},
    ]
    scored = score_test(stored_test("visual_paired_associates", answers))
    assert scored.scores == {
        "vpa_correct_count": 2,
        "vpa_answers": 3,
        "vpa_accuracy": 0.6667,
        "vpa_rt_median": 2210.0,
    }
    assert scored.flags["incomplete"] is True  # 3 of the 5 pairs


def test_visual_paired_associates_with_retries_is_complete():
    answers = [
        {"vpa_rt": 1000 + i, "vpa_correct": i % 2 == 0, "vpa_response": "x"} for i in range(8)
    ]
    scored = score_test(stored_test("visual_paired_associates", answers))
    assert scored.scores["vpa_correct_count"] == 4
    assert scored.scores["vpa_accuracy"] == 0.5
    assert scored.scores["vpa_rt_median"] == 1003.5
    assert scored.flags["incomplete"] is False


def test_digit_symbol_matching_front_end_sample():
    answers = [
        {"dsm_rt": 1530, "dsm_correct": True, "dsm_response": 3},
        {"dsm_rt": 1212, "dsm_correct": True, "dsm_response": 1},
    ]
    scored = score_test(stored_test("digit_symbol_matching", answers))
    assert scored.scores == {
        "dsm_answers": 2,
        "dsm_correct_count": 2,
        "dsm_accuracy": 1.0,
        "dsm_rt_median": 1371.0,
    }
    assert scored.flags["incomplete"] is True


def test_digit_symbol_matching_median_uses_every_plausible_answer():
    answers = [
        {"dsm_rt": rt, "dsm_correct": rt > 900, "dsm_response": 1} for rt in range(500, 1500, 100)
    ]
    scored = score_test(stored_test("digit_symbol_matching", answers))
    # RTs 500..1400: median of all ten is (900 + 1000) / 2; correct are the five above 900.
    assert scored.scores["dsm_rt_median"] == 950.0
    assert scored.scores["dsm_correct_count"] == 5
    assert scored.scores["dsm_accuracy"] == 0.5
    assert scored.flags["incomplete"] is False


def test_spatial_memory_front_end_sample():
    answers = [{"sm_rt": 5230, "sm_correct": True}, {"sm_rt": 6110, "sm_correct": False}]
    scored = score_test(stored_test("spatial_memory", answers))
    assert scored.scores == {"sm_correct_count": 1, "sm_rt_median": 5670.0}
    assert scored.flags["incomplete"] is True


@pytest.mark.parametrize(
    ("result", "score", "attempts"),
    [
        ({"ir_score": 1, "ir_rt_first": 8421, "ir_rt_second": 6307}, 1, 2),
        ({"ir_score": 2, "ir_rt_first": 7012, "ir_rt_second": None}, 2, 1),
        ({"ir_score": 0, "ir_rt_first": 9000, "ir_rt_second": 9100}, 0, 2),
    ],
)
def test_immediate_recall_score_and_attempts(result, score, attempts):
    scored = score_test(stored_test("immediate_recall", result))
    assert scored.scores == {"ir_score": score, "ir_attempts": attempts}
    assert "incomplete" not in scored.flags
    assert scored.flags["implausible_rt"] == 0


@pytest.mark.parametrize(
    ("result", "score"),
    [({"dr_rt": 9120, "dr_score": 4}, 4), ({"dr_rt": 15002, "dr_score": 0}, 0)],
)
def test_delayed_recall_score(result, score):
    scored = score_test(stored_test("delayed_recall", result))
    assert scored.scores == {"dr_score": score}
    assert not scored.flagged


@pytest.mark.parametrize(
    ("rt", "implausible"),
    [(-1, 1), (0, 1), (99, 1), (100, 0), (60_000, 0), (60_001, 1), (ABSURD_RT, 1)],
)
def test_rt_plausibility_bounds_are_inclusive(rt, implausible):
    scored = score_test(stored_test("delayed_recall", {"dr_rt": rt, "dr_score": 3}))
    assert scored.flags["implausible_rt"] == implausible
    assert scored.scores["dr_score"] == 3  # a recall score never depends on its RT


@pytest.mark.parametrize(
    ("elapsed", "inconsistent"),
    [
        (13_728, False),  # RTs 8421 + 6307 = 14728 ≤ 13728 + 1000 tolerance
        (13_727, True),
        (-1, True),
        (3_600_000, False),
        (3_600_001, True),
        (ABSURD_RT, True),
        (None, True),
    ],
)
def test_elapsed_time_against_the_sum_of_reaction_times(elapsed, inconsistent):
    result = {"ir_score": 1, "ir_rt_first": 8421, "ir_rt_second": 6307}
    test = stored_test("immediate_recall", result, time_elapsed_milliseconds=elapsed)
    assert score_test(test).flags["elapsed_inconsistent"] is inconsistent


def test_thresholds_come_from_the_settings(app_config):
    app_config.update(RT_MIN_MS="200", RT_MAX_MS="5000", ELAPSED_TOLERANCE_MS="0")
    rules = QualityRules.from_config(create_app(app_config).config)
    assert rules == QualityRules(rt_min_ms=200, rt_max_ms=5000, elapsed_tolerance_ms=0)
    answers = [{"sm_rt": 150, "sm_correct": True}, {"sm_rt": 6000, "sm_correct": True}]
    scored = score_test(stored_test("spatial_memory", answers), rules)
    assert scored.flags["implausible_rt"] == 2
    assert scored.scores == {"sm_correct_count": 2, "sm_rt_median": None}


def test_rt_bounds_must_make_a_range():
    with pytest.raises(config.ConfigError, match="RT_MIN_MS .* must be below RT_MAX_MS"):
        config.from_environ({"RT_MIN_MS": "500", "RT_MAX_MS": "500"})


def test_unclassified_result_is_flagged_and_scores_nothing():
    scored = score_test(stored_test("unclassified", []))
    assert scored.test_type == "unclassified"
    assert scored.scores == {}
    assert scored.flags == {"unclassified": True}
    assert scored.raised_flags == ("unclassified",)


def test_every_scorer_produces_exactly_its_codebook_columns():
    results = {
        "immediate_recall": {"ir_score": 2, "ir_rt_first": 7012, "ir_rt_second": None},
        "choice_reaction_time": CRT_ANSWERS,
        "visual_paired_associates": [{"vpa_rt": 2210, "vpa_correct": True, "vpa_response": "a"}],
        "digit_symbol_matching": [{"dsm_rt": 1530, "dsm_correct": True, "dsm_response": 3}],
        "spatial_memory": [{"sm_rt": 5230, "sm_correct": True}],
        "delayed_recall": {"dr_rt": 9120, "dr_score": 4},
    }
    for test_type, result in results.items():
        scored = score_test(stored_test(test_type, result))
        assert tuple(scored.scores) == scoring.SCORE_COLUMNS[test_type]
        assert tuple(scored.flags) == scoring.flag_names(test_type)


def test_codebooks_describe_every_column_in_order():
    assert tuple(e.column for e in scoring.summary_codebook()) == scoring.SUMMARY_COLUMNS
    assert tuple(e.column for e in scoring.change_codebook()) == scoring.CHANGE_COLUMNS
    entries = {e.column: e for e in scoring.summary_codebook(QualityRules(rt_min_ms=150))}
    assert entries["crt_rt_median_correct"].unit == "ms"
    assert "[150, 60000] ms" in entries["crt_rt_median_correct"].formula
    assert entries["crt_rt_median_correct"].test_type == "choice_reaction_time"


# --- Studies: duplicates, summary rows, merge -----------------------------------------------


def study(study_id, participant_id="P01", study_type="baseline", created_at=START):
    return {
        "study_id": study_id,
        "participant_id": participant_id,
        "study_type": study_type,
        "created_at": created_at,
        "url": f"http://localhost:5173/{study_id}",
        "batch_id": "b1",
    }


def test_duplicates_are_flagged_and_the_first_submission_counts():
    later = stored_test(
        "choice_reaction_time",
        [crt(900, True)],
        test_id="t-second",
        time_started=START + timedelta(minutes=10),
    )
    first = stored_test("choice_reaction_time", [crt(400, True)], test_id="t-first")
    recall = stored_test(
        "immediate_recall", {"ir_score": 2, "ir_rt_first": 7012, "ir_rt_second": None}
    )
    summary = scoring.summarise_study(study("studyaaa"), [later, recall, first])
    assert [t.test_id for t in summary.tests] == ["t-first", "t-immediate_recall", "t-second"]
    assert summary.scored["choice_reaction_time"].test_id == "t-first"
    assert summary.score("crt_rt_median_correct") == 400.0
    assert [t.test_id for t in summary.flagged_tests] == ["t-first", "t-second"]
    assert not summary.scored["immediate_recall"].flags["duplicate"]
    row = scoring.summary_row(summary)
    assert row["crt_submissions"] == 2
    assert row["crt_flag_duplicate"] is True
    assert row["crt_test_id"] == "t-first"
    assert row["flagged_tests"] == 2


def test_summary_row_of_a_study_without_tests_has_every_column_empty():
    row = scoring.summary_row(scoring.summarise_study(study("emptyaaa"), []))
    assert tuple(row) == scoring.SUMMARY_COLUMNS
    assert row["study_id"] == "emptyaaa"
    assert row["tests_submitted"] == 0
    assert row["started_at"] is None
    assert row["crt_submissions"] == 0
    assert all(row[column] is None for column in scoring.ALL_SCORE_COLUMNS)


def test_summary_row_counts_unclassified_submissions():
    tests = [
        stored_test("unclassified", [], test_id="t-u1"),
        stored_test("spatial_memory", [{"sm_rt": 5230, "sm_correct": True}]),
    ]
    row = scoring.summary_row(scoring.summarise_study(study("studyaaa"), tests))
    assert row["unclassified_submissions"] == 1
    assert row["tests_submitted"] == 2
    assert row["flagged_tests"] == 2  # unclassified, and spatial memory is incomplete
    assert row["sm_correct_count"] == 1
    assert row["started_at"] == START


def test_tests_without_a_study_document_still_get_a_summary():
    studies = [
        study("aaaaaaaa", "P01"),
        study("cccccccc", "P01", "followup"),
        study("bbbbbbbb", "P02"),
    ]
    tests = [
        stored_test("delayed_recall", {"dr_rt": 9000, "dr_score": 4}, study_id="aaaaaaaa"),
        # A test whose study is not in the list (P01/bbbb… sorts between aaaa… and cccc…).
        stored_test("delayed_recall", {"dr_rt": 9000, "dr_score": 1}, study_id="bbbbbbbb"),
        stored_test("delayed_recall", {"dr_rt": 9000, "dr_score": 5}, study_id="cccccccc"),
    ]
    rows = list(scoring.summary_rows(studies, tests))
    assert [(r["participant_id"], r["study_id"], r["dr_score"]) for r in rows] == [
        ("P01", "aaaaaaaa", 4),
        ("P01", "bbbbbbbb", 1),
        ("P01", "cccccccc", 5),
        ("P02", "bbbbbbbb", None),
    ]
    assert rows[1]["created_at"] is None  # known only from its test
    assert rows[3]["tests_submitted"] == 0


def test_summaries_come_out_sorted_by_participant_then_study_whatever_the_input_order():
    studies = [study("zzzzzzzz", "P2"), study("bbbbbbbb", "P1"), study("aaaaaaaa", "P2")]
    tests = [
        stored_test("delayed_recall", {"dr_rt": 9000, "dr_score": n}, study_id=s, participant_id=p)
        for n, (p, s) in enumerate([("P2", "zzzzzzzz"), ("P1", "bbbbbbbb"), ("P2", "zzzzzzzz")])
    ]
    summaries = list(scoring.summarise_studies(studies, tests))
    assert [(s.participant_id, s.study_id) for s in summaries] == [
        ("P1", "bbbbbbbb"),
        ("P2", "aaaaaaaa"),
        ("P2", "zzzzzzzz"),
    ]
    assert summaries[2].submissions("delayed_recall") == 2


# --- Baseline → follow-up change ------------------------------------------------------------


def participant_studies(participant_id, plan, numbers=None):
    """Summaries for (study_id, study_type, days after START, ir_score, crt answers) tuples.

    Follow-ups are numbered in plan order unless `numbers` maps a study id to its number.
    """
    summaries = []
    numbered = iter(range(1, len(plan) + 1))
    for study_id, study_type, days, ir_score, crt_answers in plan:
        started = START + timedelta(days=days)
        tests = []
        if ir_score is not None:
            result = {"ir_score": ir_score, "ir_rt_first": 7000, "ir_rt_second": None}
            tests.append(stored_test("immediate_recall", result, time_started=started))
        if crt_answers is not None:
            tests.append(stored_test("choice_reaction_time", crt_answers, time_started=started))
        document = study(study_id, participant_id, study_type)
        if study_type == "followup":
            document["followup_number"] = (numbers or {}).get(study_id) or next(numbered)
        for test in tests:
            test.update(study_id=study_id, participant_id=participant_id, study_type=study_type)
        summaries.append(scoring.summarise_study(document, tests))
    return summaries


def test_change_is_followup_minus_baseline_for_each_followup_by_its_number():
    baseline_crt = [crt(400, True)] * 8 + [crt(400, False)] * 2  # accuracy 0.8, median 400
    followup_crt = [crt(500, True)] * 9 + [crt(500, False)]  # accuracy 0.9, median 500
    summaries = participant_studies(
        "P01",
        [
            ("aaaaaaaa", "baseline", 0, 1, baseline_crt),
            ("bbbbbbbb", "followup", 180, None, None),  # no tests yet: created, not started
            ("cccccccc", "followup", 90, 2, followup_crt),
        ],
        numbers={"bbbbbbbb": 1, "cccccccc": 2},
    )
    rows = list(scoring.change_rows(summaries))
    assert len(rows) == 2
    first, second = rows
    assert tuple(first) == scoring.CHANGE_COLUMNS
    # Follow-up 1 is the study numbered 1 at creation, though the participant used link 2 first:
    # the number, not the date taken, says which follow-up a study is.
    assert first["followup_study_id"] == "bbbbbbbb"
    assert first["followup_number"] == 1
    assert first["ir_score_change"] is None
    assert first["days_since_baseline"] is None
    assert second["followup_study_id"] == "cccccccc"
    assert second["followup_number"] == 2
    assert second["baseline_study_id"] == "aaaaaaaa"
    assert second["days_since_baseline"] == 90.0
    # A change of points stays a whole number: change.csv writes "1" (an integer to R and
    # datapackage.json), not "1.0".
    assert (second["ir_score_change"], type(second["ir_score_change"])) == (1, int)
    assert second["crt_accuracy_change"] == 0.1
    assert second["crt_rt_median_correct_change"] == 100.0
    assert second["crt_rt_sd_correct_change"] == 0.0  # both SDs are 0
    assert second["dr_score_change"] is None  # no delayed recall on either side


def test_the_earliest_baseline_with_tests_is_the_reference():
    summaries = participant_studies(
        "P01",
        [
            ("aaaaaaaa", "baseline", 30, 0, None),
            ("bbbbbbbb", "baseline", 0, None, None),  # opened but nothing submitted
            ("cccccccc", "baseline", 10, 1, None),
            ("dddddddd", "followup", 60, 2, None),
        ],
    )
    (row,) = scoring.change_rows(summaries)
    assert row["baseline_study_id"] == "cccccccc"
    assert row["ir_score_change"] == 1
    assert row["days_since_baseline"] == 50.0


def test_a_followup_started_before_its_baseline_is_flagged():
    # Hand-computed: the baseline was started on day 10, Follow-up 1 on day 3 (7 days earlier),
    # Follow-up 2 on day 200. Only Follow-up 1's tests carry the flag; its change row says why.
    summaries = participant_studies(
        "P01",
        [
            ("aaaaaaaa", "baseline", 10, 1, [crt(400, True)]),
            ("bbbbbbbb", "followup", 3, 2, [crt(500, True)]),
            ("cccccccc", "followup", 200, 2, None),
            ("dddddddd", "followup", 0, None, None),  # created, never started: nothing to flag
        ],
    )
    flagged = {
        s.study_id: [t.flags["before_baseline"] for t in s.tests]
        for s in scoring.flag_followups_before_baseline(summaries)
    }
    assert flagged == {
        "aaaaaaaa": [False, False],
        "bbbbbbbb": [True, True],
        "cccccccc": [False],
        "dddddddd": [],
    }
    rows = {row["followup_study_id"]: row for row in scoring.change_rows(summaries)}
    assert rows["bbbbbbbb"]["days_since_baseline"] == -7.0
    summary_rows = {s.study_id: scoring.summary_row(s) for s in summaries}
    assert summary_rows["bbbbbbbb"]["crt_flag_before_baseline"] is True
    assert summary_rows["bbbbbbbb"]["ir_flag_before_baseline"] is True
    assert summary_rows["cccccccc"]["ir_flag_before_baseline"] is False
    assert summary_rows["aaaaaaaa"]["crt_flag_before_baseline"] is False


def test_before_baseline_compares_with_the_reference_baseline_only():
    # A second baseline started after the follow-up does not make it early: the reference is the
    # earliest baseline with a scored test (day 0), and the follow-up came on day 5.
    summaries = participant_studies(
        "P01",
        [
            ("aaaaaaaa", "baseline", 0, 1, None),
            ("bbbbbbbb", "baseline", 30, 1, None),
            ("cccccccc", "followup", 5, 2, None),
        ],
    )
    scoring.flag_followups_before_baseline(summaries)
    assert not any(t.flags["before_baseline"] for s in summaries for t in s.tests)
    # Without a baseline nothing is "before" it.
    alone = participant_studies("P02", [("dddddddd", "followup", 0, 2, None)])
    scoring.flag_followups_before_baseline(alone)
    assert alone[0].tests[0].flags["before_baseline"] is False


def test_summarise_studies_flags_each_participant_against_their_own_baseline():
    def document_and_tests(study_id, participant_id, study_type, days, number=None):
        document = study(study_id, participant_id, study_type)
        if number:
            document["followup_number"] = number
        result = {"ir_score": 1, "ir_rt_first": 7000, "ir_rt_second": None}
        test = stored_test(
            "immediate_recall",
            result,
            test_id=f"t-{study_id}",
            study_id=study_id,
            participant_id=participant_id,
            study_type=study_type,
            time_started=START + timedelta(days=days),
        )
        return document, test

    # P01's follow-up (day 5) precedes P01's baseline (day 20), but not P02's (day 0).
    pairs = [
        document_and_tests("aaaaaaaa", "P01", "baseline", 20),
        document_and_tests("bbbbbbbb", "P01", "followup", 5, 1),
        document_and_tests("cccccccc", "P02", "baseline", 0),
        document_and_tests("dddddddd", "P02", "followup", 10, 1),
    ]
    summaries = scoring.summarise_studies(
        [document for document, _ in reversed(pairs)], [test for _, test in pairs]
    )
    flagged = {s.study_id: s.tests[0].flags["before_baseline"] for s in summaries}
    assert flagged == {
        "aaaaaaaa": False,
        "bbbbbbbb": True,
        "cccccccc": False,
        "dddddddd": False,
    }


def test_followups_without_a_baseline_have_no_change():
    summaries = participant_studies("P02", [("aaaaaaaa", "followup", 0, 2, None)])
    (row,) = scoring.change_rows(summaries)
    assert row["baseline_study_id"] is None
    assert row["ir_score_change"] is None


def test_change_rows_group_participants_from_the_merged_summaries():
    summaries = participant_studies(
        "P01", [("aaaaaaaa", "baseline", 0, 0, None), ("bbbbbbbb", "followup", 7, 2, None)]
    ) + participant_studies(
        "P02", [("cccccccc", "baseline", 0, 2, None), ("dddddddd", "followup", 7, 1, None)]
    )
    rows = list(scoring.change_rows(summaries))
    assert [(r["participant_id"], r["ir_score_change"]) for r in rows] == [("P01", 2), ("P02", -1)]


# --- the rules as written: rounding, the baseline, what flags count --------------------------


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (315.25, 1, 315.3),  # round() would give 315.2 (halves to even)
        (315.35, 1, 315.4),
        (-0.15, 1, -0.2),  # away from zero for a negative change too
        (0.03125, 4, 0.0313),
        (2.675, 2, 2.68),  # the float is 2.67499…; rounded as the 2.675 it prints as
        (0.5, 0, 1.0),
        (None, 1, None),
    ],
)
def test_every_derived_value_rounds_halves_away_from_zero(value, decimals, expected):
    assert scoring.rounded(value, decimals) == expected


def _rounded_by_the_decimal_rule(value, decimals):
    # The rule as `rounded` documents it, written the slow, obvious way.
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    return float(exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def _outcome(function, *arguments):
    try:
        return repr(function(*arguments))  # repr: -0.0 and 0.0 must match too
    except (InvalidOperation, ValueError) as error:
        return type(error).__name__


def _values_to_round(count):
    rng = random.Random(12)
    specials = [0.0, -0.0, 0.05, -0.05, 0.95, 9.95, -99.95, 0.99995, 2.675, 1e-05, 1e16]
    specials += [9999999999999998.0, float("inf"), float("nan"), 10**16 - 1, 10**16, 10**30, True]
    yield from specials
    for _ in range(count):
        yield struct.unpack("<d", rng.randbytes(8))[0]  # any float at all
        yield rng.randint(-(10**7), 10**7) / 10 ** rng.randint(0, 7)  # few places: halves
        yield rng.uniform(-1, 1) * 10 ** rng.randint(-6, 17)
        yield rng.randint(100, 60_000) / rng.randint(1, 64)  # means and medians of RTs
        yield rng.randint(-(10**18), 10**18)


def test_rounding_takes_shortcuts_that_give_exactly_the_decimal_rule():
    for value in _values_to_round(4_000):
        for decimals in (0, 1, 3, 4, 10, 11, -1):
            expected = _outcome(_rounded_by_the_decimal_rule, value, decimals)
            assert _outcome(scoring.rounded, value, decimals) == expected, (value, decimals)


def test_means_proportions_and_days_computed_in_integers_round_as_decimals_do():
    rng = random.Random(7)
    for _ in range(1_500):
        answers = [
            crt(rng.randint(100, 60_000), rng.random() < 0.7) for _ in range(rng.randint(1, 40))
        ]
        scores = score_test(stored_test("choice_reaction_time", answers)).scores
        correct_rts = [answer["crt_rt"] for answer in answers if answer["crt_correct"]]
        if correct_rts:
            mean = sum(map(Decimal, correct_rts)) / len(correct_rts)
            assert repr(scores["crt_rt_mean_correct"]) == repr(
                _rounded_by_the_decimal_rule(mean, 1)
            )
        accuracy = Decimal(len(correct_rts)) / len(answers)
        assert repr(scores["crt_accuracy"]) == repr(_rounded_by_the_decimal_rule(accuracy, 4))
    day = 86_400_000_000
    for _ in range(20_000):
        microseconds = rng.choice(
            [rng.randint(-3 * day, 3 * day), rng.randint(-10, 10) * day // 20]
        )
        microseconds += rng.choice([0, 0, 1, -1])  # just off the halves
        expected = _rounded_by_the_decimal_rule(Decimal(microseconds) / day, 1)
        got = scoring.days_between(START, START + timedelta(microseconds=microseconds))
        assert repr(got) == repr(expected), microseconds


def _study_with_score(column, value):
    test_type = scoring.score_test_type(column)
    test = scoring.TestScore("t", "s", "P01", "baseline", test_type, START, START)
    test.scores = {column: value}
    return scoring.StudySummary("s", "P01", "baseline", START, [test], {test_type: test})


def _score_values(rng, places):
    yield rng.randint(-(10**7), 10**7) / 10**places  # a score as rounded: the usual case
    yield rng.randint(0, 10**5) / 10 ** rng.randint(0, 8)  # more places than a score has
    yield rng.uniform(-1, 1) * 10 ** rng.randint(-6, 16)
    yield rng.choice([0.0, -0.0, 0, 1, float("nan"), float("inf"), 2.0**40 / 10**places])
    yield rng.randint(-(10**15), 10**15)


def _decimal_difference(after, before, decimals):
    return _rounded_by_the_decimal_rule(Decimal(repr(after)) - Decimal(repr(before)), decimals)


def test_changes_computed_in_integers_are_the_decimal_difference_rounded():
    rng = random.Random(3)
    for column, places in (("crt_rt_mean_correct", 1), ("crt_accuracy", 4)):
        for _ in range(250):
            values = [*_score_values(rng, places), *_score_values(rng, places)]
            studies = [_study_with_score(column, value) for value in values]
            for before, baseline in zip(values, studies, strict=True):
                for after, followup in zip(values, studies, strict=True):  # every pair of kinds
                    if isinstance(before, int) and isinstance(after, int):
                        continue  # counts: an int change, not rounded
                    expected = _outcome(_decimal_difference, after, before, places)
                    got = _outcome(scoring.score_change, column, baseline, followup)
                    assert got == expected, (before, after)


def test_scores_changes_and_days_round_the_same_way():
    # Correct RTs 300, 315, 316, 330: mean 315.25 → 315.3; median (315 + 316) / 2 = 315.5.
    baseline_crt = [crt(300, True), crt(315, True), crt(316, True), crt(330, True)]
    baseline_crt += [crt(400, False)] * 28  # accuracy 4 / 32 = 0.125
    followup_crt = [crt(500, True)] * 31 + [crt(500, False)]  # accuracy 31 / 32 = 0.96875
    summaries = participant_studies(
        "P01",
        [
            ("aaaaaaaa", "baseline", 0, 1, baseline_crt),
            ("bbbbbbbb", "followup", 1.25, 2, followup_crt),
        ],
    )
    baseline_scores = summaries[0].scored["choice_reaction_time"].scores
    assert baseline_scores["crt_rt_mean_correct"] == 315.3
    assert baseline_scores["crt_rt_median_correct"] == 315.5
    assert summaries[1].scored["choice_reaction_time"].scores["crt_accuracy"] == 0.9688
    (row,) = scoring.change_rows(summaries)
    assert row["crt_accuracy_change"] == 0.8438  # 0.9688 − 0.125 as written in summary.csv
    assert row["crt_rt_mean_correct_change"] == 184.7  # 500 − 315.3
    assert row["days_since_baseline"] == 1.3  # 1.25 days


def test_a_baseline_with_only_empty_list_submissions_is_not_the_reference():
    summaries = participant_studies(
        "P01", [("aaaaaaaa", "baseline", 0, None, None), ("cccccccc", "baseline", 10, 1, None)]
    )
    empty = stored_test(scoring.UNCLASSIFIED, [], study_id="aaaaaaaa", time_started=START)
    summaries[0] = scoring.summarise_study(study("aaaaaaaa", "P01", "baseline"), [empty])
    summaries += participant_studies("P01", [("dddddddd", "followup", 60, 2, None)])
    assert summaries[0].tests and not summaries[0].scored
    (row,) = scoring.change_rows(summaries)
    assert row["baseline_study_id"] == "cccccccc"


def test_flag_columns_describe_the_scored_submission_and_flagged_tests_counts_every_one():
    first = stored_test("choice_reaction_time", CRT_ANSWERS, test_id="first")
    retake = stored_test(
        "choice_reaction_time",
        CRT_ANSWERS[:3],
        test_id="retake",
        time_started=START + timedelta(minutes=5),
    )
    empty = stored_test(scoring.UNCLASSIFIED, [], test_id="empty")
    summary = scoring.summarise_study(study("studyaaa", "P01", "baseline"), [retake, first, empty])
    row = scoring.summary_row(summary)
    assert row["crt_test_id"] == "first"
    assert row["crt_flag_incomplete"] is False  # the retake is incomplete; the first is not
    assert row["crt_flag_implausible_rt"] == 3  # the first's count, not the retake's
    assert row["flagged_tests"] == 3  # both crt submissions (duplicate) and the empty list


def test_the_elapsed_check_sums_both_recall_times_and_never_the_dwell():
    recall = {"ir_score": 1, "ir_rt_first": 6000, "ir_rt_second": 5000}
    within = score_test(stored_test("immediate_recall", recall, time_elapsed_milliseconds=10_000))
    assert within.flags["elapsed_inconsistent"] is False  # 11,000 ≤ 10,000 + 1,000
    short = score_test(stored_test("immediate_recall", recall, time_elapsed_milliseconds=9_999))
    assert short.flags["elapsed_inconsistent"] is True
    dwelling = [crt(400, True, dwell=50_000)] * 10  # 4 s of RTs, 500 s of dwell
    scored = score_test(
        stored_test("choice_reaction_time", dwelling, time_elapsed_milliseconds=4000)
    )
    assert scored.flags["elapsed_inconsistent"] is False


def test_an_empty_list_with_a_list_test_type_is_scored_as_that_type():
    scored = score_test(stored_test("choice_reaction_time", []))
    assert scored.test_type == "choice_reaction_time"
    assert scored.scores["crt_answers"] == 0
    assert scored.scores["crt_accuracy"] is None
    assert scored.flags["incomplete"] is True
    assert "an empty list sent with the test_type of a list test" in scoring.UNCLASSIFIED_RULE


RULES_WRITTEN_DOWN = {
    "baseline": scoring.BASELINE_RULE,
    "follow-up numbers": scoring.FOLLOWUP_NUMBER_RULE,
    "unclassified": scoring.UNCLASSIFIED_RULE,
    **{f"rounding ({unit})": note for unit, note in scoring.ROUNDING_NOTES.items()},
}


@pytest.mark.parametrize("rule", RULES_WRITTEN_DOWN.values(), ids=RULES_WRITTEN_DOWN.keys())
def test_the_readme_and_the_codebook_state_each_rule_as_the_code_applies_it(rule):
    from pathlib import Path

    readme = " ".join((Path(__file__).parent.parent / "README.md").read_text().split())
    assert rule in readme
    codebook = " ".join(
        entry.formula for entry in (*scoring.summary_codebook(), *scoring.change_codebook())
    )
    assert rule in codebook or rule == scoring.UNCLASSIFIED_RULE
