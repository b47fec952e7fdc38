"""What happens to a participant after their links are made: more studies, reissued links,
withdrawal, erasure, and accepting a result that arrived after its link was closed.

Every action names who did it and why (`reason`) in the audit log. Nothing a participant sent is
deleted, except by `erase`, which only an admin may ask for (Permission.ERASE_PARTICIPANTS):

- `add_studies`: more baselines or follow-ups for an existing participant; follow-up numbers
  continue after the participant's highest (intact/participants/followups.py).
- `reissue`: a new link of the same type and follow-up number (`replaces` names the old study,
  which gets `deactivated_at`, `deactivation_reason` and `replaced_by`). The old id then answers
  as an unknown one; a result that still arrives for it is kept in the refused submissions with
  the reason "link deactivated" (intact/results.py), and `accept_refused` stores it.
- `withdraw`: every study of the participant gets `withdrawn_at` and `withdrawal_reason`; their
  links close the same way; the data stay, and exports say `withdrawn`.
- `erase`: deletes every study, test, refused submission and note of the participant, and turns
  every earlier audit entry naming them into one naming `participant_hash` instead; the erasure's
  own entry keeps who, when, why and the counts deleted. The hash is HMAC-SHA-256 of the
  participant id under PSEUDONYM_KEY (when set) or SECRET_KEY, so the same participant always
  gives the same hash (two erasure entries can be matched) but it cannot be reversed without the
  key. Backups written before the erasure still hold the data (README "Erasure and backups").
"""

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app

from intact import audit, db, quarantine, results, studies
from intact.participants import counters, notes
from intact.participants.followups import FOLLOWUP, NUMBER_FIELD, label
from intact.studies import DEACTIVATED_AT, WITHDRAWN_AT, ParticipantNotFound, StudyNotFound

log = logging.getLogger(__name__)

REPLACES = "replaces"
REPLACED_BY = "replaced_by"
DEACTIVATION_REASON = "deactivation_reason"
WITHDRAWAL_REASON = "withdrawal_reason"
MAX_REASON_CHARS = 1000
# The erasure entry's name for the participant, in place of their id.
HASH_FIELD = "participant_hash"
# Collections holding a participant's own documents, in the order erasure deletes them: the
# studies first, so that no submission can be stored for them meanwhile (their links answer as
# unknown ids at once). An erasure cut short can be asked for again: what is left still names the
# participant, or one of the study ids the erasure read first.
ERASED_COLLECTIONS = ("studies", "tests", "quarantine", notes.COLLECTION)


class LifecycleRefused(Exception):
    """An action that cannot be done as asked; `message` says why (a 4xx for the views)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidReason(LifecycleRefused):
    """No reason given where one is needed, or a reason longer than MAX_REASON_CHARS."""


class AlreadyWithdrawn(LifecycleRefused):
    """The participant withdrew already: no new links, no second withdrawal."""


class AlreadyDeactivated(LifecycleRefused):
    """This link was deactivated already (and replaced by `replaced_by`, when it was)."""


class NotAcceptable(LifecycleRefused):
    """A refused submission that cannot be stored: it was refused for its own errors."""


def clean_reason(reason, *, required: bool = True) -> str:
    """The reason as stored: trimmed; InvalidReason when missing (and required) or too long."""
    reason = reason.strip() if isinstance(reason, str) else ""
    if required and not reason:
        raise InvalidReason("Say why: the reason goes into the audit log.")
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidReason(f"The reason is at most {MAX_REASON_CHARS:,} characters.")
    return reason


@dataclass(frozen=True)
class Withdrawal:
    """A participant's withdrawal: when (aware UTC), why, and how many studies it closed."""

    participant_id: str
    withdrawn_at: datetime
    reason: str
    studies: int = 0


@dataclass(frozen=True)
class Erasure:
    """What an erasure deleted ({collection: documents}) and the hash that names it in the log."""

    participant_hash: str
    deleted: dict

    @property
    def total(self) -> int:
        """Documents deleted in all."""
        return sum(self.deleted.values())


def participant_hash(participant_id: str) -> str:
    """HMAC-SHA-256 (hex) of the participant id under PSEUDONYM_KEY, else SECRET_KEY."""
    key = current_app.config.get("PSEUDONYM_KEY") or current_app.config["SECRET_KEY"]
    return hmac.new(key.encode(), participant_id.encode(), hashlib.sha256).hexdigest()


def withdrawal_of(participant_id: str) -> Withdrawal | None:
    """The participant's withdrawal, or None while they take part."""
    study = db.studies().find_one(
        {"participant_id": participant_id, WITHDRAWN_AT: {"$ne": None}},
        {"_id": 0, WITHDRAWN_AT: 1, WITHDRAWAL_REASON: 1},
    )
    if study is None:
        return None
    return Withdrawal(participant_id, study[WITHDRAWN_AT], study.get(WITHDRAWAL_REASON, ""))


def _refuse_if_withdrawn(participant_id: str) -> None:
    withdrawal = withdrawal_of(participant_id)
    if withdrawal is not None:
        raise AlreadyWithdrawn(
            f"Participant {participant_id} withdrew on {withdrawal.withdrawn_at:%Y-%m-%d}: "
            "their links stay closed."
        )


def add_studies(
    participant_id: str, baselines: int = 0, followups: int = 1, reason: str = ""
) -> list[dict]:
    """Create more studies for an existing participant (follow-up numbers continue); audited.

    Raises ParticipantNotFound, AlreadyWithdrawn, InvalidReason, or studies.InvalidBatch (counts
    out of range).
    """
    reason = clean_reason(reason, required=False)
    studies.require_participant(participant_id)
    _refuse_if_withdrawn(participant_id)
    created = studies.create_studies([participant_id], baselines, followups)
    audit.record(
        audit.STUDIES_ADDED,
        count=len(created),
        participant_id=participant_id,
        studies=[_label(study) for study in created],
        reason=reason,
    )
    return created


def _label(study: dict) -> str:
    return label(study.get("study_type"), study.get(NUMBER_FIELD))


def reissue(study_id: str, reason: str) -> dict:
    """Deactivate a study's link and make a new one of the same type and number; the new study.

    Raises StudyNotFound, AlreadyDeactivated, AlreadyWithdrawn or InvalidReason. The old link
    answers as an unknown id from then on; its tests stay where they are.
    """
    reason = clean_reason(reason)
    old = studies.find_study(study_id)
    if old.get(DEACTIVATED_AT):
        raise AlreadyDeactivated(_deactivated_message(old))
    _refuse_if_withdrawn(old["participant_id"])
    fields = {REPLACES: old["study_id"]}
    if old.get("study_type") == FOLLOWUP and old.get(NUMBER_FIELD):
        fields[NUMBER_FIELD] = old[NUMBER_FIELD]
    try:
        (new,) = studies.new_studies([(old["participant_id"], old["study_type"])], **fields)
    except studies.NumberTaken:
        # Another reissue of the same link won the unique (participant, number, replaces) index.
        raise AlreadyDeactivated(_deactivated_message(studies.find_study(study_id))) from None
    closed = db.studies().update_one(
        {"study_id": old["study_id"], DEACTIVATED_AT: None},
        {
            "$set": {
                DEACTIVATED_AT: new["created_at"],
                DEACTIVATION_REASON: reason,
                REPLACED_BY: new["study_id"],
            }
        },
    )
    if closed.modified_count != 1:
        # A concurrent reissue (of a baseline: no number to collide on) closed it first.
        db.studies().delete_one({"study_id": new["study_id"]})
        raise AlreadyDeactivated(_deactivated_message(studies.find_study(study_id)))
    audit.record(
        audit.LINK_REISSUED,
        participant_id=old["participant_id"],
        study=_label(old),
        deactivated_study_id=old["study_id"],
        reason=reason,
    )
    return new


def _deactivated_message(study: dict) -> str:
    replaced_by = study.get(REPLACED_BY)
    also = f" and replaced by {replaced_by}" if replaced_by else ""
    return f"The link {study['study_id']} was deactivated already{also}."


def withdraw(participant_id: str, reason: str) -> Withdrawal:
    """Mark the participant withdrawn (now, with the reason) and close their links; audited.

    Their data stay. Raises ParticipantNotFound, AlreadyWithdrawn or InvalidReason.
    """
    reason = clean_reason(reason)
    studies.require_participant(participant_id)
    _refuse_if_withdrawn(participant_id)
    now = _now()
    changed = db.studies().update_many(
        {"participant_id": participant_id},
        {"$set": {WITHDRAWN_AT: now, WITHDRAWAL_REASON: reason}},
    )
    audit.record(
        audit.PARTICIPANT_WITHDRAWN,
        count=changed.modified_count,
        participant_id=participant_id,
        reason=reason,
    )
    return Withdrawal(participant_id, now, reason, changed.modified_count)


def erase(participant_id: str, reason: str) -> Erasure:
    """Delete everything stored about the participant; the audit log keeps only a keyed hash.

    Raises ParticipantNotFound when nothing names the participant, or InvalidReason. Idempotent in
    effect: an erasure cut short can be asked for again.
    """
    reason = clean_reason(reason)
    study_ids = db.studies().distinct("study_id", {"participant_id": participant_id})
    own = {"$or": [{"participant_id": participant_id}, {"study_id": {"$in": study_ids}}]}
    if not study_ids and not any(
        db.collection(name).find_one({"participant_id": participant_id}, {"_id": 1})
        for name in ERASED_COLLECTIONS
    ):
        raise ParticipantNotFound(participant_id)
    deleted = {}
    for name in ERASED_COLLECTIONS:
        query = own if name in ("tests", "quarantine") else {"participant_id": participant_id}
        deleted[name] = db.collection(name).delete_many(query).deleted_count
    # A submission that found its study just before the studies went may have been stored since.
    for name in ("tests", "quarantine"):
        deleted[name] += db.collection(name).delete_many(own).deleted_count
    hashed = participant_hash(participant_id)
    rewritten = _rewrite_audit_entries(participant_id, study_ids, hashed)
    audit.record(
        audit.PARTICIPANT_ERASED,
        count=sum(deleted.values()),
        reason=_Mentions(participant_id, study_ids, hashed).scrub(reason),
        deleted=deleted,
        audit_entries_rewritten=rewritten,
        **{HASH_FIELD: hashed},
    )
    log.info("erased a participant: %d documents", sum(deleted.values()))
    return Erasure(hashed, deleted)


def _rewrite_audit_entries(participant_id: str, study_ids: list[str], hashed: str) -> int:
    """Earlier audit entries naming the participant (or one of their study ids) name the hash
    instead; how many changed."""
    mentions = _Mentions(participant_id, study_ids, hashed)
    log_entries = db.collection(audit.COLLECTION)
    naming = [
        (entry["_id"], mentions.scrub(entry.get("details")))
        for entry in db.stream(audit.COLLECTION)
        if mentions.found_in(entry.get("details"))
    ]
    for entry_id, details in naming:
        log_entries.update_one({"_id": entry_id}, {"$set": {"details": details}})
    return len(naming)


class _Mentions:
    """Mentions of an erased participant in stored values: their id and their study ids, each
    as a whole word ("P1" in "phoned P1", not in "P10")."""

    def __init__(self, participant_id: str, study_ids: list[str], hashed: str):
        self.participant_id = participant_id
        self.hashed = hashed
        self.study_ids = set(study_ids)
        terms = sorted({participant_id, *study_ids}, key=len, reverse=True)
        self.pattern = re.compile(
            r"(?<!\w)(?:" + "|".join(re.escape(term) for term in terms) + r")(?!\w)"
        )

    def _replacement(self, match: re.Match) -> str:
        if match.group(0) in self.study_ids and match.group(0) != self.participant_id:
            return "[erased study]"
        return f"[erased participant {self.hashed[:12]}]"

    def found_in(self, value) -> bool:
        """Whether `value` (text, or a structure holding text) mentions the participant."""
        if isinstance(value, str):
            return self.pattern.search(value) is not None
        if isinstance(value, dict):
            return any(self.found_in(item) for item in value.values())
        if isinstance(value, list | tuple):
            return any(self.found_in(item) for item in value)
        return False

    def scrub(self, value):
        """`value` with every mention replaced; a `participant_id` field becomes HASH_FIELD."""
        if isinstance(value, str):
            return self.pattern.sub(self._replacement, value)
        if isinstance(value, dict):
            scrubbed = {key: self.scrub(item) for key, item in value.items()}
            if value.get("participant_id") == self.participant_id:
                # Named by the hash field, as in the erasure's own entry.
                del scrubbed["participant_id"]
                scrubbed[HASH_FIELD] = self.hashed
            return scrubbed
        if isinstance(value, list | tuple):
            return [self.scrub(item) for item in value]
        return value


def accept_refused(quarantine_id: str) -> dict:
    """Store a submission refused only because its link was closed; the stored test.

    The test goes to the study it was sent for (deactivated or not), as if it had been accepted
    when it arrived; the refused submission is then removed. Raises quarantine.RefusedNotFound or
    NotAcceptable (refused for its own errors, cut short, or its study erased).
    """
    entry = quarantine.get_refused(quarantine_id)
    if not quarantine.acceptable(entry):
        raise NotAcceptable(
            "Only a whole submission refused because its link was closed can be accepted; "
            "this one was refused for its own errors."
        )
    try:
        study = studies.find_study(entry["study_id"])
        body = results.parse_body(entry["raw_body"].encode("utf-8"))
        submission = results.validate_submission(body)
    except StudyNotFound:
        raise NotAcceptable("The study this submission was sent for no longer exists.") from None
    except results.SubmissionRefused as refusal:
        raise NotAcceptable(f"It cannot be stored: {refusal.message}") from None
    # Stored first, removed second: a failure in between leaves it in both, never in neither
    # (accepting it again finds the stored test by its fingerprint).
    test, created = results.store_test(study, submission)
    if created:
        counters.count_test(test)
    removed = db.quarantine().delete_one({"quarantine_id": quarantine_id}).deleted_count
    if removed:
        counters.count_refused(entry["study_id"], entry["received_at"], accepted=True)
    audit.record(
        audit.REFUSED_ACCEPTED,
        participant_id=study.get("participant_id"),
        study=_label(study),
        test_type=test.get("test_type"),
        refused_because=entry.get("reason"),
    )
    return test


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
