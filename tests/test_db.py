"""The database module: every store behaves the same to the code above it."""

import time

import pytest
from pymongo.errors import DuplicateKeyError

from intact import create_app, db


def test_indexes_exist_on_every_store(store_config):
    app = create_app(store_config)
    with app.app_context():
        study_indexes = db.studies().index_information()
        test_indexes = db.tests().index_information()
    assert study_indexes["study_id_1"]["unique"] is True
    assert test_indexes["fingerprint_1"]["unique"] is True
    assert "study_id_1" in test_indexes


def test_unique_study_id_is_enforced_on_every_store(store_config):
    app = create_app(store_config)
    with app.app_context():
        db.studies().insert_one({"study_id": "abcdefgh"})
        with pytest.raises(DuplicateKeyError):
            db.studies().insert_one({"study_id": "abcdefgh"})


def test_creating_indexes_twice_is_harmless(store_config):
    create_app(store_config)
    app = create_app(store_config)
    with app.app_context():
        db.ensure_indexes(db.get_db())


def test_embedded_store_keeps_data_across_restarts(app_config):
    app_config["DB_CONNECTION_STR"] = ""
    first = create_app(app_config)
    with first.app_context():
        db.studies().insert_one({"study_id": "keptkept", "study_type": "baseline"})
    first.extensions["intact_db_client"].close()

    second = create_app(app_config)
    with second.app_context():
        assert db.studies().find_one({"study_id": "keptkept"})["study_type"] == "baseline"


def test_mongomock_gives_each_app_a_fresh_database(app_config):
    first = create_app(app_config)
    with first.app_context():
        db.studies().insert_one({"study_id": "onlyhere"})
    second = create_app(app_config)
    with second.app_context():
        assert db.studies().count_documents({}) == 0


def test_unreachable_server_fails_fast_not_hangs(app_config):
    # Port 9 on loopback: nothing listens, so the connection is refused at once.
    app_config.update(DB_CONNECTION_STR="mongodb://127.0.0.1:9/", DB_TIMEOUT_MS="1000")
    started = time.monotonic()
    app = create_app(app_config)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert time.monotonic() - started < 5


def test_describe_never_shows_credentials():
    settings = {
        "DB_CONNECTION_STR": "mongodb://root:hunter2@mongo:27017/?authSource=admin",
        "DB_NAME": "intact",
    }
    description = db.describe(settings)
    assert "hunter2" not in description
    assert "mongo:27017" in description
