"""Derived scores, data-quality flags and baseline → follow-up change, computed from stored tests.

Pure functions over documents shaped as in docs/architecture.md (`studies` and `tests`): nothing
here reads the database or changes a document. The raw data stay as they are; scores follow one
documented policy for flagged answers:

- An answer whose reaction time is implausible (outside `RT_MIN_MS`..`RT_MAX_MS`, negative and
  absurd clock values included) is **excluded from every RT statistic** (mean, median, SD) but
  **still counted** for answers, correct and accuracy: the participant did answer, only the
  timing is unusable.
- Every other flag (incomplete list, duplicate submission, inconsistent elapsed time) leaves the
  scores as computed and is reported next to them; deciding to drop a flagged test is the
  researcher's call.
- When a study has more than one submission of a test type, its scores come from the **first**
  one (earliest `time_started`, then `received_at`, then `test_id`): a repeat is a practised
  attempt. Every submission is flagged `duplicate` and each one still appears in the raw exports.
- `elapsed_inconsistent`: `time_elapsed_milliseconds` is negative, above `ELAPSED_MAX_MS`, or
  smaller than the sum of the test's plausible reaction times minus `ELAPSED_TOLERANCE_MS` (the
  answers cannot take longer than the whole test; the tolerance absorbs clock rounding).
  Implausible RTs are left out of that sum, so this flag does not merely repeat `implausible_rt`.
- Every derived value is rounded by `rounded`: halves away from zero (315.25 → 315.3), as a
  researcher rounds by hand and as Excel's ROUND does; RTs to 0.1 ms, proportions to 4 places,
  changes from the rounded values, days to 0.1. The rules that are easy to get wrong by hand
  (`BASELINE_RULE`, `FOLLOWUP_NUMBER_RULE`, `UNCLASSIFIED_RULE`, `ROUNDING_NOTES`) are written
  once here and quoted by the codebook and the README.

Summaries read studies and tests in any order (the database's insertion order streams fastest)
and keep only each test's few scores, never its answers.
"""

import math
import statistics
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from intact import testtypes

# --- The battery and the role of each field: intact/testtypes.py ---------------------------

_KINDS = testtypes.TEST_TYPES
TEST_TYPES = tuple(_KINDS)  # in the order a participant takes them
UNCLASSIFIED = testtypes.UNCLASSIFIED
STUDY_TYPES = ("baseline", "followup")

# Column prefix of each test type: the prefix its answer fields already carry.
PREFIXES = {name: kind.prefix for name, kind in _KINDS.items()}
# How many answers the deployed battery asks for; fewer is `incomplete`.
EXPECTED_ANSWERS = {
    name: kind.battery_answers for name, kind in _KINDS.items() if kind.battery_answers
}

RT_DECIMALS = 1
PROPORTION_DECIMALS = 4
DAY_DECIMALS = 1
DAY = timedelta(days=1)
MICROSECOND = timedelta(microseconds=1)


def rounded(value, decimals: int) -> float | None:
    """`value` rounded to `decimals` places, halves away from zero: 315.25 → 315.3, −0.15 → −0.2.

    The one rounding rule of every derived value (scores, changes, days), chosen because it is
    how a researcher rounds by hand and what Excel's ROUND does. Python's round() would round
    halves to even (315.25 → 315.2). The decimal number a float prints as is what gets rounded,
    so a value read from summary.csv and rounded by hand gives the same result. None stays None.
    """
    if value is None:
        return None
    # Every score, change and RCI goes through here: plain floats and ints take float, string or
    # integer arithmetic that gives the same float as the Decimal rule (tests/test_scoring.py
    # compares them on 20,000 values × 7 place counts); anything else takes the Decimal rule.
    kind = type(value)
    if type(decimals) is int and 0 <= decimals <= _FAST_DECIMALS:
        if kind is float:
            return _rounded_float(value, decimals)
        if kind is int and -_FAST_INT_LIMIT < value < _FAST_INT_LIMIT:
            return float(value)  # a whole number has no places to round
    return _rounded_decimal(value, decimals)


# Up to 10 places, the shortest repr of any float with no exponent (below 1e16) fits the Decimal
# context's 28 digits once rounded, so quantize never raises there; `rounded` keeps to that.
_FAST_DECIMALS = 10
_FAST_INT_LIMIT = 10**16
_POWERS_OF_TEN = tuple(10**places for places in range(_FAST_DECIMALS + 1))
# Below 2**31, value · 10**decimals in floats is within 5e-7 of the decimal the float prints as
# (two roundings of 2**-53 each), so a fraction farther than 1e-6 from a half rounds the same.
_SCALED_LIMIT = 2.0**31
_NEAR_HALF = (0.5 - 1e-6, 0.5 + 1e-6)


def _rounded_decimal(value, decimals: int) -> float:
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    return float(exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def _rounded_float(value: float, decimals: int) -> float:
    """`_rounded_decimal(value, decimals)` for a float, in float arithmetic when that is sure."""
    power = _POWERS_OF_TEN[decimals]
    scaled = abs(value * power)
    if scaled < _SCALED_LIMIT:
        units = int(scaled)
        rest = scaled - units  # exact
        if not _NEAR_HALF[0] < rest < _NEAR_HALF[1]:
            # int / int rounds correctly, as float(Decimal) (its string) does: both give the
            # float nearest the rounded decimal. copysign keeps −0.04 → −0.0 as Decimal does.
            return math.copysign((units + (rest > 0.5)) / power, value)
    return _rounded_repr(value, decimals)


def _rounded_repr(value: float, decimals: int) -> float:
    """`_rounded_decimal(value, decimals)` for a float, on the digits of its repr."""
    text = repr(value)
    point = text.find(".")
    if point < 0 or "e" in text:  # 1e+16, 1.5e-05, inf, nan
        return _rounded_decimal(value, decimals)
    cut = point + 1 + decimals
    if len(text) <= cut:  # no more places than asked for: already rounded
        return value
    if text[cut] < "5":  # halves away from zero look at the first dropped digit only
        return float(text[:cut])
    # Away from zero: one more unit in the last kept place.
    magnitude = int(text[:point].lstrip("-") + text[point + 1 : cut]) + 1
    result = magnitude / _POWERS_OF_TEN[decimals]
    return -result if text[0] == "-" else result


def _rounded_fraction(numerator: int, denominator: int, decimals: int) -> float:
    """`rounded(Decimal(numerator) / denominator, decimals)` for a positive int denominator.

    In integers: Decimal division first rounds to 28 digits, but while |numerator| · 10**decimals
    < 10**27 that can never carry the quotient to or across a half (a quotient that is not a
    half is at least 1 / (2 · denominator · 10**decimals) away from one), so both agree.
    """
    power = _POWERS_OF_TEN[decimals]
    magnitude = abs(numerator) * power
    if magnitude >= _EXACT_QUOTIENT_LIMIT:
        return rounded(Decimal(numerator) / denominator, decimals)
    units, rest = divmod(magnitude, denominator)
    result = (units + (2 * rest >= denominator)) / power
    return -result if numerator < 0 else result  # −0.0 too, as Decimal gives


_EXACT_QUOTIENT_LIMIT = 10**27


def _decimal(value) -> Decimal:
    return Decimal(repr(value))


# How each derived value is rounded, as the codebook says it (by its unit).
ROUNDING_NOTES = {
    "ms": "rounded to 0.1 ms, halves away from zero (315.25 → 315.3)",
    "proportion": "rounded to 4 decimals, halves away from zero (0.03125 → 0.0313)",
    "days": "rounded to 0.1 day, halves away from zero",
}


@dataclass(frozen=True)
class QualityRules:
    """The configurable thresholds of the data-quality flags, in milliseconds."""

    rt_min_ms: int = 100
    rt_max_ms: int = 60_000
    elapsed_tolerance_ms: int = 1_000
    elapsed_max_ms: int = 3_600_000

    @classmethod
    def from_config(cls, config: Mapping) -> "QualityRules":
        """The rules an app is configured with (RT_MIN_MS, RT_MAX_MS, ELAPSED_*_MS)."""
        return cls(
            rt_min_ms=config.get("RT_MIN_MS", cls.rt_min_ms),
            rt_max_ms=config.get("RT_MAX_MS", cls.rt_max_ms),
            elapsed_tolerance_ms=config.get("ELAPSED_TOLERANCE_MS", cls.elapsed_tolerance_ms),
            elapsed_max_ms=config.get("ELAPSED_MAX_MS", cls.elapsed_max_ms),
        )

    def plausible_rt(self, value) -> bool:
        """True for a number within [rt_min_ms, rt_max_ms]."""
        return bool(_within([value], self.rt_min_ms, self.rt_max_ms))

    def plausible_dwell(self, value) -> bool:
        """True for a key-press duration within [0, rt_max_ms]; short presses are normal."""
        return bool(_within([value], 0, self.rt_max_ms))


DEFAULT_RULES = QualityRules()


# --- The codebook: every derived column, its unit and formula --------------------------------


@dataclass(frozen=True)
class CodebookEntry:
    """One derived column: name, the test type it describes ('' for the study), unit, formula."""

    column: str
    test_type: str
    unit: str
    formula: str


# (test type, score name without prefix, unit, formula). The scoring functions below produce
# exactly these, in this order; `{min}`/`{max}` are the configured RT bounds.
_SCORES = (
    ("immediate_recall", "score", "points 0–2", "ir_score as recorded: 2 right at the first try, "
     "1 at the second, 0 not recalled"),
    ("immediate_recall", "attempts", "count 1–2", "1, plus 1 when ir_rt_second is not null"),
    ("choice_reaction_time", "answers", "count", "number of answers in the list"),
    ("choice_reaction_time", "accuracy", "proportion 0–1",
     "answers with crt_correct true / crt_answers; empty when there are no answers"),
    ("choice_reaction_time", "rt_mean_correct", "ms",
     "arithmetic mean of crt_rt over correct answers whose RT is within [{min}, {max}] ms"),
    ("choice_reaction_time", "rt_median_correct", "ms",
     "median of crt_rt over correct answers whose RT is within [{min}, {max}] ms"),
    ("choice_reaction_time", "rt_sd_correct", "ms",
     "sample standard deviation (n − 1) of the same RTs; empty when fewer than 2"),
    ("visual_paired_associates", "correct_count", "count", "answers with vpa_correct true"),
    ("visual_paired_associates", "answers", "count", "number of answers in the list"),
    ("visual_paired_associates", "accuracy", "proportion 0–1",
     "vpa_correct_count / vpa_answers; empty when there are no answers"),
    ("visual_paired_associates", "rt_median", "ms",
     "median of vpa_rt over all answers whose RT is within [{min}, {max}] ms"),
    ("digit_symbol_matching", "answers", "count", "number of answers in the list"),
    ("digit_symbol_matching", "correct_count", "count", "answers with dsm_correct true"),
    ("digit_symbol_matching", "accuracy", "proportion 0–1",
     "dsm_correct_count / dsm_answers; empty when there are no answers"),
    ("digit_symbol_matching", "rt_median", "ms",
     "median of dsm_rt over all answers whose RT is within [{min}, {max}] ms"),
    ("spatial_memory", "correct_count", "count 0–5",
     "answers with sm_correct true (of 5 locations)"),
    ("spatial_memory", "rt_median", "ms",
     "median of sm_rt over all answers whose RT is within [{min}, {max}] ms"),
    ("delayed_recall", "score", "count 0–5", "dr_score as recorded: animals recalled"),
)  # fmt: skip

SCORE_COLUMNS = {
    test_type: tuple(
        f"{PREFIXES[test_type]}_{name}" for kind, name, _, _ in _SCORES if kind == test_type
    )
    for test_type in TEST_TYPES
}
_SCORE_UNITS = {f"{PREFIXES[kind]}_{name}": unit for kind, name, unit, _ in _SCORES}
_SCORE_TYPES = {f"{PREFIXES[kind]}_{name}": kind for kind, name, _, _ in _SCORES}
_SHORT_LABELS = {
    "score": "score",
    "attempts": "attempts",
    "answers": "answers",
    "accuracy": "accuracy",
    "correct_count": "correct answers",
    "rt_mean_correct": "mean RT of correct answers",
    "rt_median_correct": "median RT of correct answers",
    "rt_sd_correct": "SD of RT of correct answers",
    "rt_median": "median RT",
}


def score_name(column: str) -> str:
    """A reader's name for a score within its test, e.g. 'median RT of correct answers'."""
    return _SHORT_LABELS[column.removeprefix(PREFIXES[_SCORE_TYPES[column]] + "_")]


def score_label(column: str) -> str:
    """A reader's name for a score column, e.g. 'Choice reaction time: accuracy'."""
    return f"{testtypes.TEST_TYPES[_SCORE_TYPES[column]].label}: {score_name(column)}"


def score_unit(column: str) -> str:
    """The unit of a score column as the codebook gives it, e.g. 'ms' or 'proportion 0–1'."""
    return _SCORE_UNITS[column]


def score_test_type(column: str) -> str:
    """The test type a score column is computed from."""
    return _SCORE_TYPES[column]


_FLAGS = {
    "implausible_rt": (
        "count",
        "RT values outside [{min}, {max}] ms (negative and absurd clock values included); "
        "excluded from RT statistics, still counted for accuracy",
    ),
    "implausible_dwell": (
        "count",
        "crt_dwell values that are negative or above {max} ms (never used in a score)",
    ),
    "incomplete": ("true/false", "fewer answers than the battery asks for ({expected})"),
    "elapsed_inconsistent": (
        "true/false",
        "time_elapsed_milliseconds is negative, above {elapsed_max} ms, or smaller than the sum of "
        "the plausible RTs ({rt_fields}) minus {tolerance} ms",
    ),
    "duplicate": (
        "true/false",
        "the study has more than one submission of this test type; scores use the first",
    ),
    "before_baseline": (
        "true/false",
        "a follow-up started before the participant's baseline (its started_at earlier than the "
        "baseline's, as change.csv's baseline_study_id chooses it: days_since_baseline is "
        "negative): the follow-up link was used first, so the baseline is not a first attempt",
    ),
}


FLAG_NAMES = (*_FLAGS, UNCLASSIFIED)


def flag_description(name: str, rules: QualityRules = DEFAULT_RULES) -> str:
    """What a flag means, with the configured thresholds filled in."""
    if name == UNCLASSIFIED:
        return UNCLASSIFIED_RULE
    unit, formula = _FLAGS[name]
    formula = formula.replace("{rt_fields}", "the test's RT fields; never crt_dwell")
    (entry,) = _describe([(name, "", unit, formula)], rules)
    return entry.formula


UNCLASSIFIED_RULE = (
    "an empty answer list sent without a test_type: the test type cannot be known, nothing is "
    "scored (an empty list sent with the test_type of a list test is stored and scored as that "
    "type, with 0 answers)"
)


def rt_fields_described(test_type: str) -> str:
    """The fields whose plausible RTs the elapsed-time check sums: 'ir_rt_first, ir_rt_second'."""
    kind = testtypes.TEST_TYPES[test_type]
    fields = ", ".join(kind.rt_fields)
    return fields + (f"; not {kind.dwell_field}" if kind.dwell_field else "")


def flag_names(test_type: str) -> tuple[str, ...]:
    """The flags that apply to a test type, in column order."""
    if test_type not in PREFIXES:
        return (UNCLASSIFIED,)
    names = ["implausible_rt"]
    if _KINDS[test_type].dwell_field:
        names.append("implausible_dwell")
    if test_type in EXPECTED_ANSWERS:
        names.append("incomplete")
    names += ["elapsed_inconsistent", "duplicate", "before_baseline"]
    return tuple(names)


_STUDY_COLUMNS = (
    ("study_id", "", "text", "the study link's id"),
    ("participant_id", "", "text", "as the researcher typed it (Unicode NFKC, trimmed)"),
    ("study_type", "", "text", "baseline or followup"),
    ("followup_number", "", "count",
     "Follow-up k: numbered 1, 2, … per participant when the study was created; empty for "
     "baselines"),
    ("created_at", "", "UTC date-time", "when the study link was created"),
    ("withdrawn", "", "true/false", "whether the participant withdrew (their data are kept)"),
    ("started_at", "", "UTC date-time",
     "earliest time_started of the study's tests, empty-list submissions included"),
    ("tests_submitted", "", "count", "submissions stored for the study, unclassified included"),
    ("unclassified_submissions", "", "count",
     "submissions with an empty answer list and no test_type, whose test type cannot be known"),
    ("flagged_tests", "", "count",
     "submissions of the study with at least one data-quality flag, each submission counted: "
     "repeats (duplicate) and empty-list submissions (their unclassified flag) included"),
)  # fmt: skip


def _per_test_columns(test_type: str) -> list[tuple[str, str, str, str]]:
    prefix = PREFIXES[test_type]
    columns = [
        (f"{prefix}_test_id", test_type, "text", "test_id of the submission the scores come from"),
        (f"{prefix}_submissions", test_type, "count", "submissions of this type in the study"),
    ]
    columns += [
        (f"{prefix}_{name}", kind, unit, formula)
        for kind, name, unit, formula in _SCORES
        if kind == test_type
    ]
    scored = f"of the submission the scores come from ({prefix}_test_id, the first): "
    columns += [
        (
            f"{prefix}_flag_{name}",
            test_type,
            _FLAGS[name][0],
            scored + _FLAGS[name][1].replace("{rt_fields}", rt_fields_described(test_type)),
        )
        for name in flag_names(test_type)
    ]
    return columns


SUMMARY_COLUMNS = tuple(column for column, *_ in _STUDY_COLUMNS) + tuple(
    column for test_type in TEST_TYPES for column, *_ in _per_test_columns(test_type)
)
ALL_SCORE_COLUMNS = tuple(column for test_type in TEST_TYPES for column in SCORE_COLUMNS[test_type])

BASELINE_RULE = (
    "the participant's earliest baseline study (by started_at) with at least one scored test, "
    "that is a submission of one of the six test types; a baseline holding only empty-list "
    "submissions does not count; empty if there is none"
)
FOLLOWUP_NUMBER_RULE = (
    "Follow-up k: the study's number, given when it was created (as in studies.csv), whether or "
    "not it has been started; a follow-up nobody started has its row, with empty changes"
)
_CHANGE_ID_COLUMNS = (
    ("participant_id", "", "text", "as the researcher typed it (Unicode NFKC, trimmed)"),
    ("baseline_study_id", "", "text", BASELINE_RULE),
    ("baseline_started_at", "", "UTC date-time", "started_at of the baseline study"),
    ("followup_study_id", "", "text", "one follow-up study of the participant"),
    ("followup_number", "", "count", FOLLOWUP_NUMBER_RULE),
    ("followup_started_at", "", "UTC date-time", "started_at of the follow-up study"),
    ("days_since_baseline", "", "days",
     "followup_started_at − baseline_started_at in days, from the exact times"),
)  # fmt: skip
CHANGE_COLUMNS = tuple(column for column, *_ in _CHANGE_ID_COLUMNS) + tuple(
    f"{column}_change" for column in ALL_SCORE_COLUMNS
)


def _describe(entries, rules: QualityRules) -> tuple[CodebookEntry, ...]:
    expected = ", ".join(f"{PREFIXES[kind]} {count}" for kind, count in EXPECTED_ANSWERS.items())
    values = {
        "min": rules.rt_min_ms,
        "max": rules.rt_max_ms,
        "tolerance": rules.elapsed_tolerance_ms,
        "elapsed_max": rules.elapsed_max_ms,
        "expected": expected,
    }
    return tuple(
        CodebookEntry(column, test_type, unit, _with_rounding(formula.format(**values), unit))
        for column, test_type, unit, formula in entries
    )


def _with_rounding(formula: str, unit: str) -> str:
    kind = unit.split(" ", maxsplit=1)[0]
    return f"{formula}; {ROUNDING_NOTES[kind]}" if kind in ROUNDING_NOTES else formula


def summary_codebook(rules: QualityRules = DEFAULT_RULES) -> tuple[CodebookEntry, ...]:
    """Every column of the summary (one row per study), in column order."""
    entries = list(_STUDY_COLUMNS)
    for test_type in TEST_TYPES:
        entries += _per_test_columns(test_type)
    return _describe(entries, rules)


def change_codebook(rules: QualityRules = DEFAULT_RULES) -> tuple[CodebookEntry, ...]:
    """Every column of the baseline → follow-up change table, in column order."""
    entries = list(_CHANGE_ID_COLUMNS)
    by_column = {entry.column: entry for entry in summary_codebook(rules)}
    for column in ALL_SCORE_COLUMNS:
        score = by_column[column]
        entries.append(
            (
                f"{column}_change",
                score.test_type,
                score.unit.split(" ")[0],
                f"{column} at the follow-up − {column} at the baseline, as both are written in "
                "summary.csv; empty if either is",
            )
        )
    return _describe(entries, rules)


# --- One test -------------------------------------------------------------------------------


@dataclass(slots=True)
class TestScore:
    """The scores and flags of one stored submission, without its raw answers."""

    __test__ = False  # a cognitive test, not a pytest class

    test_id: str
    study_id: str
    participant_id: str
    study_type: str
    test_type: str
    time_started: datetime | None
    received_at: datetime | None
    followup_number: int | None = None
    scores: dict = field(default_factory=dict)
    flags: dict = field(default_factory=dict)

    @property
    def raised_flags(self) -> tuple[str, ...]:
        """Names of the flags that are set (a count above 0 or true)."""
        return tuple(name for name, value in self.flags.items() if value)

    @property
    def flagged(self) -> bool:
        """True when any data-quality flag is set."""
        return any(self.flags.values())


def score_test(test: Mapping, rules: QualityRules = DEFAULT_RULES) -> TestScore:
    """Scores and flags of one test document; `duplicate` (which needs the whole study) and
    `before_baseline` (the participant's other studies) are left False."""
    test_type = test.get("test_type")
    kind = _KINDS.get(test_type)
    if kind is None:
        scores, flags = {}, {UNCLASSIFIED: True}
    else:
        answers = _answers(test.get("result"))
        # `ir_rt_second` is null when there was no second try: absent, not implausible.
        recorded = _recorded(answers, kind.rt_fields)
        plausible = _within(recorded, rules.rt_min_ms, rules.rt_max_ms)
        scores = _SCORERS[test_type](kind, answers, plausible, rules)
        elapsed = test.get("time_elapsed_milliseconds")
        flags = _flags(kind, answers, len(recorded), plausible, elapsed=elapsed, rules=rules)
    return TestScore(
        test_id=test.get("test_id"),
        study_id=test.get("study_id"),
        participant_id=test.get("participant_id"),
        study_type=test.get("study_type"),
        test_type=UNCLASSIFIED if kind is None else test_type,
        time_started=test.get("time_started"),
        received_at=test.get("received_at"),
        followup_number=test.get("followup_number"),
        scores=scores,
        flags=flags,
    )


def _answers(result) -> list[Mapping]:
    """The answers as a list of mappings: recall tests hold one object, the others a list."""
    # Stored answers are dicts: checked first, as isinstance(…, Mapping) is slow.
    if type(result) is list:
        return [answer for answer in result if type(answer) is dict or isinstance(answer, Mapping)]
    if type(result) is dict or isinstance(result, Mapping):
        return [result]
    if isinstance(result, list):
        return [answer for answer in result if isinstance(answer, Mapping)]
    return []


def _is_number(value) -> bool:
    kind = type(value)
    if kind is int or kind is float:
        return True
    return isinstance(value, int | float) and kind is not bool


def _rts(answers: list[Mapping], kind: testtypes.TestType, rules: QualityRules) -> list[float]:
    """The plausible reaction times of these answers: the only ones any RT statistic uses."""
    (rt_field,) = kind.rt_fields
    rts = [answer.get(rt_field) for answer in answers]
    return _within(rts, rules.rt_min_ms, rules.rt_max_ms)


def _recorded(answers: list[Mapping], fields: tuple[str, ...]) -> list:
    """The values of these fields that are not null, answer after answer."""
    if len(fields) == 1:
        (name,) = fields
        return [value for answer in answers if (value := answer.get(name)) is not None]
    return [
        value for answer in answers for name in fields if (value := answer.get(name)) is not None
    ]


def _within(values: list, low: float, high: float) -> list:
    """The numbers of `values` (bools are not) within [low, high], in order.

    The rule of `QualityRules.plausible_rt` and `plausible_dwell`, on a whole list: it runs for
    every RT of every test, so plain ints and floats are let through without a call.
    """
    return [
        value
        for value in values
        if (type(value) is int or type(value) is float or _is_number(value))
        and low <= value <= high
    ]


def _mean(values: list[float]) -> float | None:
    # The exact mean is rounded, not a float approximation of it: whole milliseconds (the usual
    # RTs) as a fraction of integers, others summed as decimals.
    if not values:
        return None
    if all(type(value) is int and -_WHOLE_LIMIT < value < _WHOLE_LIMIT for value in values):
        return _rounded_fraction(sum(values), len(values), RT_DECIMALS)
    return rounded(sum(map(_decimal, values)) / len(values), RT_DECIMALS)


# Below this, whole RTs also sum exactly in Decimal's 28 digits: both means are the same.
_WHOLE_LIMIT = 10**15


def _median(values: list[float]) -> float | None:
    return rounded(statistics.median(values), RT_DECIMALS) if values else None


def _sd(values: list[float]) -> float | None:
    # Two-pass float sum of squares: statistics.stdev is exact but ten times slower, and the
    # result is rounded to 0.1 ms anyway.
    if len(values) < 2:
        return None
    mean = statistics.fmean(values)
    variance = sum((value - mean) ** 2 for value in values) / (len(values) - 1)
    return rounded(math.sqrt(variance), RT_DECIMALS)


def _proportion(part: int, whole: int) -> float | None:
    return _rounded_fraction(part, whole, PROPORTION_DECIMALS) if whole else None


def _correct(answers: list[Mapping], kind: testtypes.TestType) -> list[Mapping]:
    return [answer for answer in answers if answer.get(kind.correct_field) is True]


# Each scorer gets the test type, its answers and the plausible RTs of all of them, in order.


def _score_immediate_recall(kind, answers, rts, rules):
    recall = answers[0] if answers else {}
    return {
        "ir_score": recall.get(kind.score_field),
        "ir_attempts": 1 if recall.get("ir_rt_second") is None else 2,
    }


def _score_choice_reaction_time(kind, answers, rts, rules):
    correct = _correct(answers, kind)
    correct_rts = _rts(correct, kind, rules)
    return {
        "crt_answers": len(answers),
        "crt_accuracy": _proportion(len(correct), len(answers)),
        "crt_rt_mean_correct": _mean(correct_rts),
        "crt_rt_median_correct": _median(correct_rts),
        "crt_rt_sd_correct": _sd(correct_rts),
    }


def _score_visual_paired_associates(kind, answers, rts, rules):
    correct = len(_correct(answers, kind))
    return {
        "vpa_correct_count": correct,
        "vpa_answers": len(answers),
        "vpa_accuracy": _proportion(correct, len(answers)),
        "vpa_rt_median": _median(rts),
    }


def _score_digit_symbol_matching(kind, answers, rts, rules):
    correct = len(_correct(answers, kind))
    return {
        "dsm_answers": len(answers),
        "dsm_correct_count": correct,
        "dsm_accuracy": _proportion(correct, len(answers)),
        "dsm_rt_median": _median(rts),
    }


def _score_spatial_memory(kind, answers, rts, rules):
    return {
        "sm_correct_count": len(_correct(answers, kind)),
        "sm_rt_median": _median(rts),
    }


def _score_delayed_recall(kind, answers, rts, rules):
    recall = answers[0] if answers else {}
    return {"dr_score": recall.get(kind.score_field)}


_SCORERS = {
    "immediate_recall": _score_immediate_recall,
    "choice_reaction_time": _score_choice_reaction_time,
    "visual_paired_associates": _score_visual_paired_associates,
    "digit_symbol_matching": _score_digit_symbol_matching,
    "spatial_memory": _score_spatial_memory,
    "delayed_recall": _score_delayed_recall,
}


def _flags(
    kind: testtypes.TestType,
    answers: list[Mapping],
    recorded_rts: int,
    plausible_rts: list[float],
    *,
    elapsed,
    rules: QualityRules,
) -> dict:
    flags = {"implausible_rt": recorded_rts - len(plausible_rts)}
    if kind.dwell_field:
        dwells = _recorded(answers, (kind.dwell_field,))
        flags["implausible_dwell"] = len(dwells) - len(_within(dwells, 0, rules.rt_max_ms))
    if kind.battery_answers:
        flags["incomplete"] = len(answers) < kind.battery_answers
    flags["elapsed_inconsistent"] = not (
        _is_number(elapsed)
        and 0 <= elapsed <= rules.elapsed_max_ms
        and sum(plausible_rts) <= elapsed + rules.elapsed_tolerance_ms
    )
    # Both need more than this test: the study (duplicate), the participant (before_baseline).
    flags["duplicate"] = False
    flags["before_baseline"] = False
    return flags


# --- One study ------------------------------------------------------------------------------


@dataclass(slots=True)
class StudySummary:
    """A study with the scores of its tests: the first submission of each type, every flag."""

    study_id: str
    participant_id: str
    study_type: str
    created_at: datetime | None
    tests: list[TestScore]
    # test type -> the submission whose scores count (the first of that type)
    scored: dict[str, TestScore]
    followup_number: int | None = None
    # The participant withdrew (studies.WITHDRAWN_AT on the study): their data stay, marked.
    withdrawn: bool = False

    @property
    def started_at(self) -> datetime | None:
        """The earliest time_started of the study's tests."""
        starts = [test.time_started for test in self.tests if test.time_started is not None]
        return min(starts) if starts else None

    @property
    def flagged_tests(self) -> list[TestScore]:
        """Every submission of the study with at least one flag, in submission order."""
        return [test for test in self.tests if test.flagged]

    def score(self, column: str):
        """The value of one score column (e.g. `crt_accuracy`), None when not available."""
        test = self.scored.get(_SCORE_TYPES.get(column))
        return None if test is None else test.scores.get(column)

    def submissions(self, test_type: str) -> int:
        """How many submissions of a type (or of `unclassified`) the study has."""
        return sum(1 for test in self.tests if test.test_type == test_type)


def submission_order(test: TestScore):
    """The sort key of "which submission came first": earliest `time_started` (the participant's
    own clock of the attempt), then `received_at`, then `test_id`; a missing time sorts last.

    The one rule: the first submission of a type is the one whose scores count, and the dashboard
    numbers a study's submissions ("taken 1 of 2") in this order.
    """
    return (
        test.time_started is None,
        test.time_started or datetime.min,
        test.received_at is None,
        test.received_at or datetime.min,
        test.test_id or "",
    )


_STUDY_IDENTITY = (
    "study_id",
    "participant_id",
    "study_type",
    "followup_number",
    "created_at",
    "withdrawn_at",
)


def summarise_study(
    study: Mapping, tests: Iterable[Mapping], rules: QualityRules = DEFAULT_RULES
) -> StudySummary:
    """Score every test of one study, flag duplicates and pick the submission that counts."""
    return _summary(study, [score_test(test, rules) for test in tests])


def _summary(study: Mapping, tests: list[TestScore]) -> StudySummary:
    scored = sorted(tests, key=submission_order)
    first_of_type: dict[str, TestScore] = {}
    for test in scored:
        if test.test_type == UNCLASSIFIED:
            continue
        if test.test_type in first_of_type:
            first_of_type[test.test_type].flags["duplicate"] = True
            test.flags["duplicate"] = True
        else:
            first_of_type[test.test_type] = test
    some_test = scored[0] if scored else None
    return StudySummary(
        study_id=study.get("study_id") or (some_test and some_test.study_id),
        participant_id=study.get("participant_id") or (some_test and some_test.participant_id),
        study_type=study.get("study_type") or (some_test and some_test.study_type),
        created_at=study.get("created_at"),
        tests=scored,
        scored={kind: first_of_type[kind] for kind in TEST_TYPES if kind in first_of_type},
        followup_number=study.get("followup_number")
        or (some_test.followup_number if some_test else None),
        withdrawn=bool(study.get("withdrawn_at")),
    )


# --- Many studies ---------------------------------------------------------------------------


def _study_key(document) -> tuple[str, str]:
    if isinstance(document, TestScore):
        return (document.participant_id or "", document.study_id or "")
    return (document.get("participant_id") or "", document.get("study_id") or "")


def summarise_studies(
    studies: Iterable[Mapping], tests: Iterable[Mapping], rules: QualityRules = DEFAULT_RULES
) -> Iterator[StudySummary]:
    """One summary per study, sorted by participant then study id; inputs in any order.

    Both inputs are held in memory to be sorted: for documents at hand. To read a database,
    stream them grouped by participant into `summarise_participants`.
    """
    by_key = participant_key
    grouped = summarise_participants(sorted(studies, key=by_key), sorted(tests, key=by_key), rules)
    for summaries in grouped:
        yield from summaries


def summarise_participants(
    studies: Iterable[Mapping], tests: Iterable[Mapping], rules: QualityRules = DEFAULT_RULES
) -> Iterator[list[StudySummary]]:
    """Each participant's study summaries (sorted by study id), participant after participant.

    Both inputs are grouped by participant in ascending participant_id order, as
    `db.stream(..., by="participant_id")` reads them (documents without one come first). Each test
    is scored as it is read and only one participant's small `TestScore`s are kept (no answers),
    so memory stays flat however many tests there are. Tests whose study is not among `studies`
    still get a summary (from the ids they carry), so no stored data is silently dropped. Raises
    ValueError when an input is not in that order (a participant would be split in two).
    """
    study_groups = participant_groups(studies)
    test_groups = participant_groups(tests)
    study_key, study_docs = next(study_groups, (None, []))
    test_key, test_docs = next(test_groups, (None, []))
    while study_key is not None or test_key is not None:
        if test_key is None or (study_key is not None and study_key < test_key):
            key = study_key
        else:
            key = test_key
        participant_studies, participant_tests = [], []
        if study_key == key:
            participant_studies = study_docs
            study_key, study_docs = next(study_groups, (None, []))
        if test_key == key:
            participant_tests = test_docs
            test_key, test_docs = next(test_groups, (None, []))
        yield _participant_summaries(participant_studies, participant_tests, rules)


def participant_key(document: Mapping) -> str:
    """A document's participant id as grouped reads order it: "" when it is not one text."""
    participant_id = document.get("participant_id")
    return participant_id if isinstance(participant_id, str) else ""


def participant_groups(documents: Iterable[Mapping]) -> Iterator[tuple[str, list[Mapping]]]:
    """(participant key, their documents) for each participant of documents read grouped by
    participant (`db.stream(..., by="participant_id")`): one participant's held at a time.

    Raises ValueError when the documents are not in ascending order (one participant's would be
    split in two).
    """
    key, group = None, []
    for document in documents:
        found = participant_key(document)
        if found != key:
            if group:
                if found < key:
                    raise ValueError("documents are not grouped by participant_id, ascending")
                yield key, group
            key, group = found, []
        group.append(document)
    if group:
        yield key, group


def _participant_summaries(
    studies: list[Mapping], tests: list[Mapping], rules: QualityRules
) -> list[StudySummary]:
    """The summaries of one participant's studies, sorted by study id."""
    scores_by_study: dict[tuple[str, str], list[TestScore]] = {}
    for test in tests:
        scored = score_test(test, rules)
        scores_by_study.setdefault(_study_key(scored), []).append(scored)
    study_by_key = {
        _study_key(study): {name: study.get(name) for name in _STUDY_IDENTITY} for study in studies
    }
    summaries = [
        _summary(study_by_key.pop(key, {}), scores_by_study.pop(key, []))
        for key in sorted(scores_by_study.keys() | study_by_key.keys())
    ]
    # `before_baseline` compares one participant's studies with each other: all are here.
    return flag_followups_before_baseline(summaries)


def flag_followups_before_baseline(studies: list[StudySummary]) -> list[StudySummary]:
    """Flag `before_baseline` every scored test of each of one participant's follow-ups that
    was started before the participant's baseline (`baseline_of`); return the studies.

    Only a follow-up with a start of its own is compared: one nobody started has no tests.
    """
    baseline = baseline_of(studies)
    baseline_start = baseline.started_at if baseline else None
    if baseline_start is None:
        return studies
    for study in studies:
        started = study.started_at
        if study.study_type == "followup" and started is not None and started < baseline_start:
            for test in study.tests:
                if "before_baseline" in test.flags:
                    test.flags["before_baseline"] = True
    return studies


def summary_row(summary: StudySummary) -> dict:
    """A flat row with every `SUMMARY_COLUMNS` key: ids, then each test type's scores and flags."""
    submitted: dict[str, int] = {}
    for test in summary.tests:
        submitted[test.test_type] = submitted.get(test.test_type, 0) + 1
    row = {
        "study_id": summary.study_id,
        "participant_id": summary.participant_id,
        "study_type": summary.study_type,
        "followup_number": summary.followup_number,
        "created_at": summary.created_at,
        "withdrawn": summary.withdrawn,
        "started_at": summary.started_at,
        "tests_submitted": len(summary.tests),
        "unclassified_submissions": submitted.get(UNCLASSIFIED, 0),
        "flagged_tests": sum(1 for test in summary.tests if test.flagged),
    }
    for test_type, (test_id, submissions, scores, flags) in _SUMMARY_KEYS.items():
        test = summary.scored.get(test_type)
        row[test_id] = test.test_id if test else None
        row[submissions] = submitted.get(test_type, 0)
        if test is None:
            row.update(_NO_SCORES[test_type])
            continue
        for column in scores:
            row[column] = test.scores.get(column)
        for column, name in flags:
            row[column] = test.flags.get(name)
    return row


# Each test type's summary columns, named once rather than in every row: test id, submissions,
# scores, (flag column, flag name).
_SUMMARY_KEYS = {
    test_type: (
        f"{PREFIXES[test_type]}_test_id",
        f"{PREFIXES[test_type]}_submissions",
        SCORE_COLUMNS[test_type],
        tuple((f"{PREFIXES[test_type]}_flag_{name}", name) for name in flag_names(test_type)),
    )
    for test_type in TEST_TYPES
}
# A study without that test type: its scores and flags are empty.
_NO_SCORES = {
    test_type: dict.fromkeys((*scores, *(column for column, _ in flags)))
    for test_type, (_, _, scores, flags) in _SUMMARY_KEYS.items()
}


def summary_rows(
    studies: Iterable[Mapping], tests: Iterable[Mapping], rules: QualityRules = DEFAULT_RULES
) -> Iterator[dict]:
    """`summary_row` for every study, in participant then study order; inputs in any order."""
    for summary in summarise_studies(studies, tests, rules):
        yield summary_row(summary)


# --- Baseline → follow-up change --------------------------------------------------------------


def by_participant(summaries: Iterable[StudySummary]) -> Iterator[list[StudySummary]]:
    """Consecutive summaries of one participant (`summarise_studies` yields them sorted)."""
    group: list[StudySummary] = []
    for summary in summaries:
        if group and summary.participant_id != group[0].participant_id:
            yield group
            group = []
        group.append(summary)
    if group:
        yield group


def _chronological(summary: StudySummary):
    # Started studies by their first test; then the ones nobody started, by creation.
    started, created = summary.started_at, summary.created_at
    return (
        started is None,
        started or datetime.min,
        created is None,
        created or datetime.min,
        summary.study_id or "",
    )


def baseline_of(studies: list[StudySummary]) -> StudySummary | None:
    """The participant's earliest baseline study that has at least one scored test."""
    baselines = [s for s in studies if s.study_type == "baseline" and s.scored]
    return min(baselines, key=_chronological) if baselines else None


def followups_of(studies: list[StudySummary]) -> list[StudySummary]:
    """The participant's follow-up studies by their number (Follow-up 1, 2, …).

    The number was given when the study was created, so Follow-up 2 stays Follow-up 2 whichever
    link the participant used first; a study without one (only in hand-made data) comes last.
    """
    return sorted(
        (s for s in studies if s.study_type == "followup"),
        key=lambda s: (s.followup_number is None, s.followup_number or 0, *_chronological(s)),
    )


def days_between(start: datetime, end: datetime) -> float:
    """Days from start to end, exact to the microsecond, then rounded as every derived value."""
    return _rounded_fraction((end - start) // MICROSECOND, DAY // MICROSECOND, DAY_DECIMALS)


def score_change(column: str, baseline: StudySummary | None, followup: StudySummary):
    """Follow-up minus baseline of one score column; None if either value is missing."""
    before = baseline.score(column) if baseline else None
    return _change(column, before, followup.score(column))


def _change(column: str, before, after):
    # `score_change` of two values at hand.
    if not _is_number(before) or not _is_number(after):
        return None
    if isinstance(before, int) and isinstance(after, int):
        # Counts and points: their change is a whole number too, written as one ("3", not
        # "3.0": datapackage.json declares it an integer, from the codebook's unit).
        return after - before
    # The difference of the values as written in summary.csv, exactly, then rounded as they are.
    return _difference(after, before, _CHANGE_DECIMALS[column])


_CHANGE_DECIMALS = {
    column: RT_DECIMALS if unit == "ms" else PROPORTION_DECIMALS
    for column, unit in _SCORE_UNITS.items()
}


def _difference(after: float, before: float, decimals: int) -> float:
    """`rounded(_decimal(after) - _decimal(before), decimals)`, in integers when both are
    written with at most `decimals` places (as rounded scores are)."""
    power = _POWERS_OF_TEN[decimals]
    after_units, before_units = _in_units(after, power), _in_units(before, power)
    if after_units is None or before_units is None or after_units == before_units == 0:
        # More places; or two zeros, where Decimal keeps a sign: −0.0 − 0.0 = −0.0.
        return rounded(_decimal(after) - _decimal(before), decimals)
    # Exact in integers, and int / int rounds to the float nearest, as float(Decimal) does.
    return (after_units - before_units) / power


def _in_units(value: float, power: int) -> int | None:
    """`value` · `power` as an int, when the decimal `value` prints as is that int / `power`."""
    scaled = value * power
    if not -_UNITS_LIMIT < scaled < _UNITS_LIMIT:  # nan and inf too
        return None
    units = round(scaled)
    # Below 2**40 units, two decimals with this many places are more than a float's spacing
    # apart, so the one whose float this is, is the shortest decimal that prints it: its repr.
    return units if units / power == value else None


_UNITS_LIMIT = 2.0**40


def participant_change_rows(studies: list[StudySummary]) -> Iterator[dict]:
    """One `CHANGE_COLUMNS` row per follow-up of one participant: each score's change."""
    baseline = baseline_of(studies)
    baseline_start = baseline.started_at if baseline else None
    for followup in followups_of(studies):
        followup_start = followup.started_at
        days = None
        if baseline_start and followup_start:
            days = days_between(baseline_start, followup_start)
        row = {
            "participant_id": followup.participant_id,
            "baseline_study_id": baseline.study_id if baseline else None,
            "baseline_started_at": baseline_start,
            "followup_study_id": followup.study_id,
            "followup_number": followup.followup_number,
            "followup_started_at": followup_start,
            "days_since_baseline": days,
        }
        for test_type, keys in _CHANGE_KEYS.items():
            before = baseline.scored.get(test_type) if baseline else None
            after = followup.scored.get(test_type)
            if before is None or after is None:
                row.update(_NO_CHANGES[test_type])
                continue
            for column, key in keys:
                row[key] = _change(column, before.scores.get(column), after.scores.get(column))
        yield row


# Each test type's (score column, change column), named once rather than in every row.
_CHANGE_KEYS = {
    test_type: tuple((column, f"{column}_change") for column in SCORE_COLUMNS[test_type])
    for test_type in TEST_TYPES
}
_NO_CHANGES = {
    test_type: dict.fromkeys(key for _, key in keys) for test_type, keys in _CHANGE_KEYS.items()
}


def change_rows(summaries: Iterable[StudySummary]) -> Iterator[dict]:
    """Change rows for every participant, from summaries sorted by participant."""
    for studies in by_participant(summaries):
        yield from participant_change_rows(studies)
