"""Studies: creating batches of study links, lookup by id, and the run-state timestamps."""

import csv
import logging
import re
import secrets
import string
import unicodedata
import uuid
from datetime import UTC, datetime
from pathlib import PurePath

from flask import current_app
from pymongo.errors import BulkWriteError

from intact import db
from intact.offensive_words import contains_offensive_word
from intact.participants import followups

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
)
STUDY_ID_ALPHABET = string.ascii_lowercase
MAX_PARTICIPANT_ID_LENGTH = 64
PARTICIPANT_IDS_HEADER = "participant_id"
PARTICIPANT_IDS_FILE_TYPES = (".txt", ".csv")
# insert_many in chunks: one round trip per chunk, and a bounded request size on MongoDB.
INSERT_CHUNK = 1000
DUPLICATE_KEY = 11000
MAX_ID_DRAWS = 10
# Another creation for the same participant took the follow-up numbers this one drew: number again.
MAX_NUMBERING_ATTEMPTS = 5
LINES_NAMED_IN_MESSAGE = 20


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


def is_participant_id(value) -> bool:
    """True for 1 to MAX_PARTICIPANT_ID_LENGTH letters or digits, in any script.

    The original backend's rule (str.isalnum), kept so that its users' ids ("Müller1") still work.
    """
    return (
        isinstance(value, str) and 0 < len(value) <= MAX_PARTICIPANT_ID_LENGTH and value.isalnum()
    )


def normalise_participant_id(value):
    """NFC form of an id: "ü" typed as one character or as u + umlaut is the same participant."""
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


class InvalidBatch(ValueError):
    """A batch of studies that cannot be created; nothing was stored."""

    def __init__(self, message: str, lines: list[int] | None = None):
        super().__init__(message)
        self.message = message
        self.lines = lines or []


def parse_participant_ids(text: str) -> list[str]:
    """Participant ids from text: one per line, or a one-column CSV with a participant_id header.

    Blank lines and surrounding whitespace are ignored; CRLF, LF and a UTF-8 BOM are fine.
    Raise InvalidBatch naming every line that does not hold exactly one valid id.
    """
    ids, bad_lines = [], []
    header_allowed = True
    # Only real line breaks: str.splitlines would also split on form feeds and U+2028, which
    # would shift the line numbers the researcher is told to look at.
    for number, line in enumerate(re.split(r"\r\n|\r|\n", text.removeprefix("\ufeff")), start=1):
        cells = _csv_cells(line)
        if not cells:
            continue
        is_header = len(cells) == 1 and cells[0].lower() == PARTICIPANT_IDS_HEADER
        if header_allowed and is_header:
            header_allowed = False
            continue
        header_allowed = False
        candidate = normalise_participant_id(cells[0]) if len(cells) == 1 else None
        if is_participant_id(candidate):
            ids.append(candidate)
        else:
            bad_lines.append(number)
    if bad_lines:
        raise _invalid_ids(bad_lines, "line", "lines")
    return ids


def _csv_cells(line: str) -> list[str]:
    """The line's cells as a CSV record, stripped, without the empty ones a spreadsheet appends."""
    cells = [cell.strip() for cell in next(csv.reader([line]), [])]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _invalid_ids(numbers: list[int], one: str, many: str) -> InvalidBatch:
    named = ", ".join(str(n) for n in numbers[:LINES_NAMED_IN_MESSAGE])
    if len(numbers) > LINES_NAMED_IN_MESSAGE:
        named += f" and {len(numbers) - LINES_NAMED_IN_MESSAGE} more"
    return InvalidBatch(
        "Non-alphanumeric participant IDs are not allowed: each id must be 1 to "
        f"{MAX_PARTICIPANT_ID_LENGTH} letters or digits, one per line. "
        f"Check {many if len(numbers) > 1 else one} {named}.",
        lines=numbers,
    )


def read_participant_ids_file(data: bytes, filename: str) -> list[str]:
    """Participant ids from an uploaded .txt or .csv file (UTF-8); raise InvalidBatch."""
    suffix = PurePath(filename or "").suffix.lower()
    if suffix not in PARTICIPANT_IDS_FILE_TYPES:
        raise InvalidBatch(
            f"The participant ids file must be a .txt or .csv file, got {filename or 'no name'!r}."
        )
    return decode_participant_ids(data)


def decode_participant_ids(data: bytes) -> list[str]:
    """Participant ids from UTF-8 bytes (a BOM is fine); raise InvalidBatch."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidBatch(
            f"The participant ids are not UTF-8 text (byte {error.start + 1} cannot be read): "
            "save the file as plain text or CSV in UTF-8."
        ) from None
    if "\x00" in text:
        raise InvalidBatch("The participant ids file holds binary data, not text.")
    return parse_participant_ids(text)


def create_studies(participant_ids, baselines=1, followups=1) -> list[dict]:
    """Create baselines + followups studies per participant, all or nothing; return them.

    Each study is {study_id, participant_id, url, study_type, created_at, batch_id}, in creation
    order: participant by participant, baselines first; follow-ups also carry followup_number
    (1, 2, … per participant, after any follow-up the participant has already). Raise
    InvalidBatch for bad input.
    """
    participant_ids = list(participant_ids)
    _check_batch(participant_ids, baselines, followups)
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
            followups.number_new_studies(studies)
        try:
            for start in range(0, len(studies), INSERT_CHUNK):
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


def _check_batch(participant_ids: list, baselines, followups) -> None:
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
    participant_ids = [normalise_participant_id(p) for p in participant_ids]
    bad = [
        position
        for position, participant_id in enumerate(participant_ids, start=1)
        if not is_participant_id(participant_id)
    ]
    if bad:
        raise _invalid_ids(bad, "entry", "entries")
    total = len(participant_ids) * (baselines + followups)
    limit = current_app.config["MAX_STUDIES_PER_REQUEST"]
    if total > limit:
        raise InvalidBatch(
            f"This would create {total:,} studies; at most {limit:,} are created per request "
            "(MAX_STUDIES_PER_REQUEST). Split the participant list."
        )


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
