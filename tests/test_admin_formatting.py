"""Template filters: how times, durations and answers read on the dashboard."""

from datetime import UTC, datetime, timedelta

import pytest

from intact.admin import formatting

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ago", "text"),
    [
        (timedelta(seconds=20), "just now"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(hours=5, minutes=59), "5 hours ago"),
        (timedelta(days=1), "1 day ago"),
        (timedelta(days=29), "29 days ago"),
    ],
)
def test_time_ago(ago, text):
    assert formatting.time_ago(NOW - ago, NOW) == text


def test_missing_times_read_as_never_or_a_dash():
    assert formatting.time_ago(None) == "never"
    assert formatting.utc_time(None) == "—"
    assert formatting.iso_time(None) == ""


def test_times_are_shown_in_utc():
    moment = datetime(2026, 11, 2, 15, 5, tzinfo=UTC)
    assert formatting.utc_time(moment) == "2 Nov 2026, 15:05 UTC"
    assert formatting.iso_time(moment) == "2026-11-02T15:05:00Z"


@pytest.mark.parametrize(
    ("ms", "text"),
    [(41_873, "42 s"), (192_400, "3 min 12 s"), (3_900_000, "1 h 5 min"), (None, "—"), (-5, "—")],
)
def test_duration(ms, text):
    assert formatting.duration(ms) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "yes"),
        (False, "no"),
        (None, "—"),
        (412, "412"),
        (1_700_000_000_000, "1,700,000,000,000"),
        ("left", "left"),
    ],
)
def test_answer_value(value, text):
    assert formatting.answer_value(value) == text


def test_initials_name_the_test_columns():
    assert formatting.initials("choice_reaction_time") == "CRT"
    assert formatting.milliseconds(400.4) == "400 ms"


@pytest.mark.parametrize(
    ("count", "unit", "text"),
    [
        (1, ("study", "studies"), "1 study"),
        (10, ("study", "studies"), "10 studies"),
        (10, ("byte", "bytes"), "10 bytes"),
        (14_540, ("byte", "bytes"), "14.2 KB"),
        (1234, ("document", "documents"), "1,234 documents"),
        (1234, None, "1,234"),
        (None, ("study", "studies"), "—"),
    ],
)
def test_a_count_is_shown_with_what_it_counts(count, unit, text):
    assert formatting.counted(count, unit) == text
