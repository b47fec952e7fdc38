"""Refused submissions that named a known study, kept apart so a researcher can recover them.

The front-end never retries: a participant's test refused for a schema error would be lost for
good. Its raw body is kept here with the errors it got; the 4xx answer is unchanged.

What is kept is capped, so that nobody can fill the disk with refused bodies (each up to
MAX_CONTENT_LENGTH): at most QUARANTINE_MAX_PER_STUDY submissions and
QUARANTINE_MAX_BYTES_PER_STUDY bytes per study, and at most QUARANTINE_MAX_PER_CLIENT_DAY
submissions and QUARANTINE_MAX_BYTES_PER_CLIENT_DAY bytes per client address per UTC day. A
refusal beyond a cap, and every submission answered 429 by the rate limit, is only counted, per
UTC day and reason (`not_kept_since`), in `quarantine_counters`.
"""

import logging
from datetime import UTC, datetime, timedelta

from bson import ObjectId
from flask import current_app
from pymongo.errors import DuplicateKeyError

from intact import db, paging
from intact.paging import Page
from intact.participants import counters
from intact.participants.intake import LINK_DEACTIVATED, PARTICIPANT_WITHDRAWN, STUDY_COMPLETED

log = logging.getLogger(__name__)

# Lists leave out the raw bodies (up to MAX_CONTENT_LENGTH each); get_refused returns one whole.
SUMMARY_PROJECTION = {"_id": 0, "raw_body": 0}
COUNTERS = "quarantine_counters"
# Why a refused submission was not kept.
RATE_LIMITED = "rate_limited"  # answered 429: the sender's address was over its refusal limit
STUDY_FULL = "study_full"  # the study's cap was reached
CLIENT_FULL = "client_full"  # the sender's address reached its cap for the day
NOT_KEPT_REASONS = (RATE_LIMITED, STUDY_FULL, CLIENT_FULL)
# Why a kept submission was refused, beyond its own errors (`reason`; absent: the errors alone).
# A submission refused only because its study was closed is valid, and can be accepted into the
# participant's data from the refused-submission page (intact/participants/lifecycle.py).
LATE_REASONS = (LINK_DEACTIVATED, PARTICIPANT_WITHDRAWN, STUDY_COMPLETED)


class RefusedNotFound(LookupError):
    """No quarantined submission has this id."""


def keep_refused(
    study: dict,
    raw_body: bytes,
    content_type: str | None,
    message: str,
    errors: list[dict],
    *,
    client: str | None = None,
    reason: str | None = None,
) -> str | None:
    """Store a refused submission of this study; return its quarantine id, or None over a cap.

    `errors` is a flat list of the client's errors: [{"field": "result.0.sm_rt", "message": ...}].
    `client` is the sender's address, for the per-address cap (None: not from a request).
    `reason`: one of LATE_REASONS when the study was closed (intact/participants/intake.py; the
    errors are then empty unless the submission was invalid too).
    """
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    kept = raw_body[:limit]
    if not _study_has_room(study["study_id"], len(kept)):
        count_not_kept(STUDY_FULL)
        return None
    if client is not None and not _reserve_client_allowance(client, len(kept)):
        count_not_kept(CLIENT_FULL)
        return None
    document = {
        "quarantine_id": str(ObjectId()),
        "study_id": study["study_id"],
        "participant_id": study.get("participant_id"),
        "study_type": study.get("study_type"),
        "followup_number": study.get("followup_number"),
        "received_at": datetime.now(UTC),
        "content_type": content_type or "",
        "message": message,
        "errors": errors,
        # Text as sent; bytes that are not UTF-8 become U+FFFD (such a body was not JSON anyway).
        "raw_body": kept.decode("utf-8", "replace"),
        "size_bytes": len(raw_body),
        "kept_bytes": len(kept),
        "truncated": len(kept) < len(raw_body),
    }
    if reason:
        document["reason"] = reason
    db.quarantine().insert_one(dict(document))
    counters.count_refused(study["study_id"], document["received_at"])
    log.warning(
        "refused submission kept in quarantine",
        extra={"fields": {"quarantine_id": document["quarantine_id"]}},
    )
    return document["quarantine_id"]


def _study_has_room(study_id: str, size: int) -> bool:
    """Whether one more body of `size` bytes stays within the study's caps (what is stored now)."""
    config = current_app.config
    count, total = 0, 0
    fields = {"_id": 0, "kept_bytes": 1, "size_bytes": 1}
    for entry in db.quarantine().find({"study_id": study_id}, fields):
        count += 1
        total += entry.get("kept_bytes", entry.get("size_bytes", 0))
    return (
        count < config["QUARANTINE_MAX_PER_STUDY"]
        and total + size <= config["QUARANTINE_MAX_BYTES_PER_STUDY"]
    )


def _reserve_client_allowance(client: str, size: int) -> bool:
    """Count one more kept body for this address today, if its caps allow; True when reserved.

    One conditional upsert: when the day's counter is at a cap the filter matches nothing and the
    upsert collides with the existing counter (DuplicateKeyError), so two workers cannot both take
    the last place.
    """
    config = current_app.config
    most, most_bytes = (
        config["QUARANTINE_MAX_PER_CLIENT_DAY"],
        config["QUARANTINE_MAX_BYTES_PER_CLIENT_DAY"],
    )
    if most < 1 or size > most_bytes:
        return False
    day = _today()
    counters = db.collection(COUNTERS)
    # Yesterday's addresses are no longer needed: the collection holds about one day of them.
    counters.delete_many({"kind": "client", "day": {"$lt": day}})
    try:
        counters.update_one(
            {
                "_id": f"client:{day}:{client}",
                "count": {"$lt": most},
                "bytes": {"$lte": most_bytes - size},
            },
            {"$inc": {"count": 1, "bytes": size}, "$set": {"kind": "client", "day": day}},
            upsert=True,
        )
    except DuplicateKeyError:
        return False
    return True


def count_not_kept(reason: str) -> None:
    """Count one refused submission that was not kept, for today (one small write, no lookup)."""
    day = _today()
    db.collection(COUNTERS).update_one(
        {"_id": f"not_kept:{day}"},
        {"$inc": {reason: 1}, "$set": {"kind": "not_kept", "day": day}},
        upsert=True,
    )


def not_kept_since(days: int = 30) -> dict[str, int]:
    """How many refused submissions were not kept in the last `days` UTC days, by reason."""
    first = _today(datetime.now(UTC) - timedelta(days=days - 1))
    totals = dict.fromkeys(NOT_KEPT_REASONS, 0)
    for counter in db.collection(COUNTERS).find({"kind": "not_kept", "day": {"$gte": first}}):
        for reason in NOT_KEPT_REASONS:
            totals[reason] += counter.get(reason, 0)
    return totals


def _today(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%d")


def list_refused(
    study_id: str | None = None, *, page: int = 1, per_page: int = paging.DEFAULT_PER_PAGE
) -> Page:
    """One page of the quarantined submissions, newest first, without their raw bodies.

    Only one study's when `study_id` is given.
    """
    query = {"study_id": study_id} if study_id else {}

    def fetch(skip: int, limit: int) -> list[dict]:
        cursor = db.quarantine().find(query, SUMMARY_PROJECTION).sort("received_at", -1)
        return list(cursor.skip(skip).limit(limit))

    return paging.paginate(count_refused(study_id), page, per_page, fetch)


def count_refused(study_id: str | None = None) -> int:
    """How many submissions are in quarantine (for one study when given)."""
    return db.quarantine().count_documents({"study_id": study_id} if study_id else {})


def acceptable(entry: dict) -> bool:
    """Whether a kept submission was refused only because its link was closed (and is whole)."""
    return (
        entry.get("reason") in LATE_REASONS
        and not entry.get("errors")
        and not entry.get("truncated")
    )


def get_refused(quarantine_id: str) -> dict:
    """One quarantined submission with its raw body; raise RefusedNotFound."""
    if not isinstance(quarantine_id, str):
        raise RefusedNotFound(quarantine_id)
    document = db.quarantine().find_one({"quarantine_id": quarantine_id}, {"_id": 0})
    if document is None:
        raise RefusedNotFound(quarantine_id)
    return document
