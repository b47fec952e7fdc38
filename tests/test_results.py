"""Storing submissions: fingerprints, result rules, the insert-once loop, error wording."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from conftest import load_sample
from marshmallow import ValidationError
from pymongo.errors import DuplicateKeyError

from intact import create_app, db, results
from intact.testtypes import UNCLASSIFIED
from intact.timestamps import utc_iso

STARTED = datetime(2026, 11, 20, 14, 3, 7, 512000, tzinfo=UTC)


def test_fingerprint_ignores_key_order_and_time_zone():
    a = results.compute_fingerprint("s", "delayed_recall", STARTED, {"dr_rt": 1, "dr_score": 0})
    b = results.compute_fingerprint(
        "s",
        "delayed_recall",
        STARTED.astimezone(timezone(timedelta(hours=2))),
        {"dr_score": 0, "dr_rt": 1},
    )
    assert a == b
    assert len(a) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"study_id": "t"},
        {"test_type": "unclassified"},
        {"time_started": STARTED + timedelta(milliseconds=1)},
        {"result": {"dr_rt": 1, "dr_score": 1}},
    ],
)
def test_fingerprint_changes_with_each_part(change):
    parts = {
        "study_id": "s",
        "test_type": "delayed_recall",
        "time_started": STARTED,
        "result": {"dr_rt": 1, "dr_score": 0},
    }
    assert results.compute_fingerprint(**parts) != results.compute_fingerprint(
        **{**parts, **change}
    )


def test_utc_iso_matches_the_browser():
    assert utc_iso(STARTED) == "2026-11-20T14:03:07.512Z"


@pytest.mark.parametrize(
    ("result", "claimed", "expected_type"),
    [
        ([], None, UNCLASSIFIED),
        ([], UNCLASSIFIED, UNCLASSIFIED),
        ([], "choice_reaction_time", "choice_reaction_time"),
        ({"dr_rt": 1, "dr_score": 0}, None, "delayed_recall"),
        ({"dr_rt": 1, "dr_score": 0}, "delayed_recall", "delayed_recall"),
    ],
)
def test_load_result_types(result, claimed, expected_type):
    assert results.load_result(result, claimed)[0] == expected_type


@pytest.mark.parametrize(
    ("result", "claimed", "complaint"),
    [
        ([], "delayed_recall", "one object"),
        ([{"sm_rt": 1, "sm_correct": True}], UNCLASSIFIED, "does not match"),
        ({"dr_rt": 1, "dr_score": 0}, "immediate_recall", "does not match"),
    ],
)
def test_load_result_refuses_a_claim_that_disagrees(result, claimed, complaint):
    with pytest.raises(ValidationError, match=complaint) as raised:
        results.load_result(result, claimed)
    assert raised.value.field_name == "test_type"


def test_flatten_errors_and_message_name_every_field():
    errors = {"result": {0: {"sm_rt": ["Not a whole number."]}}, "device_info": ["Missing."]}
    assert results.flatten_errors(errors) == [
        {"field": "result.0.sm_rt", "message": "Not a whole number."},
        {"field": "device_info", "message": "Missing."},
    ]
    assert results.refusal_message(errors) == (
        "Invalid submission: result.0.sm_rt: Not a whole number.; device_info: Missing."
    )


def test_long_error_lists_are_summarised():
    errors = {f"field{n}": ["Bad."] for n in range(8)}
    assert results.refusal_message(errors).endswith("(and 3 more)")


def test_validate_submission_separates_extra_fields():
    body = load_sample("spatial_memory", "abcdefgh")
    body["screen"] = "390x844"
    submission = results.validate_submission(body)
    assert submission["extra"] == {"screen": "390x844"}
    assert submission["test_type"] == "spatial_memory"
    assert submission["time_started"] == STARTED


class RacingCollection:
    """A tests collection whose first inserts collide with a writer that then rolled back."""

    def __init__(self, real, collisions):
        self.real = real
        self.collisions = collisions
        self.inserts = 0

    def insert_one(self, document):
        self.inserts += 1
        if self.inserts <= self.collisions:
            raise DuplicateKeyError("E11000 duplicate key error")
        return self.real.insert_one(document)

    def find_one(self, *args, **kwargs):
        return self.real.find_one(*args, **kwargs)


@pytest.fixture
def context(app):
    with app.app_context():
        db.studies().insert_one({"study_id": "abcdefgh", "participant_id": "P1"})
        yield app


def test_a_collision_without_a_winner_is_retried(context, monkeypatch):
    racing = RacingCollection(db.tests(), collisions=2)
    monkeypatch.setattr(db, "tests", lambda: racing)
    submission = results.validate_submission(load_sample("spatial_memory", "abcdefgh"))
    stored, created = results.store_test({"study_id": "abcdefgh"}, submission)
    assert created
    assert racing.inserts == 3
    assert racing.real.count_documents({}) == 1


def test_endless_collisions_end_in_a_503_error_not_a_loop(context, monkeypatch):
    racing = RacingCollection(db.tests(), collisions=results.INSERT_ATTEMPTS)
    monkeypatch.setattr(db, "tests", lambda: racing)
    submission = results.validate_submission(load_sample("spatial_memory", "abcdefgh"))
    with pytest.raises(db.DatabaseUnavailable):
        results.store_test({"study_id": "abcdefgh"}, submission)


def test_an_unacknowledged_write_is_not_reported_as_stored(context, monkeypatch):
    class Unacknowledged:
        acknowledged = False

    class FireAndForget:
        def insert_one(self, document):
            return Unacknowledged()

    monkeypatch.setattr(db, "tests", FireAndForget)
    submission = results.validate_submission(load_sample("spatial_memory", "abcdefgh"))
    with pytest.raises(db.DatabaseUnavailable, match="acknowledge"):
        results.store_test({"study_id": "abcdefgh"}, submission)


def test_submissions_are_stored_once_on_every_store(store_config):
    app = create_app(store_config)
    with app.app_context():
        db.studies().insert_one(
            {"study_id": "abcdefgh", "participant_id": "P1", "study_type": "baseline"}
        )
    client = app.test_client()
    first = client.post("/tests", json=load_sample("immediate_recall", "abcdefgh"))
    again = client.post("/tests", json=load_sample("immediate_recall", "abcdefgh"))
    empty = client.post(
        "/tests", json=load_sample("spatial_memory_timed_out_no_answer", "abcdefgh")
    )
    assert first.status_code == again.status_code == empty.status_code == 200
    assert again.json["test_id"] == first.json["test_id"]
    with app.app_context():
        stored = list(db.tests().find({}, {"_id": 0}).sort("test_type", 1))
        assert results.find_test(first.json["test_id"])["test_type"] == "immediate_recall"
    assert [t["test_type"] for t in stored] == ["immediate_recall", UNCLASSIFIED]
    assert stored[0]["time_started"] == STARTED
