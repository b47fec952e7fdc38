"""Distribution charts of a score, baseline vs follow-up, as shapes for a server-rendered SVG.

No chart library and no script: `distribution_chart` computes where every rectangle, line,
circle and label goes; templates/admin/partials/_chart.html writes them out as inline SVG
(Jinja escapes the text). Colours come from classes in the dashboard's stylesheet, since the
Content-Security-Policy allows no inline styles.

Discrete scores (recall scores, counts of answers) with few values are drawn as grouped bars of
the share of studies at each value; the others (reaction times, accuracy) as box plots with
Tukey whiskers (1.5 × IQR) and the outliers as dots.
"""

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH = 520
LEFT = 116  # room for the group labels ("Follow-up (n=1234)") and the y-axis ticks
RIGHT = 16
TOP = 12
AXIS_ROOM = 34  # below the plot: tick labels and the axis title
BOX_ROW_HEIGHT = 44
BAR_PLOT_HEIGHT = 150
LEGEND_HEIGHT = 18
MAX_BAR_VALUES = 21  # more distinct whole numbers than this: a box plot reads better
WHISKER_IQR = 1.5
GROUP_CLASSES = ("baseline", "followup")
# Follow-ups 1, 2, 3 … have their own colour (classes followup-1 … followup-4 in scores.css);
# later ones share the last.
NUMBERED_FOLLOWUP_CLASSES = 4


@dataclass(frozen=True)
class Shape:
    """One SVG element: its tag, its attributes (numbers in px), an optional class and text."""

    tag: str
    attributes: dict
    css_class: str = ""
    text: str = ""


@dataclass
class Chart:
    """Everything a template needs to write one chart: size, shapes, a text description."""

    title: str
    unit: str
    kind: str  # "box", "bars" or "empty"
    width: int
    height: int
    description: str
    shapes: list[Shape] = field(default_factory=list)


@dataclass(frozen=True)
class Group:
    """The values of one side of the comparison (e.g. every baseline study's score)."""

    label: str
    css_class: str
    values: Sequence[float]


def distribution_chart(
    title: str, unit: str, groups: Sequence[Group], discrete: bool = False
) -> Chart:
    """Grouped bars for a `discrete` score with few whole-number values, else box plots."""
    values = [value for group in groups for value in group.values]
    description = "; ".join(_describe(group) for group in groups)
    if not values:
        return Chart(title, unit, "empty", WIDTH, 40, f"No values yet. {description}.")
    if (
        discrete
        and all(float(value).is_integer() for value in values)
        and max(values) - min(values) < MAX_BAR_VALUES
    ):
        return _bar_chart(title, unit, groups, description)
    return _box_chart(title, unit, groups, description)


def _describe(group: Group) -> str:
    if not group.values:
        return f"{group.label}: no values"
    median = statistics.median(group.values)
    return f"{group.label}: n = {len(group.values)}, median {_format(median)}"


def _format(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}" if abs(value) < 1 else f"{value:.1f}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten."""
    if high <= low:
        low, high = low - 1, high + 1
    raw_step = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step)
    first = math.floor(low / step) * step
    ticks = []
    tick = first
    while tick < high + step * 0.5:
        ticks.append(round(tick, 10))
        if tick >= high:
            break
        tick += step
    return ticks


class _Scale:
    """Maps data values to pixels along one axis."""

    def __init__(self, low: float, high: float, start: float, end: float):
        self.low, self.high, self.start, self.end = low, high, start, end

    def __call__(self, value: float) -> float:
        share = (value - self.low) / (self.high - self.low)
        return round(self.start + share * (self.end - self.start), 1)


def _line(x1: float, x2: float, y1: float, y2: float, css_class: str) -> Shape:
    return Shape("line", {"x1": x1, "x2": x2, "y1": y1, "y2": y2}, css_class)


def _axis_title(unit: str, x: float, y: float) -> Shape:
    return Shape("text", {"x": x, "y": y, "text-anchor": "middle"}, "axis-title", unit)


def _box_chart(title: str, unit: str, groups: Sequence[Group], description: str) -> Chart:
    values = [value for group in groups for value in group.values]
    # A proportion is read against its whole range, 0 to 1.
    low, high = (0, 1) if unit.startswith("proportion") else (min(values), max(values))
    ticks = nice_ticks(min(low, *values), max(high, *values))
    plot_bottom = TOP + BOX_ROW_HEIGHT * len(groups)
    x = _Scale(ticks[0], ticks[-1], LEFT, WIDTH - RIGHT)
    shapes = []
    for tick in ticks:
        shapes.append(_line(x(tick), x(tick), TOP, plot_bottom, "grid"))
        shapes.append(
            Shape(
                "text",
                {"x": x(tick), "y": plot_bottom + 14, "text-anchor": "middle"},
                "tick",
                _format(tick),
            )
        )
    shapes.append(_axis_title(unit, (LEFT + WIDTH - RIGHT) / 2, plot_bottom + 30))
    for row, group in enumerate(groups):
        middle = TOP + BOX_ROW_HEIGHT * row + BOX_ROW_HEIGHT / 2
        shapes.append(
            Shape(
                "text",
                {"x": LEFT - 8, "y": middle + 4, "text-anchor": "end"},
                "group-label",
                f"{group.label} (n={len(group.values)})",
            )
        )
        if group.values:
            shapes += _box(sorted(group.values), x, middle, group.css_class)
    height = plot_bottom + AXIS_ROOM
    return Chart(title, unit, "box", WIDTH, height, description, shapes)


def box_statistics(values: Sequence[float]) -> dict:
    """Quartiles (inclusive method), Tukey whiskers and outliers of sorted values."""
    if len(values) == 1:
        q1 = median = q3 = values[0]
    else:
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    reach = WHISKER_IQR * (q3 - q1)
    inside = [value for value in values if q1 - reach <= value <= q3 + reach]
    return {
        "q1": q1,
        "median": median,
        "q3": q3,
        "low": min(inside),
        "high": max(inside),
        "outliers": [value for value in values if value < q1 - reach or value > q3 + reach],
    }


def _box(values: Sequence[float], x: _Scale, middle: float, css_class: str) -> list[Shape]:
    box = box_statistics(values)
    half = BOX_ROW_HEIGHT * 0.3
    low, q1, median, q3, high = (x(box[key]) for key in ("low", "q1", "median", "q3", "high"))
    shapes = [
        _line(low, q1, middle, middle, "whisker"),
        _line(q3, high, middle, middle, "whisker"),
        _line(low, low, middle - half / 2, middle + half / 2, "whisker"),
        _line(high, high, middle - half / 2, middle + half / 2, "whisker"),
        Shape(
            "rect",
            {
                "x": q1,
                "y": middle - half,
                "width": max(round(q3 - q1, 1), 1),
                "height": 2 * half,
            },
            f"box {css_class}",
        ),
        _line(median, median, middle - half, middle + half, "median"),
    ]
    shapes += [
        Shape("circle", {"cx": x(value), "cy": middle, "r": 2.5}, f"outlier {css_class}")
        for value in box["outliers"]
    ]
    return shapes


def _bar_chart(title: str, unit: str, groups: Sequence[Group], description: str) -> Chart:
    values = [value for group in groups for value in group.values]
    categories = list(range(int(min(values)), int(max(values)) + 1))
    top = TOP + LEGEND_HEIGHT
    plot_bottom = top + BAR_PLOT_HEIGHT
    y = _Scale(0, 100, plot_bottom, top)
    slot = (WIDTH - RIGHT - LEFT) / len(categories)
    bar_width = min(slot * 0.8 / len(groups), 28)
    shapes = _legend(groups)
    for percent in (0, 25, 50, 75, 100):
        shapes.append(_line(LEFT, WIDTH - RIGHT, y(percent), y(percent), "grid"))
        shapes.append(
            Shape(
                "text",
                {"x": LEFT - 6, "y": y(percent) + 4, "text-anchor": "end"},
                "tick",
                f"{percent}%",
            )
        )
    for index, category in enumerate(categories):
        centre = LEFT + slot * (index + 0.5)
        shapes.append(
            Shape(
                "text",
                {"x": round(centre, 1), "y": plot_bottom + 14, "text-anchor": "middle"},
                "tick",
                str(category),
            )
        )
    for position, group in enumerate(groups):
        counts = Counter(int(value) for value in group.values)
        total = len(group.values)
        for index, category in enumerate(categories):
            share = 100 * counts[category] / total if total else 0
            left = LEFT + slot * (index + 0.5) - bar_width * len(groups) / 2 + bar_width * position
            shapes.append(
                Shape(
                    "rect",
                    {
                        "x": round(left, 1),
                        "y": y(share),
                        "width": round(bar_width - 1, 1),
                        "height": round(plot_bottom - y(share), 1),
                    },
                    f"bar {group.css_class}",
                    f"{group.label}, {category}: {counts[category]} of {total}",
                )
            )
    shapes.append(_axis_title(unit, (LEFT + WIDTH - RIGHT) / 2, plot_bottom + 30))
    height = plot_bottom + AXIS_ROOM
    return Chart(title, unit, "bars", WIDTH, height, description, shapes)


def _legend(groups: Sequence[Group]) -> list[Shape]:
    shapes = []
    left = LEFT
    for group in groups:
        label = f"{group.label} (n={len(group.values)})"
        swatch = {"x": left, "y": TOP - 8, "width": 10, "height": 10}
        shapes.append(Shape("rect", swatch, f"bar {group.css_class}"))
        shapes.append(Shape("text", {"x": left + 14, "y": TOP + 1}, "legend", label))
        left += 14 + 7 * len(label) + 18
    return shapes
