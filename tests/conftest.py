"""Shared fixtures: an app on a fresh in-memory database, its client and CLI runner."""

import itertools
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from intact import create_app, db

TEST_PASSWORD = "correct-horse-battery"


@pytest.fixture
def app_config(tmp_path):
    """The environment a test app is built from; tests may change it before `app` is used."""
    return {
        "DB_CONNECTION_STR": "mongomock://",
        "ADMIN_PASSWORD": TEST_PASSWORD,
        "SECRET_KEY": "test-secret-key",
        "DATA_DIR": str(tmp_path / "data"),
        "TESTING": True,
    }


@pytest.fixture
def app(app_config):
    return create_app(app_config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


STORES = [
    "mongomock",
    "embedded",
    pytest.param("mongodb", marks=pytest.mark.mongo),
]


@pytest.fixture(params=STORES)
def store_config(request, app_config, tmp_path):
    """The test environment on each store the app supports: mock, embedded file store, real MongoDB.

    The real server is used only when TEST_MONGO_URI is set; each test gets its own database.
    """
    store = request.param
    if store == "embedded":
        app_config["DB_CONNECTION_STR"] = ""
    elif store == "mongodb":
        uri = os.environ.get("TEST_MONGO_URI")
        if not uri:
            pytest.skip("TEST_MONGO_URI is not set")
        app_config["DB_CONNECTION_STR"] = uri
        app_config["DB_NAME"] = f"intact_test_{uuid.uuid4().hex[:12]}"
    yield app_config
    if store == "mongodb":
        import pymongo

        pymongo.MongoClient(app_config["DB_CONNECTION_STR"]).drop_database(app_config["DB_NAME"])


CONTRACT_DIR = Path(__file__).resolve().parent / "contract"
CONTRACT_SAMPLES = sorted(path.stem for path in CONTRACT_DIR.glob("*.json"))


def load_sample(name: str, study_id: str) -> dict:
    """A front-end submission from tests/contract/ (copied from shared/frontend-contract/)."""
    payload = json.loads((CONTRACT_DIR / f"{name}.json").read_text(encoding="utf-8"))
    payload["study_id"] = study_id
    return payload


@pytest.fixture
def make_study(app):
    """Insert a study straight into the database and return it (no _id)."""
    counter = itertools.count()

    def make(participant_id="P001", study_type="baseline", study_id=None, **fields):
        study_id = study_id or f"study{next(counter):03d}".replace("0", "a")
        study = {
            "study_id": study_id,
            "participant_id": participant_id,
            "study_type": study_type,
            "url": f"{app.config['STUDY_URL_PREFIX'].rstrip('/')}/{study_id}",
            "created_at": datetime.now(UTC),
            "batch_id": "test-batch",
            **fields,
        }
        with app.app_context():
            db.studies().insert_one(dict(study))
        return study

    return make
