"""Studies: lookup by id and the run-state timestamps the front-end's visits leave behind."""

from datetime import UTC, datetime

from intact import db

STUDY_TYPES = ("baseline", "followup")


class StudyNotFound(LookupError):
    """No study has this id."""


def find_study(study_id) -> dict:
    """The study with this id, without the database's own _id; raise StudyNotFound."""
    if not isinstance(study_id, str) or not study_id:
        raise StudyNotFound(study_id)
    study = db.studies().find_one({"study_id": study_id}, {"_id": 0})
    if study is None:
        raise StudyNotFound(study_id)
    return study


def record_activity(study_id: str, *, opened: bool = False, now: datetime | None = None) -> None:
    """Remember that the study was seen now; `opened` also sets first_opened_at the first time."""
    now = now or datetime.now(UTC)
    update = {"$set": {"last_seen_at": now}}
    if opened:
        # $min keeps the earliest value and sets the field when it is missing.
        update["$min"] = {"first_opened_at": now}
    db.studies().update_one({"study_id": study_id}, update)
