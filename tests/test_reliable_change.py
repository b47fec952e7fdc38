"""Reliable change index: the formula, the reference file, and a data set worked out by hand.

The hand computation of every number asserted against the data set is in tests/rci_dataset.py.
"""

import random
import statistics

import pytest
import rci_dataset
from conftest import stored_test

from intact import audit, config, create_app, db, scoring, summaries
from intact.reliable_change import formula, method, reference, sources

# --- the formula ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "expected"),
    [(0.90, 1.6449), (0.95, 1.9600), (0.80, 1.2816), (0.99, 2.5758)],
)
def test_critical_z_is_the_two_sided_normal_quantile(level, expected):
    # Standard normal table: P(|Z| > 1.6449) = 0.10, P(|Z| > 1.96) = 0.05, …
    assert formula.critical_z(level) == pytest.approx(expected, abs=5e-5)


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.1])
def test_critical_z_refuses_a_level_outside_0_to_1(level):
    with pytest.raises(ValueError, match="between 0 and 1"):
        formula.critical_z(level)


def test_the_index_subtracts_practice_and_divides_by_se_diff():
    # r = 0.84, SD1 = 10: SEM = 10 · √0.16 = 4, SEdiff = 4√2 = 5.656854; practice 2:
    # a change of +10 → (10 − 2) / 5.656854 = 1.414214.
    values = formula.Parameters(r=0.84, sd_baseline=10, practice=2, source=formula.REFERENCE)
    assert values.sem == pytest.approx(4)
    assert values.se_diff == pytest.approx(5.656854, abs=1e-6)
    assert formula.reliable_change_index(10, values) == pytest.approx(1.414214, abs=1e-6)


@pytest.mark.parametrize(
    ("rci", "decline_is_increase", "expected"),
    [
        (1.7, False, formula.IMPROVEMENT),
        (-1.7, False, formula.DECLINE),
        (1.7, True, formula.DECLINE),  # a reaction time that grew
        (-1.7, True, formula.IMPROVEMENT),
        (1.645, False, formula.NO_CHANGE),  # |z| must exceed the critical value
        (-1.645, True, formula.NO_CHANGE),
        (0.0, False, formula.NO_CHANGE),
    ],
)
def test_classification_depends_on_the_score_direction(rci, decline_is_increase, expected):
    critical = 1.645
    kind = formula.classify(rci, critical, decline_is_increase=decline_is_increase)
    assert kind == expected


def test_reaction_times_and_attempts_decline_upwards_every_other_score_downwards():
    upwards = {column for column in scoring.ALL_SCORE_COLUMNS if method.decline_is_increase(column)}
    assert upwards == {
        "ir_attempts",
        "crt_rt_mean_correct",
        "crt_rt_median_correct",
        "crt_rt_sd_correct",
        "vpa_rt_median",
        "dsm_rt_median",
        "sm_rt_median",
    }


def test_pair_statistics_match_the_two_pass_formulas_on_large_reaction_times():
    # Reaction times near 10⁹ ms (an absurd clock): the one-pass sums must not lose the digits
    # that a sum of squares would cancel away.
    rng = random.Random(13)
    baseline = [1e9 + rng.gauss(500, 80) for _ in range(500)]
    followup = [x + rng.gauss(-15, 40) for x in baseline]
    pairs = formula.PairStatistics()
    for before, after in zip(baseline, followup, strict=True):
        pairs.add(before, after)
    found = pairs.parameters(min_pairs=30)
    assert found.pairs == 500
    assert found.source == formula.SAMPLE
    assert found.r == pytest.approx(statistics.correlation(baseline, followup), abs=1e-9)
    assert found.sd_baseline == pytest.approx(statistics.stdev(baseline), rel=1e-9)
    mean_change = statistics.fmean(b - a for a, b in zip(baseline, followup, strict=True))
    assert found.practice == pytest.approx(mean_change, abs=1e-6)


@pytest.mark.parametrize(
    ("pairs", "reason"),
    [
        ([(1, 2), (2, 3)], formula.TOO_FEW_PAIRS),  # 2 < 3
        ([(2, 1), (2, 3), (2, 5)], formula.NO_BASELINE_VARIANCE),
        ([(1, 4), (2, 4), (3, 4)], formula.NO_FOLLOWUP_VARIANCE),
        ([(1, 3), (2, 5), (3, 7)], formula.PERFECT_CORRELATION),  # X2 = 2 · X1 + 1
    ],
)
def test_sample_values_that_cannot_give_an_rci_say_why(pairs, reason):
    statistics_ = formula.PairStatistics()
    for before, after in pairs:
        statistics_.add(before, after)
    assert statistics_.parameters(min_pairs=3) == formula.Unavailable(reason, len(pairs))


# --- the reference file and typed values ---------------------------------------------------------


def test_the_shipped_reference_file_lists_every_score_and_gives_no_values():
    text = reference.DEFAULT_PATH.read_text(encoding="utf-8").splitlines()
    assert text[0] == ",".join(reference.HEADER)
    assert [line.split(",")[0] for line in text[1:]] == list(scoring.ALL_SCORE_COLUMNS)
    assert reference.load() == {}


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (("0.8", "12.5", "-1"), (0.8, 12.5, -1.0)),
        ((" 0.8 ", "12.5", "\u22121.5"), (0.8, 12.5, -1.5)),  # a minus sign copied from a PDF
        (("0", "1e2", "0"), (0.0, 100.0, 0.0)),
    ],
)
def test_typed_values_are_read_one_way(typed, expected):
    values = reference.read_values(*typed, "A. Author 2020", formula.RESEARCHER)
    assert (values.r, values.sd_baseline, values.practice) == expected
    assert (values.source, values.citation) == (formula.RESEARCHER, "A. Author 2020")


@pytest.mark.parametrize(
    ("typed", "field", "complaint"),
    [
        (("0,8", "10", "1", "x"), "r", "dot as the decimal mark"),
        (("1", "10", "1", "x"), "r", "from 0 up to"),
        (("-0.2", "10", "1", "x"), "r", "from 0 up to"),
        (("0.8", "0", "1", "x"), "sd_baseline", "above 0"),
        (("0.8", "ten", "1", "x"), "sd_baseline", "not a number"),
        (("0.8", "10", "nan", "x"), "practice", "finite"),
        (("0.8", "10", "", "x"), "practice", "together"),
        (("0.8", "10", "1", "  "), "source", "where the values come from"),
        (("", "", "", "only a source"), "r", "together"),
    ],
)
def test_typed_values_that_cannot_be_used_name_the_field(typed, field, complaint):
    with pytest.raises(reference.InvalidValues) as refused:
        reference.read_values(*typed, formula.RESEARCHER)
    assert complaint in refused.value.problems[field]


def test_an_empty_row_gives_no_values():
    assert reference.read_values("", " ", None, "", formula.REFERENCE) is None


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("score,r,sd_baseline,practice\n", "missing column"),
        ("score,r,sd_baseline,practice,source\nreaction,0.8,1,0,x\n", "line 2: unknown score"),
        (
            "score,r,sd_baseline,practice,source\ndr_score,0.8,1,0,x\ndr_score,0.7,1,0,y\n",
            "line 3: dr_score appears twice",
        ),
        ("score,r,sd_baseline,practice,source\ndr_score,0.8,,0,x\n", r"line 2 \(dr_score\)"),
    ],
)
def test_a_broken_reference_file_is_refused_naming_its_line(tmp_path, content, complaint):
    path = tmp_path / "reference.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(reference.ReferenceFileError, match=complaint):
        reference.load(path)


def test_the_app_does_not_start_with_a_broken_reference_file(app_config, tmp_path):
    path = tmp_path / "reference.csv"
    path.write_text("score,r,sd_baseline,practice,source\ndr_score,1.2,1,0,x\n", encoding="utf-8")
    app_config["RCI_REFERENCE_FILE"] = str(path)
    with pytest.raises(config.ConfigError, match="RCI_REFERENCE_FILE: .*line 2 .*r: a test"):
        create_app(app_config)
    app_config["RCI_REFERENCE_FILE"] = str(tmp_path / "missing.csv")
    with pytest.raises(config.ConfigError, match="cannot be read"):
        create_app(app_config)


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("RCI_CONFIDENCE_LEVEL", "0.9", "from 50 up to"),
        ("RCI_CONFIDENCE_LEVEL", "100", "from 50 up to"),
        ("RCI_CONFIDENCE_LEVEL", "ninety", "percentage"),
        ("RCI_MIN_PAIRS", "2", "at least 3"),
    ],
)
def test_rci_settings_are_checked_at_start(name, value, complaint):
    with pytest.raises(config.ConfigError, match=f"{name} must .*{complaint}"):
        config.from_environ({name: value})


def test_rci_settings_defaults():
    settings = config.from_environ({})
    assert settings["RCI_CONFIDENCE_LEVEL"] == 90.0
    assert settings["RCI_MIN_PAIRS"] == 30
    assert config.from_environ({"RCI_CONFIDENCE_LEVEL": "95%"})["RCI_CONFIDENCE_LEVEL"] == 95.0


# --- the hand-computed data set (tests/rci_dataset.py) --------------------------------------------


@pytest.fixture
def rci_app(app_config, tmp_path):
    return rci_dataset.app_with_data(app_config, tmp_path)


def _rows(app) -> dict[tuple[str, int], dict]:
    with app.app_context():
        return {
            (r["participant_id"], r["followup_number"]): r for r in summaries.iter_change_rows()
        }


def _rci(row, column):
    return tuple(row[name] for name in method.rci_columns(column))


SAMPLE, REFERENCE = formula.SAMPLE, formula.REFERENCE
DECLINE, NO_CHANGE, IMPROVEMENT = formula.DECLINE, formula.NO_CHANGE, formula.IMPROVEMENT


def test_delayed_recall_rci_from_the_sample_matches_the_hand_computation(rci_app):
    rows = _rows(rci_app)
    assert {key: _rci(row, "dr_score") for key, row in rows.items()} == {
        ("P1", 1): (-2.309, DECLINE, SAMPLE),
        ("P2", 1): (2.309, IMPROVEMENT, SAMPLE),
        ("P3", 1): (-1.155, NO_CHANGE, SAMPLE),
        ("P4", 1): (1.155, NO_CHANGE, SAMPLE),
        ("P5", 1): (0.0, NO_CHANGE, SAMPLE),
        ("P6", 1): (None, None, SAMPLE),  # the follow-up has no delayed recall
        ("P1", 2): (None, None, formula.TOO_FEW_PAIRS),  # one pair at follow-up 2
    }
    assert rows["P6", 1]["dr_score_change"] is None


def test_reaction_time_rci_from_the_reference_file_declines_upwards(rci_app):
    rows = _rows(rci_app)
    expected = {
        ("P1", 1): (2.404, DECLINE, REFERENCE),
        ("P2", 1): (-1.838, IMPROVEMENT, REFERENCE),
        ("P3", 1): (1.414, NO_CHANGE, REFERENCE),
        ("P4", 1): (1.697, DECLINE, REFERENCE),
        ("P5", 1): (-0.057, NO_CHANGE, REFERENCE),
        ("P6", 1): (-0.283, NO_CHANGE, REFERENCE),
        ("P1", 2): (3.111, DECLINE, REFERENCE),
    }
    for column in ("crt_rt_mean_correct", "crt_rt_median_correct"):
        assert {key: _rci(row, column) for key, row in rows.items()} == expected


def test_every_other_score_has_no_rci_and_says_why(rci_app):
    rows = _rows(rci_app)
    followup_1 = [row for (_, number), row in rows.items() if number == 1]
    reasons = {
        "ir_score": formula.NO_BASELINE_VARIANCE,
        "ir_attempts": formula.NO_BASELINE_VARIANCE,
        "crt_answers": formula.NO_BASELINE_VARIANCE,
        "crt_accuracy": formula.NO_BASELINE_VARIANCE,
        "crt_rt_sd_correct": formula.TOO_FEW_PAIRS,
        "sm_correct_count": formula.TOO_FEW_PAIRS,
        "sm_rt_median": formula.TOO_FEW_PAIRS,
        **{
            column: formula.TOO_FEW_PAIRS
            for column in scoring.SCORE_COLUMNS["visual_paired_associates"]
        },
        **{
            column: formula.TOO_FEW_PAIRS
            for column in scoring.SCORE_COLUMNS["digit_symbol_matching"]
        },
    }
    for column, reason in reasons.items():
        assert {_rci(row, column) for row in followup_1} == {(None, None, reason)}, column
    # The changes themselves are still there: P1 recalled as well, P2 needed a second attempt.
    assert rows["P2", 1]["ir_score_change"] == -1
    assert rows["P1", 1]["sm_correct_count_change"] == 0


def test_change_cells_agree_with_assess_at_every_followup(rci_app):
    with rci_app.app_context():
        reliable_change = summaries.reliable_change_method()
        rows = list(scoring.change_rows(summaries.iter_summaries()))
    assert {row["followup_number"] for row in rows} == {1, 2}
    for row in rows + rows[::-1]:  # numbers interleaved: each one's parameters kept apart
        cells = reliable_change.change_cells(row)
        assert list(cells) == [
            name for c in scoring.ALL_SCORE_COLUMNS for name in method.rci_columns(c)
        ]
        for column in scoring.ALL_SCORE_COLUMNS:
            found = reliable_change.assess(column, row["followup_number"], row[f"{column}_change"])
            rci = None if found.rci is None else scoring.rounded(found.rci, method.RCI_DECIMALS)
            assert _rci(cells, column) == (rci, found.classification, found.source), column


def test_a_stricter_level_classifies_fewer_changes_as_reliable(app_config, tmp_path):
    rows = _rows(rci_dataset.app_with_data(app_config, tmp_path, RCI_CONFIDENCE_LEVEL="95"))
    # Critical z 1.96: +1.697 (P4) and −1.838 (P2) are no longer reliable; ±2.309 still are.
    assert _rci(rows["P4", 1], "crt_rt_median_correct") == (1.697, NO_CHANGE, REFERENCE)
    assert _rci(rows["P2", 1], "crt_rt_median_correct") == (-1.838, NO_CHANGE, REFERENCE)
    assert _rci(rows["P1", 1], "dr_score") == (-2.309, DECLINE, SAMPLE)


def test_the_parameters_file_lists_each_scores_values_and_source(rci_app):
    with rci_app.app_context():
        rows = list(summaries.reliable_change_method().parameter_rows())
    by_key = {(row["score"], row["followup_number"]): row for row in rows}
    dr_1 = by_key["dr_score", 1]
    assert (dr_1["source"], dr_1["pairs"], dr_1["r"]) == (SAMPLE, 5, pytest.approx(0.625))
    assert (dr_1["sd_baseline"], dr_1["practice"]) == (pytest.approx(1.0), pytest.approx(1.0))
    assert dr_1["sem"] == pytest.approx(0.612372, abs=1e-6)
    assert dr_1["se_diff"] == pytest.approx(0.866025, abs=1e-6)
    assert (dr_1["decline_is"], dr_1["confidence_level"], dr_1["critical_z"]) == (
        "decrease",
        0.9,
        1.6449,
    )
    assert dr_1["explanation"] == (
        "Estimated from the 5 participants with a baseline and a follow-up 1 value: "
        "r = 0.625, SD1 = 1, practice = 1."
    )
    dr_2 = by_key["dr_score", 2]
    assert (dr_2["source"], dr_2["pairs"], dr_2["r"]) == (formula.TOO_FEW_PAIRS, 1, None)
    assert "only 1 participant has both a baseline and a follow-up 2 value" in dr_2["explanation"]
    assert "needs at least 5" in dr_2["explanation"]
    rt = by_key["crt_rt_median_correct", None]  # reference values: every follow-up
    assert (rt["source"], rt["citation"], rt["r"], rt["sd_baseline"], rt["practice"]) == (
        REFERENCE,
        "Test manual 2026",
        0.75,
        100.0,
        -20.0,
    )
    assert (rt["sem"], rt["se_diff"], rt["decline_is"]) == (
        pytest.approx(50),
        pytest.approx(70.710678),
        "increase",
    )
    assert by_key["vpa_accuracy", None]["source"] == formula.TOO_FEW_PAIRS
    assert by_key["vpa_accuracy", None]["explanation"].startswith(
        "No RCI: no participant has both a baseline and a follow-up value"
    )


def test_one_participants_rows_use_the_whole_studys_estimates(rci_app):
    with rci_app.app_context():
        (row,) = summaries.iter_change_rows("P2")
    assert _rci(row, "dr_score") == (2.309, IMPROVEMENT, SAMPLE)


def test_researcher_values_come_before_the_reference_file_and_are_audited(rci_app):
    with rci_app.test_request_context():
        # r = 0.5, SD1 = 100, practice 0: SEM = 100 · √0.5 = 70.710678, SEdiff = 100.
        sources.set_values("crt_rt_median_correct", "0.5", "100", "0", "Local norms 2025")
        rows = {
            (r["participant_id"], r["followup_number"]): r for r in summaries.iter_change_rows()
        }
        # P1: +150 / 100 = +1.5 → no change (was a decline with the reference values).
        assert _rci(rows["P1", 1], "crt_rt_median_correct") == (1.5, NO_CHANGE, formula.RESEARCHER)
        assert _rci(rows["P1", 1], "crt_rt_mean_correct") == (2.404, DECLINE, REFERENCE)
        entries = audit.find_entries(action=audit.RCI_VALUES_SET).items
        assert entries[0]["details"]["score"] == "crt_rt_median_correct"
        assert entries[0]["details"]["values"]["citation"] == "Local norms 2025"
        assert sources.clear_values("crt_rt_median_correct") is True
        assert sources.clear_values("crt_rt_median_correct") is False
        rows = {
            (r["participant_id"], r["followup_number"]): r for r in summaries.iter_change_rows()
        }
        assert _rci(rows["P1", 1], "crt_rt_median_correct") == (2.404, DECLINE, REFERENCE)
        (cleared,) = audit.find_entries(action=audit.RCI_VALUES_CLEARED).items
        assert cleared["details"]["removed"]["r"] == 0.5


def test_researcher_values_are_checked_like_the_file(rci_app):
    with rci_app.test_request_context():
        with pytest.raises(reference.InvalidValues) as refused:
            sources.set_values("dr_score", "1", "0", "x", "")
        assert set(refused.value.problems) == {"r", "sd_baseline", "practice", "source"}
        with pytest.raises(sources.UnknownScore):
            sources.set_values("nonsense", "0.5", "1", "0", "x")
        assert db.collection(sources.COLLECTION).count_documents({}) == 0


def test_sample_estimates_follow_new_and_deleted_tests(rci_app):
    with rci_app.app_context():
        assert summaries.reliable_change_method().parameters("dr_score", 1).pairs == 5
        # P6 finally sends the follow-up's delayed recall: 6 pairs now.
        followup = db.studies().find_one({"participant_id": "P6", "study_type": "followup"})
        test = stored_test(followup, "delayed_recall", result={"dr_rt": 1, "dr_score": 4})
        db.tests().insert_one(dict(test))
        assert summaries.reliable_change_method().parameters("dr_score", 1).pairs == 6
        db.tests().delete_one({"test_id": test["test_id"]})
        assert summaries.reliable_change_method().parameters("dr_score", 1).pairs == 5


def test_declines_at_the_latest_followup(rci_app):
    with rci_app.app_context():
        found, used = summaries.reliable_declines()
        assert used.critical == pytest.approx(1.6449, abs=1e-4)
        assert [(d.participant_id, d.followup_number) for d in found.items] == [
            ("P1", 2),
            ("P4", 1),
        ]
        assert [(column, round(rci, 3)) for column, _, _, _, rci in found.items[0].declines] == [
            ("crt_rt_mean_correct", 3.111),
            ("crt_rt_median_correct", 3.111),
        ]
        only_dr, _ = summaries.reliable_declines("dr_score")
        assert only_dr.items == []  # P1's decline is at follow-up 1, not the latest
        second_page, _ = summaries.reliable_declines(page=2, per_page=1)
        assert [d.participant_id for d in second_page.items] == ["P4"]


def test_change_codebook_gives_formula_level_and_source(rci_app):
    with rci_app.test_request_context():
        entries = {
            e.column: e for e in summaries.change_codebook(summaries.reliable_change_method())
        }
    rt = entries["crt_rt_median_correct_rci"].formula
    assert "(crt_rt_median_correct_change − practice) / SEdiff" in rt
    assert "SEM = SD1 · √(1 − r)" in rt
    assert "a decline is an increase" in rt
    assert "a decline is a decrease" in entries["dr_score_rci"].formula
    level = entries["dr_score_rci_class"].formula
    assert "two-sided 90 % level" in level and "|dr_score_rci| > 1.645" in level
    assert (
        "reference (the reference file: r = 0.75, SD1 = 100, practice = -20; Test manual 2026)"
        in (entries["crt_rt_median_correct_rci_source"].formula)
    )
    assert entries["dr_score_rci_source"].formula.startswith(
        "where r, SD1 and practice came from: sample"
    )
    assert list(entries) == list(summaries.CHANGE_COLUMNS)


def test_a_method_built_to_describe_itself_cannot_compute_an_index():
    described = method.Method(sample=None)
    assert (
        "sample (estimated for each follow-up number" in described.codebook("dr_score")[2].formula
    )
    with pytest.raises(RuntimeError, match="without sample estimates"):
        described.assess("dr_score", 1, 1.0)
    row = {"followup_number": 1, **dict.fromkeys(scoring.CHANGE_COLUMNS)}
    with pytest.raises(RuntimeError, match="without sample estimates"):
        described.change_cells(row)
