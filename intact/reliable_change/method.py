"""Which r, SD1 and practice each score uses, and each follow-up's RCI and classification.

For every score of `scoring.ALL_SCORE_COLUMNS` the parameters come from, in this order:
1. values a researcher entered on the dashboard (`source` "researcher"),
2. the reference file (`source` "reference"),
3. the study's own participants who have both a baseline and that follow-up's value
   (`source` "sample"): Pearson r, baseline SD (n − 1) and mean change, estimated separately for
   follow-up 1, 2, … (the practice effect depends on the interval), and only from at least
   `min_pairs` participants. Below that, or when the values do not vary, the RCI stays empty and
   the reason is given instead of a source.

Pure: the caller hands in the summaries (intact/summaries.py reads them from the database).
"""

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from intact import scoring
from intact.reliable_change.formula import (
    DECLINE,
    IMPROVEMENT,
    NO_BASELINE_VARIANCE,
    NO_CHANGE,
    NO_FOLLOWUP_VARIANCE,
    PERFECT_CORRELATION,
    REFERENCE,
    RESEARCHER,
    SAMPLE,
    TOO_FEW_PAIRS,
    PairStatistics,
    Parameters,
    Unavailable,
    classify,
    critical_z,
    reliable_change_index,
)

RCI_DECIMALS = 3
# A score and follow-up number the sample has no pair for (one shared value: it is frozen).
_NO_PAIRS = Unavailable(TOO_FEW_PAIRS, 0)
# The settings' defaults (RCI_CONFIDENCE_LEVEL, RCI_MIN_PAIRS in intact/config.py).
DEFAULT_LEVEL_PERCENT = 90.0
DEFAULT_MIN_PAIRS = 30
# Besides the reaction times, a second attempt at immediate recall is a worse result.
_DECLINE_IS_INCREASE = frozenset(
    column
    for column in scoring.ALL_SCORE_COLUMNS
    if scoring.score_unit(column) == "ms" or column == "ir_attempts"
)


_DIRECTION_TEXT = {
    True: "for this score a higher value is worse, so a decline is an increase (a positive RCI)",
    False: "for this score a higher value is better, so a decline is a decrease (a negative RCI)",
}


def decline_is_increase(column: str) -> bool:
    """True for scores where a higher value is worse: reaction times (ms) and ir_attempts."""
    return column in _DECLINE_IS_INCREASE


def rci_columns(column: str) -> tuple[str, str, str]:
    """The change table's RCI columns of one score: index, classification, source."""
    return (f"{column}_rci", f"{column}_rci_class", f"{column}_rci_source")


def _score_of_change(column: str) -> str | None:
    score = column.removesuffix("_change")
    return score if score != column and score in scoring.ALL_SCORE_COLUMNS else None


def with_rci_columns(columns: Iterable[str]) -> tuple[str, ...]:
    """The change table's columns with each score's RCI columns right after its `_change`."""
    found = []
    for column in columns:
        found.append(column)
        if score := _score_of_change(column):
            found += rci_columns(score)
    return tuple(found)


PARAMETER_COLUMNS = (
    "score",
    "followup_number",
    "source",
    "citation",
    "pairs",
    "r",
    "sd_baseline",
    "practice",
    "sem",
    "se_diff",
    "decline_is",
    "confidence_level",
    "critical_z",
    "explanation",
)


@dataclass(frozen=True)
class Assessment:
    """One participant's reliable change on one score at one follow-up.

    `rci` and `classification` are None when the change or the parameters are missing; `basis`
    says which parameters were used, or why there are none.
    """

    rci: float | None
    classification: str | None
    basis: Parameters | Unavailable

    @property
    def source(self) -> str:
        """The parameters' source ("researcher", "reference", "sample") or why there are none."""
        return _source(self.basis)


def _source(basis: Parameters | Unavailable) -> str:
    return basis.source if isinstance(basis, Parameters) else basis.reason


@dataclass(frozen=True)
class Method:
    """Level, minimum pairs and the parameters of every score at every follow-up number.

    `level` is a fraction (0.90); `researcher` and `reference` map a score column to its values;
    `sample` maps (score column, follow-up number) to estimates or why there are none; None when
    they were not estimated (enough to describe the method, as the codebook does, not to use it).
    """

    level: float = DEFAULT_LEVEL_PERCENT / 100
    min_pairs: int = DEFAULT_MIN_PAIRS
    researcher: Mapping[str, Parameters] = field(default_factory=dict)
    reference: Mapping[str, Parameters] = field(default_factory=dict)
    sample: Mapping[tuple[str, int], Parameters | Unavailable] | None = field(default_factory=dict)

    @cached_property
    def critical(self) -> float:
        """The critical |z| of the two-sided level (0.90 → 1.6449)."""
        return critical_z(self.level)

    def parameters(self, column: str, followup_number: int | None) -> Parameters | Unavailable:
        """The values one score uses at one follow-up, or why it has none."""
        chosen = self.researcher.get(column) or self.reference.get(column)
        if chosen is not None:
            return chosen
        return self._estimates().get((column, followup_number), _NO_PAIRS)

    def _estimates(self) -> Mapping[tuple[str, int], Parameters | Unavailable]:
        if self.sample is None:
            raise RuntimeError("this method was built without sample estimates")
        return self.sample

    def assess(self, column: str, followup_number: int | None, change) -> Assessment:
        """The RCI and classification of one change (follow-up − baseline; None if missing)."""
        basis = self.parameters(column, followup_number)
        if change is None or not isinstance(basis, Parameters):
            return Assessment(None, None, basis)
        rci = reliable_change_index(change, basis)
        kind = classify(rci, self.critical, decline_is_increase=decline_is_increase(column))
        return Assessment(rci, kind, basis)

    def bases(self, column: str) -> list[tuple[int | None, Parameters | Unavailable]]:
        """(follow-up number, values or why none) of one score; None: every follow-up."""
        chosen = self.researcher.get(column) or self.reference.get(column)
        if chosen is not None:
            return [(None, chosen)]
        found = sorted(
            (
                (number, basis)
                for (score, number), basis in self._estimates().items()
                if score == column
            ),
            # A follow-up without a number (hand-made data only) comes last.
            key=lambda pair: (pair[0] is None, pair[0] or 0),
        )
        return found or [(None, Unavailable(TOO_FEW_PAIRS, 0))]

    def parameter_rows(self) -> Iterator[dict]:
        """reliable_change.csv: `PARAMETER_COLUMNS` per score and follow-up number."""
        for column in scoring.ALL_SCORE_COLUMNS:
            for number, basis in self.bases(column):
                values = basis if isinstance(basis, Parameters) else None
                yield {
                    "score": column,
                    "followup_number": number,
                    "source": values.source if values else basis.reason,
                    "citation": values.citation if values else None,
                    "pairs": basis.pairs,
                    "r": values.r if values else None,
                    "sd_baseline": values.sd_baseline if values else None,
                    "practice": values.practice if values else None,
                    "sem": values.sem if values else None,
                    "se_diff": values.se_diff if values else None,
                    "decline_is": "increase" if decline_is_increase(column) else "decrease",
                    "confidence_level": self.level,
                    "critical_z": scoring.rounded(self.critical, 4),
                    "explanation": describe_basis(basis, number, self.min_pairs),
                }

    def codebook(self, column: str) -> tuple[scoring.CodebookEntry, ...]:
        """The codebook entries of one score's RCI columns, with this method's level and sources."""
        test_type = scoring.score_test_type(column)
        index, kind, source = rci_columns(column)
        direction = _DIRECTION_TEXT[decline_is_increase(column)]
        percent = f"{self.level * 100:g} %"
        return (
            scoring.CodebookEntry(
                index,
                test_type,
                "z",
                f"reliable change index, practice-adjusted (Chelune et al. 1993, after Jacobson & "
                f"Truax 1991): ({column}_change − practice) / SEdiff, SEdiff = √2 · SEM, "
                f"SEM = SD1 · √(1 − r), with r, SD1 and practice from {source} (each follow-up's "
                f"values in reliable_change.csv); {direction}; empty when the change or the values "
                f"are missing",
            ),
            scoring.CodebookEntry(
                kind,
                test_type,
                "classification",
                f"{DECLINE}, {NO_CHANGE} or {IMPROVEMENT} at the two-sided {percent} level: "
                f"reliable when |{index}| > {self.critical:.3f} (before rounding); {direction}",
            ),
            scoring.CodebookEntry(
                source,
                test_type,
                "source",
                f"where r, SD1 and practice came from: {self._sources_in_force(column)}; "
                f"when there are none, why: {TOO_FEW_PAIRS} (fewer than {self.min_pairs} "
                f"participants with both values), {NO_BASELINE_VARIANCE}, {NO_FOLLOWUP_VARIANCE} "
                f"or {PERFECT_CORRELATION}",
            ),
        )

    def _sources_in_force(self, column: str) -> str:
        chosen = self.researcher.get(column) or self.reference.get(column)
        if chosen is None:
            return (
                f"{SAMPLE} (estimated for each follow-up number from this study's participants "
                f"with both a baseline and that follow-up value)"
            )
        where = "entered on the dashboard" if chosen.source == RESEARCHER else "the reference file"
        return f"{chosen.source} ({where}: {describe_values(chosen)}; {chosen.citation})"

    def change_cells(self, row: Mapping) -> dict:
        """The RCI columns of one change row (`scoring.CHANGE_COLUMNS`), by column name."""
        cells = {}
        critical = self.critical
        for score in self._scores_at(row["followup_number"]):
            change = row[score.change]
            if change is None or score.values is None:
                cells[score.index] = cells[score.kind] = None
            else:
                rci = reliable_change_index(change, score.values)
                cells[score.index] = scoring.rounded(rci, RCI_DECIMALS)
                cells[score.kind] = classify(
                    rci, critical, decline_is_increase=score.decline_is_increase
                )
            cells[score.source] = score.basis_source
        return cells

    @cached_property
    def _scores_by_number(self) -> dict[int | None, tuple["_ScoreAtFollowup", ...]]:
        return {}

    def _scores_at(self, followup_number: int | None) -> tuple["_ScoreAtFollowup", ...]:
        """Every score's columns and parameters at one follow-up number, worked out once (the
        method's mappings do not change once it is built): each change row asks for them."""
        found = self._scores_by_number.get(followup_number)
        if found is None:
            found = tuple(
                _ScoreAtFollowup.of(column, self.parameters(column, followup_number))
                for column in scoring.ALL_SCORE_COLUMNS
            )
            self._scores_by_number[followup_number] = found
        return found


@dataclass(frozen=True, slots=True)
class _ScoreAtFollowup:
    """One score's change column, RCI columns and parameters (None: `basis_source` says why)."""

    change: str
    index: str
    kind: str
    source: str
    values: Parameters | None
    basis_source: str
    decline_is_increase: bool

    @classmethod
    def of(cls, column: str, basis: Parameters | Unavailable) -> "_ScoreAtFollowup":
        values = basis if isinstance(basis, Parameters) else None
        return cls(
            f"{column}_change",
            *rci_columns(column),
            values,
            _source(basis),
            decline_is_increase(column),
        )


def columns_without_values(
    researcher: Mapping[str, Parameters], reference: Mapping[str, Parameters]
) -> tuple[str, ...]:
    """The scores that neither a researcher nor the reference file gives values for."""
    return tuple(
        column
        for column in scoring.ALL_SCORE_COLUMNS
        if column not in researcher and column not in reference
    )


class Estimator:
    """Sample parameters of some scores per follow-up number, fed one participant at a time.

    A pair is a participant's value at their baseline (`scoring.baseline_of`) and at follow-up
    k, both present; only six running sums per score and follow-up number are kept
    (`PairStatistics`), whatever the number of pairs, so a pass that reads every participant
    for another reason (the ZIP's scores) can estimate on the way.
    """

    def __init__(self, columns: Iterable[str]):
        self._by_test_type: dict[str, list[str]] = {}
        for column in columns:
            self._by_test_type.setdefault(scoring.score_test_type(column), []).append(column)
        self._pairs: dict[tuple[str, int], PairStatistics] = {}

    def add(self, studies: list[scoring.StudySummary]) -> None:
        """Count one participant's pairs (`studies`: their summaries, `scoring.by_participant`)."""
        baseline = scoring.baseline_of(studies) if self._by_test_type else None
        if baseline is None:
            return
        pairs = self._pairs
        for followup in scoring.followups_of(studies):
            number = followup.followup_number
            for test_type, scores in self._by_test_type.items():
                before, after = baseline.scored.get(test_type), followup.scored.get(test_type)
                if before is None or after is None:
                    continue
                for column in scores:
                    x1, x2 = before.scores.get(column), after.scores.get(column)
                    if _is_number(x1) and _is_number(x2):
                        key = (column, number)
                        if key not in pairs:
                            pairs[key] = PairStatistics()
                        pairs[key].add(x1, x2)

    def parameters(self, min_pairs: int) -> dict[tuple[str, int], Parameters | Unavailable]:
        """{(score column, follow-up number): its parameters, or why there are none}."""
        return {key: statistics.parameters(min_pairs) for key, statistics in self._pairs.items()}


def estimate(
    participants: Iterable[list[scoring.StudySummary]],
    columns: Iterable[str],
    min_pairs: int,
) -> dict[tuple[str, int], Parameters | Unavailable]:
    """Sample parameters of these scores per follow-up number, in one pass over the participants.

    `participants` yields each participant's summaries (`scoring.by_participant`); see
    `Estimator` for what makes a pair.
    """
    estimator = Estimator(columns)
    for studies in participants:
        estimator.add(studies)
    return estimator.parameters(min_pairs)


def _is_number(value) -> bool:
    # Runs twice per score and pair: plain ints and floats without isinstance.
    kind = type(value)
    if kind is int or kind is float:
        return True
    return isinstance(value, int | float) and kind is not bool


def _plain(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def describe_values(parameters: Parameters) -> str:
    """'r = 0.8, SD1 = 1.2, practice = 0.3' (in the score's unit)."""
    return (
        f"r = {_plain(parameters.r)}, SD1 = {_plain(parameters.sd_baseline)}, "
        f"practice = {_plain(parameters.practice)}"
    )


def describe_basis(
    basis: Parameters | Unavailable, followup_number: int | None, min_pairs: int
) -> str:
    """Where one score's parameters came from at one follow-up, or why it has no RCI: a sentence.

    `followup_number` None: the values apply to every follow-up (or no follow-up has a value).
    """
    visit = "follow-up" if followup_number is None else f"follow-up {followup_number}"
    if isinstance(basis, Parameters):
        if basis.source == RESEARCHER:
            return f"Entered by a researcher: {describe_values(basis)} ({basis.citation})."
        if basis.source == REFERENCE:
            return f"Reference file: {describe_values(basis)} ({basis.citation})."
        return (
            f"Estimated from the {basis.pairs} participants with a baseline and a {visit} value: "
            f"{describe_values(basis)}."
        )
    if basis.reason == TOO_FEW_PAIRS:
        have = {0: "no participant has", 1: "only 1 participant has"}.get(
            basis.pairs, f"only {basis.pairs} participants have"
        )
        return (
            f"No RCI: {have} both a baseline and a {visit} value; estimating r, SD1 and practice "
            f"from the study needs at least {min_pairs}, and no reference values are set."
        )
    return {
        NO_BASELINE_VARIANCE: (
            f"No RCI: the {basis.pairs} participants with a baseline and a {visit} value all have "
            f"the same baseline value, so SD1 = 0 and SEdiff = 0."
        ),
        NO_FOLLOWUP_VARIANCE: (
            f"No RCI: the {basis.pairs} participants with a baseline and a {visit} value all have "
            f"the same {visit} value, so the test–retest r cannot be estimated."
        ),
        PERFECT_CORRELATION: (
            f"No RCI: in the {basis.pairs} participants with a baseline and a {visit} value, the "
            f"{visit} value is an exact linear function of the baseline (r = 1), so SEdiff = 0."
        ),
    }[basis.reason]
