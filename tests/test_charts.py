"""Chart geometry: ticks, box-plot statistics, and the chart kind that suits the values."""

import pytest

from intact import charts
from intact.charts import Group, distribution_chart


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (0.55, 0.95, [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]),
        (312, 1800, [0, 500, 1000, 1500, 2000]),
        (0, 1, [0.0, 0.5, 1.0]),
        (5, 5, [4.0, 4.5, 5.0, 5.5, 6.0]),  # one value: a range around it
    ],
)
def test_nice_ticks_cover_the_range_in_round_steps(low, high, ticks):
    assert charts.nice_ticks(low, high) == ticks


def test_box_statistics_by_hand():
    # Inclusive quartiles of 400 420 430 800 2000: 420, 430, 800. IQR 380, upper fence
    # 800 + 570 = 1370, so 2000 is an outlier and the upper whisker ends at 800.
    box = charts.box_statistics([400, 420, 430, 800, 2000])
    assert box == {"q1": 420, "median": 430, "q3": 800, "low": 400, "high": 800, "outliers": [2000]}


def test_box_statistics_of_one_value():
    assert charts.box_statistics([412]) == {
        "q1": 412, "median": 412, "q3": 412, "low": 412, "high": 412, "outliers": []
    }  # fmt: skip


def test_reaction_times_get_box_plots_with_the_median_where_it_belongs():
    chart = distribution_chart(
        "Median RT",
        "ms",
        [
            Group("Baseline", "baseline", [400, 420, 430, 800, 2000]),
            Group("Follow-up", "followup", [500.5]),
        ],
    )
    assert chart.kind == "box"
    assert chart.description == "Baseline: n = 5, median 430; Follow-up: n = 1, median 500.5"
    medians = [s for s in chart.shapes if s.css_class == "median"]
    # Axis 0..2000 over x = 116..504: 430 → 116 + 430 / 2000 × 388 = 199.42 → 199.4
    assert medians[0].attributes["x1"] == 199.4
    assert [s.attributes["cx"] for s in chart.shapes if s.tag == "circle"] == [504.0]
    labels = [s.text for s in chart.shapes if s.css_class == "group-label"]
    assert labels == ["Baseline (n=5)", "Follow-up (n=1)"]


def test_few_whole_numbers_get_bars_of_the_share_at_each_value():
    chart = distribution_chart(
        "Delayed recall",
        "animals",
        [Group("Baseline", "baseline", [0, 1, 5, 5]), Group("Follow-up", "followup", [])],
        discrete=True,
    )
    assert chart.kind == "bars"
    bars = {s.text: s.attributes for s in chart.shapes if s.css_class.startswith("bar") and s.text}
    assert bars["Baseline, 5: 2 of 4"]["height"] == 75.0  # 50 % of the 150 px plot
    assert bars["Baseline, 3: 0 of 4"]["height"] == 0.0
    assert bars["Follow-up, 5: 0 of 0"]["height"] == 0.0
    ticks = [s.text for s in chart.shapes if s.css_class == "tick" and "%" not in s.text]
    assert ticks == ["0", "1", "2", "3", "4", "5"]


def test_proportions_get_box_plots_even_when_some_are_whole():
    chart = distribution_chart(
        "Accuracy", "proportion", [Group("Baseline", "baseline", [1.0, 0.8, 0.9])]
    )
    assert chart.kind == "box"


def test_no_values_make_an_empty_chart_that_says_so():
    chart = distribution_chart("Accuracy", "proportion", [Group("Baseline", "baseline", [])])
    assert chart.kind == "empty"
    assert chart.shapes == []
    assert chart.description == "No values yet. Baseline: no values."


def test_proportions_are_drawn_on_their_whole_range():
    chart = distribution_chart("Accuracy", "proportion 0–1", [Group("B", "baseline", [0.5])])
    ticks = [s.text for s in chart.shapes if s.css_class == "tick"]
    assert ticks == ["0", "0.5", "1"]
