"""Studies: participant id lists, batch creation, lookup and run-state timestamps."""

from datetime import UTC, datetime, timedelta

import pytest

from intact import create_app, db
from intact import studies as studies_module
from intact.studies import (
    InvalidBatch,
    StudyNotFound,
    create_studies,
    find_study,
    record_activity,
)


def test_find_study_hides_the_database_id(app, make_study):
    make_study(study_id="abcdefgh", participant_id="P7")
    with app.app_context():
        study = find_study("abcdefgh")
    assert study["participant_id"] == "P7"
    assert "_id" not in study


@pytest.mark.parametrize("study_id", ["nope", "", None, {"$ne": ""}, ["abcdefgh"]])
def test_unknown_or_malformed_ids_are_not_found(app, make_study, study_id):
    make_study(study_id="abcdefgh")
    with app.app_context(), pytest.raises(StudyNotFound):
        find_study(study_id)


def test_first_opened_is_kept_and_last_seen_moves(store_config):
    app = create_app(store_config)
    first = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    later = first + timedelta(days=2)
    with app.app_context():
        db.studies().insert_one({"study_id": "abcdefgh", "participant_id": "P1"})
        record_activity("abcdefgh", opened=True, now=first)
        record_activity("abcdefgh", opened=True, now=later)
        record_activity("abcdefgh", now=later + timedelta(hours=1))
        study = find_study("abcdefgh")
    assert study["first_opened_at"] == first
    assert study["last_seen_at"] == later + timedelta(hours=1)


# --- creating studies --------------------------------------------------------------------------


def test_studies_come_back_in_creation_order_with_their_links(app):
    app.config["STUDY_URL_PREFIX"] = "https://intact.example.org/s/"
    with app.app_context():
        created = create_studies(["P1", "P2"], baselines=2, followups=1)
        stored = list(db.studies().find({}, {"_id": 0}))
    assert [(s["participant_id"], s["study_type"]) for s in created] == [
        ("P1", "baseline"),
        ("P1", "baseline"),
        ("P1", "followup"),
        ("P2", "baseline"),
        ("P2", "baseline"),
        ("P2", "followup"),
    ]
    for study in created:
        numbered = {"followup_number"} if study["study_type"] == "followup" else set()
        assert set(study) == {
            "study_id",
            "participant_id",
            "url",
            "study_type",
            "created_at",
            "batch_id",
            *numbered,
        }
        assert len(study["study_id"]) == 8
        assert study["study_id"].isascii() and study["study_id"].islower()
        assert study["study_id"].isalpha()
        assert study["url"] == f"https://intact.example.org/s/{study['study_id']}"
    assert len({s["study_id"] for s in created}) == 6
    assert len({s["batch_id"] for s in created}) == 1
    assert sorted(stored, key=lambda s: s["study_id"]) == sorted(
        created, key=lambda s: s["study_id"]
    )


def test_study_id_length_is_a_setting(app_config):
    app_config["STUDY_ID_LENGTH"] = "12"
    app = create_app(app_config)
    with app.app_context():
        (study,) = create_studies(["P1"], baselines=1, followups=0)
    assert len(study["study_id"]) == 12


@pytest.mark.parametrize(
    ("ids", "baselines", "followups", "complaint"),
    [
        (["P1"], -1, 1, "must be nonnegative"),
        (["P1"], 1, -1, "must be nonnegative"),
        (["P1"], 0, 0, "must be nonzero"),
        (["P1"], "1", 1, "must be a whole number"),
        (["P1"], True, 1, "must be a whole number"),
        ([], 1, 1, "empty participant list"),
        (["P1", "P-2", 3], 1, 1, "Check entries 2, 3"),
        (["P1", "P2", "P3"], 1, 1, "This would create 6 studies; at most 5"),
    ],
    ids=[
        "negative-baselines",
        "negative-followups",
        "both-zero",
        "text-count",
        "boolean-count",
        "empty",
        "bad-ids",
        "over-the-limit",
    ],
)
def test_invalid_batches_create_nothing(app, ids, baselines, followups, complaint):
    app.config["MAX_STUDIES_PER_REQUEST"] = 5
    with app.app_context():
        with pytest.raises(InvalidBatch, match=complaint):
            create_studies(ids, baselines, followups)
        assert db.studies().count_documents({}) == 0


def test_a_batch_at_the_limit_is_created(app):
    app.config["MAX_STUDIES_PER_REQUEST"] = 6
    with app.app_context():
        assert len(create_studies(["P1", "P2", "P3"])) == 6


def test_the_default_limit_is_ten_thousand(app):
    assert app.config["MAX_STUDIES_PER_REQUEST"] == 10_000
    with app.app_context(), pytest.raises(InvalidBatch, match="10,001 studies"):
        create_studies([f"P{n}" for n in range(10_001)], baselines=1, followups=0)


def test_ids_spelling_offensive_words_are_skipped(monkeypatch):
    letters = iter("shitabcd" + "abcdefgh")
    monkeypatch.setattr(studies_module.secrets, "choice", lambda alphabet: next(letters))
    assert studies_module.new_study_id(8) == "abcdefgh"


def test_a_taken_id_is_drawn_again(store_config, monkeypatch):
    app = create_app(store_config)
    drawn = iter(["takentak", "freefree", "againaga"])
    monkeypatch.setattr(studies_module, "new_study_id", lambda length, avoid=(): next(drawn))
    with app.app_context():
        db.studies().insert_one({"study_id": "takentak", "participant_id": "OTHER"})
        created = create_studies(["P1"], baselines=1, followups=1)
        stored = {s["study_id"]: s for s in db.studies().find({"participant_id": "P1"})}
    assert [s["study_id"] for s in created] == ["againaga", "freefree"]
    assert created[0]["url"].endswith("/againaga")
    assert set(stored) == {"againaga", "freefree"}
    assert stored["againaga"]["url"] == created[0]["url"]


def test_a_failure_midway_removes_what_was_inserted(app, monkeypatch):
    from pymongo.errors import AutoReconnect

    monkeypatch.setattr(studies_module, "INSERT_CHUNK", 2)
    with app.app_context():
        collection = db.studies()
        real_insert_many = collection.insert_many
        calls = []

        def flaky_insert_many(documents, **options):
            calls.append(len(documents))
            if len(calls) == 2:
                raise AutoReconnect("connection lost")
            return real_insert_many(documents, **options)

        monkeypatch.setattr(collection, "insert_many", flaky_insert_many)
        monkeypatch.setattr(studies_module.db, "studies", lambda: collection)
        with pytest.raises(AutoReconnect):
            create_studies(["P1", "P2", "P3"], baselines=1, followups=0)
        assert calls == [2, 1]
        assert collection.count_documents({}) == 0
