"""Researchers' notes about a participant ("phoned 12 May, will do it next week").

Free text, dated, by whom, shown on the participant page and in /api/v1. They live in their own
collection, `participant_notes`, which no export, summary or data package reads: notes often name
people and places, and must never reach a de-identified file. Erasing the participant deletes
them (intact/participants/lifecycle.py).
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from bson import ObjectId

from intact import audit, db
from intact.studies import require_participant

COLLECTION = "participant_notes"
MAX_NOTE_CHARS = 5000


class InvalidNote(ValueError):
    """An empty note, or one longer than MAX_NOTE_CHARS; `message` says which."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Note:
    """One note: its text, when (aware UTC) and by whom (the audit log's name for them)."""

    note_id: str
    participant_id: str
    text: str
    created_at: datetime
    author: str

    def as_json(self) -> dict:
        """The note for the API (`created_at` as a datetime: the caller formats it)."""
        return {
            "note_id": self.note_id,
            "participant_id": self.participant_id,
            "text": self.text,
            "created_at": self.created_at,
            "author": self.author,
        }


def clean_text(text) -> str:
    """The note as stored: trimmed, line ends as \\n; InvalidNote when empty or too long."""
    if not isinstance(text, str):
        raise InvalidNote("A note is text.")
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise InvalidNote("Write the note first: it is empty.")
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidNote(
            f"A note is at most {MAX_NOTE_CHARS:,} characters; this one has {len(text):,}."
        )
    return text


def add_note(participant_id: str, text: str) -> Note:
    """Store a note about this (normalised) participant id, by whoever is acting; audited.

    Raises ParticipantNotFound (no study has this participant id) or InvalidNote. The audit entry
    names the participant, not the text.
    """
    text = clean_text(text)
    require_participant(participant_id)
    note = Note(
        note_id=str(ObjectId()),
        participant_id=participant_id,
        text=text,
        created_at=_now(),
        author=audit.actor()["who"],
    )
    db.collection(COLLECTION).insert_one(
        {
            "note_id": note.note_id,
            "participant_id": note.participant_id,
            "text": note.text,
            "created_at": note.created_at,
            "author": note.author,
        }
    )
    audit.record(audit.NOTE_ADDED, participant_id=participant_id, characters=len(text))
    return note


def notes_of(participant_id: str) -> list[Note]:
    """The participant's notes, newest first."""
    found = db.collection(COLLECTION).find({"participant_id": participant_id}, {"_id": 0})
    return [
        Note(
            note_id=doc["note_id"],
            participant_id=doc["participant_id"],
            text=doc["text"],
            created_at=doc["created_at"],
            author=doc.get("author", ""),
        )
        for doc in found.sort([("created_at", -1), ("note_id", -1)])
    ]


def delete_notes_of(participant_id: str) -> int:
    """Delete every note about the participant (erasure only); how many there were."""
    return db.collection(COLLECTION).delete_many({"participant_id": participant_id}).deleted_count


def _now() -> datetime:
    now = datetime.now(UTC)
    # MongoDB keeps milliseconds: what is returned is then exactly what is stored.
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
