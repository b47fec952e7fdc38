"""Shared fixtures: an app on a fresh in-memory database, its client and CLI runner."""

import os
import uuid

import pytest

from intact import create_app

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
