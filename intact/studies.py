"""Studies: creating batches of study links, lookup by id, and the run-state timestamps."""

import logging
import secrets
import string
import uuid
from datetime import UTC, datetime

from flask import current_app
from pymongo.errors import BulkWriteError

from intact import cooperative, db, participant_lists
from intact.identifiers import normalise_study_id
from intact.offensive_words import contains_offensive_word
from intact.participant_lists import InvalidBatch
from intact.participants.followups import number_new_studies

log = logging.getLogger(__name__)

STUDY_TYPES = ("baseline", "followup")
# A study document's fields (docs/architecture.md), in the order the studies export lists them.
STUDY_FIELDS = (
    "study_id",
    "participant_id",
    "study_type",
    "followup_number",
    "url",
    "created_at",
    "first_opened_at",
    "last_seen_at",
    "batch_id",
    "withdrawn_at",
    "deactivated_at",
    "replaces",
)
STUDY_ID_ALPHABET = string.ascii_lowercase
# insert_many in chunks: one round trip per chunk, and a bounded request size on MongoDB.
INSERT_CHUNK = 1000
DUPLICATE_KEY = 11000
MAX_ID_DRAWS = 10
# Another creation for the same participant took the follow-up numbers this one drew: number again.
MAX_NUMBERING_ATTEMPTS = 5

# What closes a link (intact/participants/lifecycle.py sets them): the participant withdrew, or the
# link was deactivated (and usually reissued). A closed link answers as an unknown id, and what
# still arrives for it is kept in the refused submissions with the reason below.
WITHDRAWN_AT = "withdrawn_at"
DEACTIVATED_AT = "deactivated_at"
LINK_DEACTIVATED = "link deactivated"
PARTICIPANT_WITHDRAWN = "participant withdrawn"


class StudyNotFound(LookupError):
    """No study has this id."""


class ParticipantNotFound(LookupError):
    """No study belongs to this participant id (a typo, another case, another spelling)."""

    def __init__(self, participant_id):
        super().__init__(participant_id)
        self.participant_id = participant_id
        self.message = f'No study belongs to a participant with the id "{participant_id}".'


def require_participant(participant_id: str) -> None:
    """Raise ParticipantNotFound unless some study belongs to this (normalised) participant id.

    A filter that matches nobody must say so: a header-only file looks like a participant who
    did nothing. Callers pass the id through identifiers.normalise_participant_id first.
    """
    if db.studies().find_one({"participant_id": participant_id}, {"_id": 1}) is None:
        raise ParticipantNotFound(participant_id)


def find_study(study_id) -> dict:
    """The study with this id as typed ("Abcdefgh " is abcdefgh), without the database's _id.

    Raise StudyNotFound. The id is normalised by identifiers.normalise_study_id.
    """
    study_id = normalise_study_id(study_id)
    if not isinstance(study_id, str) or not study_id:
        raise StudyNotFound(study_id)
    study = db.studies().find_one({"study_id": study_id}, {"_id": 0})
    if study is None:
        raise StudyNotFound(study_id)
    return study


def closed_reason(study: dict) -> str | None:
    """Why this study's link takes no more results ("link deactivated", "participant withdrawn").

    None while the link is open.
    """
    if study.get(DEACTIVATED_AT):
        return LINK_DEACTIVATED
    if study.get(WITHDRAWN_AT):
        return PARTICIPANT_WITHDRAWN
    return None


def find_open_study(study_id) -> dict:
    """The study with this id as find_study gives it, if its link is open; else StudyNotFound.

    What a participant's browser may use: a deactivated link, or one of a withdrawn participant,
    answers exactly as an id that never existed.
    """
    study = find_study(study_id)
    if closed_reason(study):
        raise StudyNotFound(study["study_id"])
    return study


def record_activity(study_id: str, *, opened: bool = False, now: datetime | None = None) -> None:
    """Remember that the study was seen now; `opened` also sets first_opened_at the first time."""
    now = now or datetime.now(UTC)
    update = {"$set": {"last_seen_at": now}}
    if opened:
        # $min keeps the earliest value and sets the field when it is missing.
        update["$min"] = {"first_opened_at": now}
    db.studies().update_one({"study_id": study_id}, update)


def create_studies(participant_ids, baselines=1, followups=1) -> list[dict]:
    """Create baselines + followups studies per participant, all or nothing; return them.

    Each study is {study_id, participant_id, url, study_type, created_at, batch_id}, in creation
    order: participant by participant, baselines first; follow-ups also carry followup_number
    (1, 2, … per participant, after any follow-up the participant has already). Raise
    InvalidBatch for bad input.
    """
    participant_ids = _check_batch(list(participant_ids), baselines, followups)
    types = ["baseline"] * baselines + ["followup"] * followups
    return new_studies([(pid, study_type) for pid in participant_ids for study_type in types])


def new_studies(wanted: list[tuple[str, str]], **fields) -> list[dict]:
    """Store one new study per (participant_id, study_type), all or nothing; return them.

    The ids are checked already. `fields` are further fields every new study gets (the study a
    reissued link replaces, for example); a `followup_number` there is kept, else follow-ups are
    numbered after the participant's last.
    """
    now = datetime.now(UTC)
    # MongoDB keeps milliseconds: what is returned is then exactly what is stored.
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    batch_id = uuid.uuid4().hex
    url_prefix = current_app.config["STUDY_URL_PREFIX"].rstrip("/")
    length = current_app.config["STUDY_ID_LENGTH"]
    drawn = set()
    studies = []
    for participant_id, study_type in wanted:
        study_id = new_study_id(length, avoid=drawn)
        drawn.add(study_id)
        studies.append(
            {
                "study_id": study_id,
                "participant_id": participant_id,
                "url": f"{url_prefix}/{study_id}",
                "study_type": study_type,
                "created_at": now,
                "batch_id": batch_id,
                **fields,
            }
        )
    for attempt in range(1, MAX_NUMBERING_ATTEMPTS + 1):
        if "followup_number" not in fields:
            number_new_studies(studies)
        try:
            for start in range(0, len(studies), INSERT_CHUNK):
                # A large batch takes seconds: submissions arriving meanwhile run between chunks.
                cooperative.pause()
                _insert_with_fresh_ids(studies[start : start + INSERT_CHUNK], url_prefix, length)
        except NumberTaken:
            _delete_batch(batch_id)
            if attempt == MAX_NUMBERING_ATTEMPTS or "followup_number" in fields:
                raise
            log.info("follow-up numbers taken by a concurrent creation; numbering again")
            continue
        except BaseException:
            # All or nothing: whatever reached the database before the failure goes again.
            _delete_batch(batch_id)
            raise
        break
    log.info("created %d studies in batch %s", len(studies), batch_id)
    return studies


class NumberTaken(RuntimeError):
    """Another study of the participant holds this follow-up number (a concurrent creation)."""


def _check_batch(participant_ids: list, baselines, followups) -> list[str]:
    """The normalised participant ids, when the batch can be created; else InvalidBatch."""
    for name, count in (
        ("baselines_per_participant", baselines),
        ("followups_per_participant", followups),
    ):
        if isinstance(count, bool) or not isinstance(count, int):
            raise InvalidBatch(f"{name} must be a whole number, got {count!r}.")
    if baselines < 0 or followups < 0:
        raise InvalidBatch(
            "baselines_per_participant and followups_per_participant must be nonnegative."
        )
    if baselines == 0 and followups == 0:
        raise InvalidBatch(
            "At least one of baselines_per_participant and followups_per_participant must be "
            "nonzero."
        )
    if not participant_ids:
        raise InvalidBatch("Received empty participant list.")
    participant_ids = participant_lists.check(enumerate(participant_ids, start=1))
    total = len(participant_ids) * (baselines + followups)
    limit = current_app.config["MAX_STUDIES_PER_REQUEST"]
    if total > limit:
        raise InvalidBatch(
            f"This would create {total:,} studies; at most {limit:,} are created per request "
            "(MAX_STUDIES_PER_REQUEST). Split the participant list."
        )
    return participant_ids


def new_study_id(length: int, avoid=frozenset()) -> str:
    """A random study id of lowercase letters, free of offensive words and not in `avoid`."""
    while True:
        candidate = "".join(secrets.choice(STUDY_ID_ALPHABET) for _ in range(length))
        if candidate not in avoid and not contains_offensive_word(candidate):
            return candidate


def _insert_with_fresh_ids(studies: list[dict], url_prefix: str, length: int) -> None:
    """Insert the studies; give any whose id is already taken a new id and insert it again."""
    pending = studies
    for _ in range(MAX_ID_DRAWS):
        try:
            # Copies: insert_many adds _id to what it is given, and callers get no _id.
            db.studies().insert_many([dict(study) for study in pending], ordered=False)
            return
        except BulkWriteError as error:
            errors = error.details.get("writeErrors", [])
            if not errors or any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            pending = [pending[e["index"]] for e in errors]
            taken = set(db.studies().distinct("study_id", {"study_id": {"$in": _ids(pending)}}))
            if any(study["study_id"] not in taken for study in pending):
                # A free id was refused: the follow-up number is what another study holds.
                raise NumberTaken("a follow-up number was taken meanwhile") from error
            # Another batch (or an earlier one) holds these ids: the unique index refused them.
            log.info("%d study ids were taken already; drawing new ones", len(pending))
            for study in pending:
                study["study_id"] = new_study_id(length)
                study["url"] = f"{url_prefix}/{study['study_id']}"
    raise RuntimeError(f"Could not draw free study ids after {MAX_ID_DRAWS} attempts.")


def _ids(studies: list[dict]) -> list[str]:
    return [study["study_id"] for study in studies]


def _delete_batch(batch_id: str) -> None:
    try:
        db.studies().delete_many({"batch_id": batch_id})
    except Exception:
        log.exception("could not remove the studies of failed batch %s", batch_id)
