"""intact/participants/lifecycle.py and notes.py on every store: the queries erasure, reissue,
withdrawal and acceptance make must work on mongomock, the embedded store and a MongoDB server."""

import json
from datetime import UTC, datetime

import pytest
from conftest import load_sample

from intact import audit, create_app, db, quarantine, results, studies
from intact.participants import lifecycle, notes


@pytest.fixture
def store_app(store_config):
    return create_app(store_config)


def submit(study_id: str, sample: str = "spatial_memory"):
    body = json.dumps(load_sample(sample, study_id)).encode()
    return results.submit(body, "application/json", "127.0.0.1")


def test_the_whole_life_of_a_participant_on_every_store(store_app):
    with store_app.app_context():
        created = studies.create_studies(["P1", "P10"], 1, 1)
        baseline, followup = created[0], created[1]
        submit(baseline["study_id"])
        notes.add_note("P1", "Phoned P1 on Monday.")
        new = lifecycle.reissue(followup["study_id"], "forwarded")
        assert (new["followup_number"], new["replaces"]) == (1, followup["study_id"])
        with pytest.raises(studies.StudyNotFound):
            studies.find_open_study(followup["study_id"])
        with pytest.raises(studies.StudyNotFound):
            submit(followup["study_id"], "delayed_recall")
        (kept,) = db.quarantine().find({"study_id": followup["study_id"]}, {"_id": 0})
        assert quarantine.acceptable(kept)
        test = lifecycle.accept_refused(kept["quarantine_id"])
        assert test["study_id"] == followup["study_id"]
        assert lifecycle.add_studies("P1", 0, 1)[0]["followup_number"] == 2

        withdrawal = lifecycle.withdraw("P1", "consent withdrawn")
        assert withdrawal.studies == 4
        assert lifecycle.withdrawal_of("P1").reason == "consent withdrawn"
        assert lifecycle.withdrawal_of("P10") is None
        with pytest.raises(lifecycle.AlreadyWithdrawn):
            lifecycle.add_studies("P1", 0, 1)

        erasure = lifecycle.erase("P1", "right to erasure")
        assert erasure.deleted == {
            "studies": 4,
            "tests": 2,
            "quarantine": 0,
            "participant_notes": 1,
        }
        assert db.studies().count_documents({"participant_id": "P1"}) == 0
        assert db.tests().count_documents({}) == 0
        assert db.studies().count_documents({"participant_id": "P10"}) == 2
        logged = json.dumps(audit.find_entries(per_page=100).items, default=str)
        assert '"P1"' not in logged and followup["study_id"] not in logged
        assert erasure.participant_hash in logged
        with pytest.raises(studies.ParticipantNotFound):
            lifecycle.erase("P1", "again")


@pytest.mark.parametrize(
    ("reason", "error"),
    [("", "Say why"), ("   ", "Say why"), ("x" * 1001, "at most 1,000")],
)
def test_a_reason_is_needed_and_bounded(app, reason, error):
    with app.test_request_context():
        studies.create_studies(["P1"], 1, 0)
        with pytest.raises(lifecycle.InvalidReason, match=error):
            lifecycle.withdraw("P1", reason)


@pytest.mark.parametrize(
    ("text", "error"), [("", "empty"), (" \n ", "empty"), ("x" * 5001, "at most 5,000")]
)
def test_a_note_is_some_text_and_not_a_book(app, text, error):
    with app.test_request_context():
        studies.create_studies(["P1"], 1, 0)
        with pytest.raises(notes.InvalidNote, match=error):
            notes.add_note("P1", text)


def test_a_note_keeps_its_lines_trimmed(app):
    with app.test_request_context():
        studies.create_studies(["P1"], 1, 0)
        note = notes.add_note("P1", "  first line\r\nsecond line  ")
        assert note.text == "first line\nsecond line"
        assert notes.notes_of("P1") == [note]
        assert note.created_at <= datetime.now(UTC)


def test_mentions_are_whole_words_only(app):
    """Erasing P1 leaves P10 and P1x alone, in audit details as everywhere."""
    with app.test_request_context():
        studies.create_studies(["P1", "P10"], 1, 0)
        audit.record(audit.NOTE_ADDED, participant_id="P10", text="P10 and P1x, not P1.")
        lifecycle.erase("P1", "asked")
        (entry,) = audit.find_entries(action=audit.NOTE_ADDED).items
    assert entry["details"]["participant_id"] == "P10"
    assert entry["details"]["text"].startswith("P10 and P1x, not [erased participant ")


def test_a_baseline_reissued_twice_keeps_one_chain(app):
    with app.test_request_context():
        (first,) = studies.create_studies(["P1"], 1, 0)
        second = lifecycle.reissue(first["study_id"], "lost")
        third = lifecycle.reissue(second["study_id"], "lost again")
        with pytest.raises(lifecycle.AlreadyDeactivated, match=second["study_id"]):
            lifecycle.reissue(first["study_id"], "once more")
        open_links = [s for s in db.studies().find({}) if not studies.closed_reason(s)]
    assert [s["study_id"] for s in open_links] == [third["study_id"]]
    assert third["replaces"] == second["study_id"]
