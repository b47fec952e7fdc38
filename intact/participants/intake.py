"""Whether a study still takes results, and if not why: the rule both participant endpoints ask.

A study link is a participant's key to one session of the battery. Once the session is over, or
the link is closed by hand, it must stop taking results, or a link copied from the wrong row takes
a whole second battery (issue 15). What closes a study, each with the `reason` its refused
submissions keep in the quarantine (intact/quarantine.py, where `LATE_REASONS` can be accepted
into the data from the refused-submission page):

- "link deactivated" / "participant withdrawn": a researcher closed the link
  (`studies.closed_reason`, set by intact/participants/lifecycle.py). The link answers exactly as
  an unknown id, to `GET /studies/<id>` and `POST /tests` alike.
- "study completed": all six tests arrived (`completed_at`, intact/participants/counters.py) more
  than `COMPLETED_GRACE_HOURS` ago. The grace period lets a participant whose last test crossed a
  flaky network, or who reloads the page, finish without a refusal. After it, `GET
  /studies/<id>` answers as for an unknown id (the front-end says "invalid study id" before the
  participant starts), and a late result gets a 409 naming the completion; an identical
  re-submission of a test stored before still gets its 200 (a retry is not a new battery).

Whatever the reason, a result that still arrives is kept, never lost.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app

from intact import studies

LINK_DEACTIVATED = studies.LINK_DEACTIVATED
PARTICIPANT_WITHDRAWN = studies.PARTICIPANT_WITHDRAWN
STUDY_COMPLETED = "study completed"
# What a refused submission says when a researcher closed its link.
_LINK_MESSAGES = {
    LINK_DEACTIVATED: "The link was deactivated before this result arrived.",
    PARTICIPANT_WITHDRAWN: "The participant had withdrawn before this result arrived.",
}


@dataclass(frozen=True)
class Closure:
    """Why a study takes no more results: the `reason` kept with what still arrives, a sentence
    for people, and whether the link answers as an unknown id (a link closed by hand) or says
    it is closed (a completed study: 409)."""

    reason: str
    message: str
    answers_as_unknown: bool


def grace_period() -> timedelta:
    """How long a completed study still takes results (`COMPLETED_GRACE_HOURS`)."""
    return timedelta(hours=current_app.config["COMPLETED_GRACE_HOURS"])


def closure(study: Mapping, now: datetime | None = None) -> Closure | None:
    """Why `study` (a study document with its counters) takes no results at `now`, or None.

    `now` defaults to the current UTC time; it must be timezone-aware. Needs an app context.
    """
    closed_by_hand = studies.closed_reason(study)
    if closed_by_hand:
        return Closure(closed_by_hand, _LINK_MESSAGES[closed_by_hand], answers_as_unknown=True)
    completed_at = study.get("completed_at")
    if isinstance(completed_at, datetime):
        grace = grace_period()
        if (now or datetime.now(UTC)) - completed_at > grace:
            hours = int(grace.total_seconds() // 3600)
            return Closure(
                STUDY_COMPLETED,
                f"This study was completed on {completed_at:%Y-%m-%d %H:%M} UTC and takes no new "
                f"results more than {hours} hours after that (COMPLETED_GRACE_HOURS). The result "
                "is kept for the research team.",
                answers_as_unknown=False,
            )
    return None
