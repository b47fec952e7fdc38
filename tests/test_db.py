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


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("", db.EMBEDDED),
        ("mongomock://", db.MOCK),
        ("mongodb://127.0.0.1:27017/", db.MONGODB),
        ("mongodb://user:pw@a:27017,b:27018/intact?replicaSet=rs0", db.MONGODB),
        ("mongodb+srv://user:pw@cluster0.example.net/", db.MONGODB),
    ],
)
def test_the_connection_string_alone_says_which_store(uri, kind):
    assert db.store_kind({"DB_CONNECTION_STR": uri}) == kind


def test_an_unknown_scheme_is_named_without_the_rest_of_the_string():
    with pytest.raises(ValueError, match="got postgres://") as refused:
        db.store_kind({"DB_CONNECTION_STR": "postgres://admin:hunter2@db.example/intact"})
    assert "hunter2" not in str(refused.value)


def test_version_changes_with_every_insert_and_delete_on_every_store(store_config):
    app = create_app(store_config)
    with app.app_context():
        empty = db.version("tests")
        db.tests().insert_one({"test_id": "a", "fingerprint": "a"})
        one = db.version("tests")
        db.tests().insert_one({"test_id": "b", "fingerprint": "b"})
        two = db.version("tests")
        db.tests().delete_one({"test_id": "a"})
        deleted = db.version("tests")
        db.tests().insert_one({"test_id": "c", "fingerprint": "c"})
        replaced = db.version("tests")
        # Updates in place are not counted (tests are written once).
        db.tests().update_one({"test_id": "c"}, {"$set": {"notes": "x"}})
        assert db.version("tests") == replaced
    # Same count after a delete and an insert, yet a new version: the newest id moved.
    assert len({empty, one, two, deleted, replaced}) == 5
    assert deleted[0] == 1 and replaced[0] == 2 == two[0]


def test_embedded_store_keeps_data_across_restarts(app_config):
    app_config["DB_CONNECTION_STR"] = ""
    first = create_app(app_config)
    with first.app_context():
        db.studies().insert_one({"study_id": "keptkept", "study_type": "baseline"})
    db.client_of(first).close()

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


@pytest.mark.parametrize(
    ("uri", "where"),
    [
        ("mongodb://mongo:27017/", "mongo:27017"),
        ("mongodb://mongo", "mongo"),
        ("mongodb://127.0.0.1:27017/?directConnection=true", "127.0.0.1:27017"),
        ("mongodb://mongo:27017?tls=true", "mongo:27017"),
        ("mongodb://root:hunter2@mongo:27017/?authSource=admin", "mongo:27017"),
        ("mongodb://root:hunter2@mongo:27017/intact", "mongo:27017"),
        ("mongodb://root@mongo/?authMechanism=MONGODB-X509", "mongo"),
        # A password holding "@" percent-encoded, or not: credentials end at the last "@".
        ("mongodb://root:p%40ss@mongo:27017/", "mongo:27017"),
        ("mongodb://root:p@ss:hunter2@mongo:27017/", "mongo:27017"),
        (
            "mongodb://app:hunter2@a.example:27017,b.example:27018,c.example/intact?replicaSet=rs0",
            "a.example:27017,b.example:27018,c.example",
        ),
        ("mongodb://[::1]:27017/", "[::1]:27017"),
        ("mongodb://%2Ftmp%2Fmongodb-27017.sock/", "/tmp/mongodb-27017.sock"),
        ("mongodb+srv://cluster0.example.net/", "cluster0.example.net (DNS seed list)"),
        (
            "mongodb+srv://app:hunter2@cluster0.example.net/intact?retryWrites=true&w=majority",
            "cluster0.example.net (DNS seed list)",
        ),
    ],
)
def test_describe_names_the_hosts_of_every_connection_string_form(uri, where):
    settings = {"DB_CONNECTION_STR": uri, "DB_NAME": "intact"}
    assert db.describe(settings) == f"MongoDB at {where}, database 'intact'"


@pytest.mark.parametrize(
    "uri",
    [
        "mongodb://root:hunter2@mongo:27017/?authSource=admin",
        "mongodb+srv://root:hunter2@cluster0.example.net/",
        # Secrets can sit in the options too (a client certificate's key password).
        "mongodb://mongo/?tls=true&tlsCertificateKeyFilePassword=hunter2",
        "mongodb://root:hunter2@a:1,b:2/?replicaSet=rs0&authMechanismProperties=TOKEN:hunter2",
    ],
)
def test_describe_never_shows_credentials(uri):
    assert "hunter2" not in db.describe({"DB_CONNECTION_STR": uri, "DB_NAME": "intact"})


def test_describe_says_where_the_embedded_and_in_memory_stores_are(tmp_path):
    embedded = db.describe({"DB_CONNECTION_STR": "", "DATA_DIR": str(tmp_path)})
    assert embedded == f"embedded store in {tmp_path / db.EMBEDDED_DIR}"
    assert db.describe({"DB_CONNECTION_STR": "mongomock://"}).startswith("in-memory database")
