"""Follow-up numbers: each follow-up study is "Follow-up k" of its participant, for ever.

A follow-up gets its number when it is created: one more than the highest number the participant
has (so numbers continue when follow-ups are added later, and a batch that makes two follow-ups
per participant numbers them in the order it lists them). Every page, CSV and API reads the
number from the study document; nothing orders follow-ups by id, creation time or date taken.

Tests and refused submissions copy the number from their study when they are stored, as they copy
`study_type`, so an export row needs no lookup.

Studies created before numbers existed are numbered once, at start-up (`number_unnumbered`): per
participant, by creation time, then by position in their batch (insertion order), after any
number the participant already has; their tests and refused submissions get the same number. It
is idempotent: a numbered study is never renumbered.
"""

import logging
from collections import defaultdict
from datetime import UTC, datetime

from intact import db

log = logging.getLogger(__name__)

FOLLOWUP = "followup"
NUMBER_FIELD = "followup_number"
# One "Follow-up k" per participant (a reissued link has the same number and names the study it
# replaces): the unique index of db.INDEXES refuses a second, so two racing creations cannot
# both take the same number.
UNIQUE_KEY = ("participant_id", NUMBER_FIELD, "replaces")


def label(study_type: str | None, followup_number: int | None = None) -> str:
    """'Baseline', 'Follow-up 2', or 'Follow-up' for a follow-up not numbered yet."""
    if study_type == "baseline":
        return "Baseline"
    if study_type == FOLLOWUP:
        return f"Follow-up {followup_number}" if followup_number else "Follow-up"
    return study_type or ""


def highest_numbers(participant_ids) -> dict[str, int]:
    """{participant_id: their highest follow-up number} for those who have a numbered follow-up."""
    participant_ids = sorted(set(participant_ids))
    highest: dict[str, int] = {}
    if not participant_ids:
        return highest
    query = {"participant_id": {"$in": participant_ids}, "study_type": FOLLOWUP}
    for study in db.stream("studies", query, ("participant_id", NUMBER_FIELD)):
        number = study.get(NUMBER_FIELD)
        if isinstance(number, int):
            pid = study["participant_id"]
            highest[pid] = max(highest.get(pid, 0), number)
    return highest


def number_new_studies(studies: list[dict]) -> None:
    """Give each follow-up in `studies` (new, in creation order) its number, in place.

    Follow-ups of these participants that predate numbering are numbered first, so that new
    numbers come after theirs.
    """
    participant_ids = {s["participant_id"] for s in studies if s["study_type"] == FOLLOWUP}
    if not participant_ids:
        return
    number_unnumbered(participant_ids)
    highest = highest_numbers(participant_ids)
    for study in studies:
        if study["study_type"] == FOLLOWUP:
            pid = study["participant_id"]
            highest[pid] = highest.get(pid, 0) + 1
            study[NUMBER_FIELD] = highest[pid]


def number_unnumbered(participant_ids=None) -> int:
    """Number every follow-up that has no number yet (of these participants); return how many.

    Order: creation time, then position in the database (a batch is inserted in its listed
    order). Safe to run again and from several processes at once: each computes the same
    numbers, and a study that has one already is left alone. One pass reads the studies, then the
    tests, refused submissions and studies are written in batches (`db.update_each`).
    """
    query = {"study_type": FOLLOWUP, NUMBER_FIELD: None}
    if participant_ids is not None:
        query["participant_id"] = {"$in": sorted(set(participant_ids))}
    waiting = defaultdict(list)
    fields = ("_id", "study_id", "participant_id", "created_at")
    for position, study in enumerate(db.stream("studies", query, fields)):
        waiting[study.get("participant_id")].append((study.get("created_at"), position, study))
    if not waiting:
        return 0
    highest = highest_numbers(pid for pid in waiting if isinstance(pid, str))
    oldest = datetime.min.replace(tzinfo=UTC)
    numbers, study_updates = {}, []
    unnumbered = {NUMBER_FIELD: None}  # matches a missing field and a null one
    for pid, found in waiting.items():
        found.sort(key=lambda item: (_aware(item[0]) or oldest, item[1]))
        number = highest.get(pid, 0)
        for _, _, study in found:
            number += 1
            numbers[study["study_id"]] = number
            study_updates.append((study["_id"], unnumbered, {"$set": {NUMBER_FIELD: number}}))
    # Copies first, the studies last: a run cut short before a study is written is redone in full.
    # Each participant's studies are written in ascending order, so a cut within them leaves the
    # lower numbers taken and the next run gives the rest the same numbers again.
    # At start-up every study is concerned: one pass over the collection (no index to build).
    copies = dict(unnumbered)
    if participant_ids is not None:
        copies["study_id"] = {"$in": sorted(numbers)}
    for name in ("tests", "quarantine"):
        db.update_each(
            name,
            (
                (copy["_id"], unnumbered, {"$set": {NUMBER_FIELD: numbers[copy["study_id"]]}})
                for copy in db.stream(name, copies, ("_id", "study_id"))
                if copy.get("study_id") in numbers
            ),
        )
    numbered = db.update_each("studies", study_updates)
    if numbered:
        log.info("numbered %d follow-up studies created before follow-up numbers", numbered)
    return numbered


def _aware(moment):
    """A stored datetime as aware UTC (old documents may hold naive UTC)."""
    if isinstance(moment, datetime) and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment if isinstance(moment, datetime) else None
