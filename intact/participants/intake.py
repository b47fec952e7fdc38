"""Whether a study still takes results, and if not why: the rule both participant endpoints ask.

A study link is a participant's key to one session of the battery. Once the session is over the
link must stop taking results, or a link copied from the wrong row takes a whole second battery
(issue 15). What closes a study, each with a `reason` that the refused submission keeps:

- `study_completed`: all six tests arrived (`completed_at`, intact/participants/counters.py) more
  than `COMPLETED_GRACE_HOURS` ago. The grace period lets a participant whose last test crossed
  a flaky network, or who reloads the page, finish without a refusal; after it, `GET
  /studies/<id>` answers as for an unknown id (the front-end then says "invalid study id" before
  the participant starts) and a late result is refused and kept in the quarantine with this
  reason, where a researcher can read it.

An identical re-submission of a test stored before the study closed is still answered with the
stored test (intact/results.py): a retry is not a new battery.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app

STUDY_COMPLETED = "study_completed"
# Each reason as the refused-submission pages name it.
REASON_LABELS = {STUDY_COMPLETED: "study completed"}


@dataclass(frozen=True)
class Closure:
    """Why a study takes no more results: a `reason` code and a sentence for people."""

    reason: str
    message: str


def grace_period() -> timedelta:
    """How long a completed study still takes results (`COMPLETED_GRACE_HOURS`)."""
    return timedelta(hours=current_app.config["COMPLETED_GRACE_HOURS"])


def closure(study: Mapping, now: datetime | None = None) -> Closure | None:
    """Why `study` (a study document with its counters) takes no results at `now`, or None.

    `now` defaults to the current UTC time; it must be timezone-aware.
    """
    now = now or datetime.now(UTC)
    completed_at = study.get("completed_at")
    if isinstance(completed_at, datetime):
        grace = grace_period()
        if now - completed_at > grace:
            hours = int(grace.total_seconds() // 3600)
            return Closure(
                STUDY_COMPLETED,
                f"This study was completed on {completed_at:%Y-%m-%d %H:%M} UTC and takes no new "
                f"results more than {hours} hours after that (COMPLETED_GRACE_HOURS). The result "
                "is kept for the research team.",
            )
    return None


def reason_label(reason: str | None) -> str:
    """How a page names a refused submission's reason ("" for a schema refusal, which has none)."""
    return REASON_LABELS.get(reason, reason or "")
