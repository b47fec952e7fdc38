"""`flask backup` / `flask restore`: every document back exactly, types included, on every store."""

import gzip
import os
from datetime import UTC, datetime

import bson
import pytest
from bson import Int64, ObjectId

from intact import audit, backup, create_app, db
from intact.participants import migrations


def sample_data():
    """Documents shaped like the app's, with every type a backup must keep."""
    opened = datetime(2026, 11, 20, 14, 3, 7, 512000, tzinfo=UTC)
    study_ids = ["abcdefgh", "qwertyui"]
    return {
        "studies": [
            {
                "_id": ObjectId(),
                "study_id": study_id,
                "participant_id": f"P{number}",
                "study_type": "baseline",
                "url": f"http://localhost:5173/{study_id}",
                "created_at": opened,
                "first_opened_at": opened if number == 0 else None,
            }
            for number, study_id in enumerate(study_ids)
        ],
        "tests": [
            {
                "_id": ObjectId(),
                "test_id": str(ObjectId()),
                "study_id": "abcdefgh",
                "test_type": "choice_reaction_time",
                "fingerprint": "a" * 64,
                "time_started": opened,
                "time_elapsed_milliseconds": Int64(61_234),
                "result": [
                    {"crt_rt": 412, "crt_correct": True, "crt_response": "left", "crt_dwell": -3},
                    # An absurd dwell time from an unrecorded press: must stay a 64-bit integer.
                    {"crt_rt": Int64(380), "crt_correct": False, "crt_dwell": 1_732_111_222_333},
                ],
                "extra": {"screen": {"w": 390, "h": 844}, "flags": [None, [], [[1.5]]]},
                "notes": None,
                "received_at": datetime.now(UTC),
            },
            {
                "_id": ObjectId(),
                "test_id": str(ObjectId()),
                "study_id": "qwertyui",
                "test_type": "unclassified",
                "fingerprint": "b" * 64,
                "result": [],
                "device_info": "Mozilla/5.0 (ünïcödé) \u2603",
            },
        ],
        "quarantine": [
            {
                "_id": ObjectId(),
                "study_id": "abcdefgh",
                "raw_body": '{"study_id": "abcdefgh", "result": {"$ne": ""}}',
                "errors": {"result": ["Not a valid result."]},
                "received_at": opened,
            }
        ],
        "audit_log": [{"_id": "custom-id", "action": "login_failure", "count": 0}],
    }


def fill(app, data):
    """Store the documents, then bring them to the current shape as the app's start-up does."""
    with app.app_context():
        database = db.get_db()
        for name, documents in data.items():
            database[name].insert_many([dict(document) for document in documents])
        migrations.run()


def dump(app):
    """Every collection as the BSON bytes of its documents: equal means exact.

    The audit entries the backup and restore commands add about themselves are left out.
    """
    own_entries = {"action": {"$nin": [audit.BACKUP_WRITTEN, audit.BACKUP_RESTORED]}}
    with app.app_context():
        database = db.get_db()
        return {
            name: sorted(
                bson.encode(document)
                for document in database[name].find(own_entries if name == "audit_log" else {})
            )
            for name in backup.data_collections(database)
            if database[name].count_documents({})
        }


@pytest.fixture
def target_config(store_config, tmp_path):
    """A second, empty database on the same store as `store_config`."""
    config = dict(store_config, DATA_DIR=str(tmp_path / "restored"))
    if "DB_NAME" in store_config:
        config["DB_NAME"] = store_config["DB_NAME"] + "_restored"
    yield config
    if "DB_NAME" in store_config:
        import pymongo

        pymongo.MongoClient(config["DB_CONNECTION_STR"]).drop_database(config["DB_NAME"])


def test_backup_round_trips_every_document_exactly(store_config, target_config, tmp_path):
    source = create_app(store_config)
    fill(source, sample_data())
    path = tmp_path / "backup.bson.gz"
    with source.app_context():
        header = backup.write_backup(path)
    # Collections that exist for their indexes and are empty (accounts, sessions, reliable change
    # values…) are backed up all the same, with 0 documents.
    written = {name: count for name, count in header["collections"].items() if count}
    assert written == {"audit_log": 1, "quarantine": 1, "studies": 2, "tests": 2}
    assert header["collections"]["reliable_change_values"] == 0

    target = create_app(target_config)
    with target.app_context():
        backup.restore_backup(path)
    assert dump(target) == dump(source)

    with target.app_context():
        test = db.tests().find_one({"study_id": "abcdefgh"})
    assert isinstance(test["time_elapsed_milliseconds"], Int64)
    assert type(test["result"][0]["crt_rt"]) is int
    assert isinstance(test["result"][1]["crt_rt"], Int64)
    assert test["result"][1]["crt_dwell"] == 1_732_111_222_333
    assert test["time_started"] == datetime(2026, 11, 20, 14, 3, 7, 512000, tzinfo=UTC)
    assert test["time_started"].utcoffset().total_seconds() == 0
    assert test["notes"] is None
    assert test["extra"]["flags"] == [None, [], [[1.5]]]


def test_cli_backup_then_restore(store_config, target_config, tmp_path):
    source = create_app(store_config)
    fill(source, sample_data())
    folder = tmp_path / "backups"
    folder.mkdir()
    written = source.test_cli_runner().invoke(args=["backup", str(folder)])
    assert written.exit_code == 0, written.output
    files = os.listdir(folder)
    # One finished file named by time, and no temporary file left beside it.
    assert len(files) == 1
    assert files[0].startswith("intact-backup-")
    assert files[0].endswith(".bson.gz")
    assert "6 documents" in written.output

    target = create_app(target_config)
    restored = target.test_cli_runner().invoke(args=["restore", str(folder / files[0])])
    assert restored.exit_code == 0, restored.output
    assert "Restored 6 documents" in restored.output
    assert dump(target) == dump(source)
    with target.app_context():
        (entry,) = audit.find_entries(action=audit.BACKUP_RESTORED).items
    assert entry["client"] == audit.COMMAND_LINE
    assert entry["count"] == 6


def test_restore_refuses_a_database_that_holds_data(app, tmp_path):
    fill(app, sample_data())
    path = tmp_path / "backup.bson.gz"
    with app.app_context():
        backup.write_backup(path)
        db.studies().insert_one({"study_id": "zzzzzzzz"})
    before = dump(app)
    result = app.test_cli_runner().invoke(args=["restore", str(path)])
    assert result.exit_code != 0
    assert "already holds 7 documents" in result.output
    assert "--force" in result.output
    assert dump(app) == before


def test_restore_force_replaces_everything(app, tmp_path):
    data = sample_data()
    fill(app, data)
    expected = dump(app)
    path = tmp_path / "backup.bson.gz"
    with app.app_context():
        backup.write_backup(path)
        db.studies().insert_one({"study_id": "zzzzzzzz"})
        db.collection("scratch").insert_one({"x": 1})
    result = app.test_cli_runner().invoke(args=["restore", "--force", str(path)])
    assert result.exit_code == 0, result.output
    assert dump(app) == expected
    with app.app_context():
        # Indexes the app relies on are back after the collections were dropped.
        assert db.studies().index_information()["study_id_1"]["unique"]


def test_a_truncated_backup_is_refused_before_anything_changes(app, tmp_path):
    fill(app, sample_data())
    path = tmp_path / "backup.bson.gz"
    with app.app_context():
        backup.write_backup(path)
    # The same documents again, minus the last bytes: a copy interrupted mid-way.
    whole = gzip.decompress(path.read_bytes())
    damaged = tmp_path / "damaged.bson.gz"
    damaged.write_bytes(gzip.compress(whole[:-10]))
    empty = create_app(dict(app.config, DB_CONNECTION_STR="mongomock://"))
    result = empty.test_cli_runner().invoke(args=["restore", str(damaged)])
    assert result.exit_code != 0
    assert "truncated" in result.output
    assert dump(empty) == {}


def test_a_backup_missing_documents_is_refused(app, tmp_path):
    fill(app, sample_data())
    path = tmp_path / "backup.bson.gz"
    with app.app_context():
        header = backup.write_backup(path)
    header["collections"]["tests"] = 3
    documents = [
        bson.encode({"collection": name, "document": document})
        for name, document in backup.iter_documents(path)
    ]
    lying = tmp_path / "lying.bson.gz"
    lying.write_bytes(gzip.compress(bson.encode(header) + b"".join(documents)))
    with pytest.raises(backup.BackupError, match="incomplete or damaged"):
        backup.verify(lying)


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        (b"not gzip at all", "damaged or not a gzip'd backup"),
        (gzip.compress(bson.encode({"hello": "world"})), "is not an INTACT backup"),
        (gzip.compress(b""), "is not an INTACT backup"),
        (
            gzip.compress(bson.encode({"format": "intact-backup", "version": 99})),
            "format version 99",
        ),
    ],
)
def test_files_that_are_not_backups_are_refused(app, tmp_path, content, complaint):
    path = tmp_path / "suspect.gz"
    path.write_bytes(content)
    result = app.test_cli_runner().invoke(args=["restore", str(path)])
    assert result.exit_code != 0
    assert complaint in result.output


def test_backup_of_an_empty_database(app, tmp_path):
    path = tmp_path / "empty.bson.gz"
    with app.app_context():
        header = backup.write_backup(path)
        assert sum(header["collections"].values()) == 0
        assert backup.restore_backup(path)["format"] == "intact-backup"
    assert backup.read_header(path)["created_at"].tzinfo is not None


@pytest.mark.parametrize(
    "typed",
    ["backups/", "backups", "nested/backups/", "nightly"],
)
def test_backup_into_a_folder_that_does_not_exist_yet_creates_it(app, tmp_path, typed):
    runner = app.test_cli_runner()
    target = tmp_path / typed
    first = runner.invoke(args=["backup", str(target) + ("/" if typed.endswith("/") else "")])
    assert first.exit_code == 0, first.output
    assert target.is_dir()
    (written,) = os.listdir(target)
    assert written.startswith("intact-backup-") and written.endswith(".bson.gz")
    # A second run adds a second file beside the first; it never overwrites it.
    with app.app_context():
        later = backup.target_file(target, datetime(2099, 1, 1, tzinfo=UTC))
    assert later.parent == target and later.name != written
    restored = runner.invoke(args=["restore", "--force", str(target / written)])
    assert restored.exit_code == 0, restored.output


def test_backup_to_a_named_file_never_overwrites_one(app, tmp_path):
    runner = app.test_cli_runner()
    path = tmp_path / "before-upgrade.bson.gz"
    assert runner.invoke(args=["backup", str(path)]).exit_code == 0
    again = runner.invoke(args=["backup", str(path)])
    assert again.exit_code == 1
    assert "exists already" in again.output
