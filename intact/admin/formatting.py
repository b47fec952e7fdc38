"""Template filters: times, durations, scores and values the way a researcher reads them.

Every filter the dashboard's templates use is here, registered by `init_app`.
"""

import json
from datetime import UTC, date, datetime

from intact.json_text import escape_lone_surrogates, readable_json
from intact.participants import followups
from intact.scoring import rounded

_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60))


def utc_time(moment: datetime | None) -> str:
    """'22 Nov 2026, 14:05 UTC', or an em dash when there is no time."""
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC").lstrip("0")


def utc_date(day: date | datetime | None) -> str:
    """'2026-07-09' (a UTC calendar day: the schedule's dates), or an em dash when there is none."""
    if day is None:
        return "—"
    if isinstance(day, datetime):
        day = day.astimezone(UTC).date() if day.tzinfo else day.date()
    return day.isoformat()


def days_left(days: int | None) -> str:
    """Days to a due date: 'in 3 days', 'today', '2 days ago'; an em dash when there is none."""
    if days is None:
        return "—"
    if days == 0:
        return "today"
    count = f"{abs(days)} day{'s' if abs(days) != 1 else ''}"
    return f"in {count}" if days > 0 else f"{count} ago"


def iso_time(moment: datetime | None) -> str:
    """ISO 8601 in UTC with Z, for <time datetime=…>."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def time_ago(moment: datetime | None, now: datetime | None = None) -> str:
    """'3 days ago', 'just now', or 'never'."""
    if moment is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if seconds < 60:
        return "just now"
    for name, size in _UNITS:
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {name}{'s' if count != 1 else ''} ago"
    return "just now"


def milliseconds(value) -> str:
    """A duration in whole ms with thousands separators (halves away from zero), '—' if missing."""
    if value is None:
        return "—"
    return f"{int(rounded(value, 0)):,} ms"


def duration(value) -> str:
    """Milliseconds as '42 s' or '3 min 12 s'; '—' when missing or negative."""
    if not isinstance(value, int | float) or value < 0:
        return "—"
    seconds = round(value / 1000)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def answer_value(value) -> str:
    """An answer's field as text: yes/no for booleans, '—' for missing."""
    if value is None:
        return "—"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return str(value)


def readable_body(entry: dict) -> str:
    """A refused submission's raw body, indented when it is JSON, else exactly as received."""
    raw = entry.get("raw_body") or ""
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        return escape_lone_surrogates(raw)
    try:
        return readable_json(parsed, indent=2)
    except RecursionError:
        return escape_lone_surrogates(raw)


def byte_size(value) -> str:
    """'812 bytes', '14.2 KB', '5.0 MB' (binary multiples, as file managers on Windows show)."""
    if not isinstance(value, int):
        return "—"
    if value < 1024:
        return f"{value} byte{'s' if value != 1 else ''}"
    if value < 1024 * 1024:
        return f"{value / 1024:,.1f} KB"
    return f"{value / 1024 / 1024:,.1f} MB"


def counted(count, unit: tuple[str, str] | None = None) -> str:
    """'10 studies', '1 study', '14.2 KB' for bytes, from (one, many); '—' when there is none."""
    if not isinstance(count, int):
        return "—"
    if unit is None:
        return f"{count:,}"
    one, many = unit
    if many == "bytes":
        return byte_size(count)
    return f"{count:,} {one if count == 1 else many}"


def format_score(value, unit: str = "") -> str:
    """A score as a researcher reads it: '412.5 ms', '0.667', '3'; '—' when missing."""
    if value is None:
        return "—"
    # Rounded by the scoring rule (halves away from zero), not by format(), which rounds the
    # binary value half to even: what the page shows is what a researcher computes by hand.
    if unit == "ms":
        return f"{rounded(value, 1):,.1f} ms"
    if unit.startswith("proportion"):
        return f"{rounded(value, 3):.3f}"
    return f"{value:g}"


def format_change(value, unit: str = "") -> str:
    """A change with its sign: '+1', '−12.5 ms', '±0'; '—' when it cannot be computed."""
    if value is None:
        return "—"
    if value == 0:
        return "±0"
    sign = "+" if value > 0 else "−"
    return sign + format_score(abs(value), unit)


def initials(name: str) -> str:
    """'choice_reaction_time' -> 'CRT': the short column heading of a test type."""
    return "".join(word[0] for word in name.split("_") if word).upper()


def study_label(study) -> str:
    """A study (document or object) as 'Baseline' or 'Follow-up k', the same on every page."""
    get = study.get if isinstance(study, dict) else lambda name: getattr(study, name, None)
    return followups.label(get("study_type"), get("followup_number"))


def rci(value) -> str:
    """A reliable change index with its sign and two decimals: '+2.40', '−1.84'; '—' if none."""
    if value is None:
        return "—"
    rounded = round(value, 2)
    sign = "−" if rounded < 0 else "+" if rounded > 0 else "±"
    return f"{sign}{abs(rounded):.2f}"


CLASSIFICATION_LABELS = {
    "decline": "reliable decline",
    "no_change": "no reliable change",
    "improvement": "reliable improvement",
}


def classification(value) -> str:
    """A reliable change classification in words: 'reliable decline', …; '' when there is none."""
    return CLASSIFICATION_LABELS.get(value, "")


RCI_SOURCE_LABELS = {
    "researcher": "researcher's values",
    "reference": "reference file",
    "sample": "this study's sample",
    "too_few_pairs": "too few pairs",
    "no_baseline_variance": "no variance at baseline",
    "no_followup_variance": "no variance at follow-up",
    "perfect_correlation": "r = 1",
}


def rci_source(value) -> str:
    """Where an RCI's values came from, or why there is none, in a few words."""
    return RCI_SOURCE_LABELS.get(value, value or "")


def init_app(app) -> None:
    """Make the filters available to every template (`score` and `change` by those names)."""
    app.add_template_filter(utc_time)
    app.add_template_filter(iso_time)
    app.add_template_filter(utc_date)
    app.add_template_filter(days_left)
    app.add_template_filter(time_ago)
    app.add_template_filter(milliseconds)
    app.add_template_filter(answer_value)
    app.add_template_filter(duration)
    app.add_template_filter(initials)
    app.add_template_filter(byte_size)
    app.add_template_filter(counted)
    app.add_template_filter(format_score, "score")
    app.add_template_filter(format_change, "change")
    app.add_template_filter(study_label)
    app.add_template_filter(rci)
    app.add_template_filter(classification)
    app.add_template_filter(rci_source)
