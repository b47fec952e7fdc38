"""The chart partial writes well-formed inline SVG with escaped text and no inline styles."""

import xml.etree.ElementTree as ET

from flask import render_template

from intact.charts import Group, distribution_chart

SVG = "{http://www.w3.org/2000/svg}"


def render(app, chart):
    with app.test_request_context():
        return render_template("admin/partials/_chart.html", chart=chart)


def test_box_chart_is_well_formed_svg_with_its_description(app):
    chart = distribution_chart(
        "Median RT <script>",
        "ms",
        [
            Group("Baseline", "baseline", [400, 420, 430, 800, 2000]),
            Group("Follow-up", "followup", [390]),
        ],
    )
    html = render(app, chart)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "style=" not in html
    figure = ET.fromstring(html)
    svg = figure.find(f"{SVG}svg")
    assert svg.get("viewBox") == f"0 0 {chart.width} {chart.height}"
    assert (
        svg.find(f"{SVG}desc").text == "Baseline: n = 5, median 430; Follow-up: n = 1, median 390"
    )
    assert len(svg.findall(f"{SVG}rect")) == 2  # one box per group
    assert [c.get("class") for c in svg.findall(f"{SVG}circle")] == ["outlier baseline"]


def test_bars_carry_a_tooltip_with_their_count(app):
    chart = distribution_chart(
        "Delayed recall", "animals", [Group("Baseline", "baseline", [0, 5, 5])], discrete=True
    )
    svg = ET.fromstring(render(app, chart)).find(f"{SVG}svg")
    tooltips = [
        rect.find(f"{SVG}title").text
        for rect in svg.findall(f"{SVG}rect")
        if rect.find(f"{SVG}title") is not None
    ]
    assert "Baseline, 5: 2 of 3" in tooltips


def test_an_empty_chart_says_there_is_nothing_yet(app):
    html = render(
        app, distribution_chart("Accuracy", "proportion", [Group("Baseline", "baseline", [])])
    )
    assert "<svg" not in html
    assert "No values yet." in html
