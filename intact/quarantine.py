"""Refused submissions that named a known study, kept apart so a researcher can recover them.

The front-end never retries: a participant's test refused for a schema error would be lost for
good. Its raw body is kept here with the errors it got; the 4xx answer is unchanged.
"""

import logging
from datetime import UTC, datetime

from bson import ObjectId
from flask import current_app

from intact import db, paging
from intact.paging import Page

log = logging.getLogger(__name__)

# Lists leave out the raw bodies (up to MAX_CONTENT_LENGTH each); get_refused returns one whole.
SUMMARY_PROJECTION = {"_id": 0, "raw_body": 0}


class RefusedNotFound(LookupError):
    """No quarantined submission has this id."""


def keep_refused(
    study: dict, raw_body: bytes, content_type: str | None, message: str, errors: list[dict]
) -> str:
    """Store a refused submission of this study; return its quarantine id.

    `errors` is a flat list of the client's errors: [{"field": "result.0.sm_rt", "message": ...}].
    """
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    kept = raw_body[:limit]
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
        "truncated": len(kept) < len(raw_body),
    }
    db.quarantine().insert_one(dict(document))
    log.warning(
        "refused submission kept in quarantine",
        extra={"fields": {"quarantine_id": document["quarantine_id"]}},
    )
    return document["quarantine_id"]


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


def get_refused(quarantine_id: str) -> dict:
    """One quarantined submission with its raw body; raise RefusedNotFound."""
    if not isinstance(quarantine_id, str):
        raise RefusedNotFound(quarantine_id)
    document = db.quarantine().find_one({"quarantine_id": quarantine_id}, {"_id": 0})
    if document is None:
        raise RefusedNotFound(quarantine_id)
    return document
