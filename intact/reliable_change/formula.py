"""The practice-adjusted reliable change index and its classification (pure arithmetic).

Jacobson, N. S., & Truax, P. (1991). Clinical significance: a statistical approach to defining
meaningful change in psychotherapy research. Journal of Consulting and Clinical Psychology, 59(1),
12–19. Chelune, G. J., Naugle, R. I., Lüders, H., Sedlak, J., & Awad, I. A. (1993). Individual
change after epilepsy surgery: practice effects and base-rate information. Neuropsychology, 7(1),
41–52 (the practice adjustment):

    RCI = ((X2 − X1) − practice) / SEdiff,   SEdiff = √2 · SEM,   SEM = SD1 · √(1 − r)

X1 is the baseline score, X2 the follow-up score, SD1 the baseline standard deviation of the
score, r its test–retest reliability and practice the mean change (follow-up − baseline) of people
retested over the same interval. The change is reliable at a two-sided level when |RCI| exceeds
that level's critical z (90 %: 1.645), computed from the standard normal distribution.
"""

import math
from dataclasses import dataclass
from functools import cached_property
from statistics import NormalDist

# Classifications, as written in change.csv.
DECLINE = "decline"
NO_CHANGE = "no_change"
IMPROVEMENT = "improvement"
CLASSIFICATIONS = (DECLINE, NO_CHANGE, IMPROVEMENT)

# Where the parameters of a score came from.
REFERENCE = "reference"  # the reference file that ships with the app (or RCI_REFERENCE_FILE)
RESEARCHER = "researcher"  # values a researcher entered on the dashboard
SAMPLE = "sample"  # estimated from the study's own participants
SOURCES = (RESEARCHER, REFERENCE, SAMPLE)  # in the order they are preferred

# Why a score has no parameters (and so no RCI) at a follow-up.
TOO_FEW_PAIRS = "too_few_pairs"
NO_BASELINE_VARIANCE = "no_baseline_variance"
NO_FOLLOWUP_VARIANCE = "no_followup_variance"
PERFECT_CORRELATION = "perfect_correlation"
REASONS = (TOO_FEW_PAIRS, NO_BASELINE_VARIANCE, NO_FOLLOWUP_VARIANCE, PERFECT_CORRELATION)

# Spreads below this fraction of the values' size are rounding noise, not variance.
_RELATIVE_ZERO = 1e-12


def critical_z(level: float) -> float:
    """The two-sided critical value of the standard normal for a level in (0, 1): 0.90 → 1.6449.

    Raises ValueError for a level outside (0, 1).
    """
    if not 0 < level < 1:
        raise ValueError(f"the level must be between 0 and 1, got {level!r}")
    return NormalDist().inv_cdf(0.5 + level / 2)


@dataclass(frozen=True)
class Parameters:
    """r, SD1 and practice of one score, with where they came from.

    `r` is unitless in [-1, 1); `sd_baseline` (> 0) and `practice` are in the score's unit.
    `citation` names the publication or normative sample (reference and researcher values);
    `pairs` is the number of participants the values were estimated from (sample only).
    """

    r: float
    sd_baseline: float
    practice: float
    source: str
    citation: str = ""
    pairs: int | None = None

    # Cached: the change table divides by se_diff for every participant's change.
    @cached_property
    def sem(self) -> float:
        """Standard error of measurement: SD1 · √(1 − r), in the score's unit."""
        return self.sd_baseline * math.sqrt(1 - self.r)

    @cached_property
    def se_diff(self) -> float:
        """Standard error of the difference between two scores: √2 · SEM, in the score's unit."""
        return math.sqrt(2) * self.sem


@dataclass(frozen=True)
class Unavailable:
    """Why a score has no usable parameters: one of `REASONS`, and how many pairs there were."""

    reason: str
    pairs: int = 0


def reliable_change_index(change: float, parameters: Parameters) -> float:
    """((X2 − X1) − practice) / SEdiff for a change X2 − X1 in the score's unit (unrounded)."""
    return (change - parameters.practice) / parameters.se_diff


def classify(rci: float, critical: float, *, decline_is_increase: bool) -> str:
    """DECLINE, NO_CHANGE or IMPROVEMENT: reliable only when |rci| > critical (strictly).

    For scores where a higher value is worse (reaction times), `decline_is_increase` is true.
    """
    if abs(rci) <= critical:
        return NO_CHANGE
    increased = rci > 0
    return DECLINE if increased == decline_is_increase else IMPROVEMENT


class PairStatistics:
    """Pearson r, baseline SD and mean change of (baseline, follow-up) pairs, in one pass.

    Welford's updates (Welford 1962; the co-moment form of Chan, Golub & LeVeque 1983) keep six
    numbers whatever the number of pairs, and stay accurate where the textbook sums of squares
    lose their digits to cancellation (reaction times in the thousands of ms).
    """

    __slots__ = ("count", "mean_baseline", "mean_followup", "_m2_baseline", "_m2_followup", "_co")

    def __init__(self):
        self.count = 0
        self.mean_baseline = 0.0
        self.mean_followup = 0.0
        self._m2_baseline = 0.0
        self._m2_followup = 0.0
        self._co = 0.0

    def add(self, baseline: float, followup: float) -> None:
        """Count one participant's baseline and follow-up value of the score."""
        self.count += 1
        delta_baseline = baseline - self.mean_baseline
        self.mean_baseline += delta_baseline / self.count
        delta_followup = followup - self.mean_followup
        self.mean_followup += delta_followup / self.count
        self._m2_baseline += delta_baseline * (baseline - self.mean_baseline)
        self._m2_followup += delta_followup * (followup - self.mean_followup)
        self._co += delta_baseline * (followup - self.mean_followup)

    def parameters(self, min_pairs: int) -> Parameters | Unavailable:
        """Sample parameters (r, SD1 with n − 1, mean change), or why there are none."""
        if self.count < max(min_pairs, 2):
            return Unavailable(TOO_FEW_PAIRS, self.count)
        if _no_spread(self._m2_baseline, self.mean_baseline, self.count):
            return Unavailable(NO_BASELINE_VARIANCE, self.count)
        if _no_spread(self._m2_followup, self.mean_followup, self.count):
            return Unavailable(NO_FOLLOWUP_VARIANCE, self.count)
        r = self._co / math.sqrt(self._m2_baseline * self._m2_followup)
        if r >= 1 - _RELATIVE_ZERO:
            return Unavailable(PERFECT_CORRELATION, self.count)
        return Parameters(
            r=max(r, -1.0),
            sd_baseline=math.sqrt(self._m2_baseline / (self.count - 1)),
            practice=self.mean_followup - self.mean_baseline,
            source=SAMPLE,
            pairs=self.count,
        )


def _no_spread(sum_of_squares: float, mean: float, count: int) -> bool:
    spread = math.sqrt(max(sum_of_squares, 0.0) / count)
    return spread <= _RELATIVE_ZERO * max(1.0, abs(mean))
