"""db.stream: the same documents as find(), oldest first, on every store."""

from datetime import UTC, datetime

from intact import create_app, db


def _insert_sample(app):
    with app.app_context():
        db.tests().insert_many(
            [
                {
                    "test_id": f"t{i}",
                    "fingerprint": f"f{i}",
                    "study_id": f"s{i % 3}",
                    "test_type": "spatial_memory" if i % 2 else "delayed_recall",
                    "time_started": datetime(2026, 11, 20, 14, i, tzinfo=UTC),
                    "result": [{"sm_rt": i, "sm_correct": True}] if i % 2 else {"dr_score": 0},
                }
                for i in range(10)
            ]
        )


def test_stream_matches_find_in_insertion_order(store_config):
    app = create_app(store_config)
    _insert_sample(app)
    with app.app_context():
        for query in ({}, {"test_type": "spatial_memory"}, {"study_id": {"$in": ["s0", "s2"]}}):
            streamed = list(db.stream("tests", query))
            found = list(db.tests().find(query))
            assert [d["test_id"] for d in streamed] == [d["test_id"] for d in found]
            assert streamed == found


def test_streamed_datetimes_are_utc_aware(store_config):
    app = create_app(store_config)
    _insert_sample(app)
    with app.app_context():
        first = next(db.stream("tests"))
    assert first["time_started"] == datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    assert first["time_started"].utcoffset().total_seconds() == 0


def test_stream_of_an_empty_collection_yields_nothing(store_config):
    app = create_app(store_config)
    with app.app_context():
        assert list(db.stream("tests", {"study_id": "none"})) == []


def test_embedded_stream_reads_only_the_indexed_candidates(app_config, monkeypatch):
    app_config["DB_CONNECTION_STR"] = ""
    app = create_app(app_config)
    _insert_sample(app)
    decoded = []
    real_decode = db.bson.decode
    monkeypatch.setattr(
        db.bson, "decode", lambda raw, **options: decoded.append(1) or real_decode(raw, **options)
    )
    with app.app_context():
        # test_type and study_id are indexed: only their candidates are read, in stored order.
        spatial = [d["test_id"] for d in db.stream("tests", {"test_type": "spatial_memory"})]
        assert (spatial, len(decoded)) == (["t1", "t3", "t5", "t7", "t9"], 5)
        decoded.clear()
        both = [d["test_id"] for d in db.stream("tests", {"study_id": {"$in": ["s2", "s0"]}})]
        assert (both, len(decoded)) == (["t0", "t2", "t3", "t5", "t6", "t8", "t9"], 7)
        decoded.clear()
        # Not indexed: every row is read, and the filter still decides.
        assert [d["test_id"] for d in db.stream("tests", {"result.sm_rt": 3})] == ["t3"]
        assert len(decoded) == 10


def test_stream_can_yield_only_some_fields(store_config):
    app = create_app(store_config)
    _insert_sample(app)
    with app.app_context():
        streamed = list(db.stream("tests", {"study_id": "s1"}, fields=("test_id", "study_id")))
    assert streamed == [{"test_id": f"t{i}", "study_id": "s1"} for i in (1, 4, 7)]


def test_reused_documents_follow_every_change(store_config):
    """reuse_decoded gives what a fresh read gives after inserts, updates and deletes."""
    app = create_app(store_config)
    _insert_sample(app)
    fields = ("test_id", "study_id", "test_type")
    with app.app_context():

        def both(query):
            fresh = list(db.stream("tests", query, fields))
            assert list(db.stream("tests", query, fields, reuse_decoded=True)) == fresh
            return fresh

        for query in ({}, {"test_type": "spatial_memory"}):
            both(query)
            db.tests().update_one({"test_id": "t1"}, {"$set": {"test_type": "delayed_recall"}})
            db.tests().delete_one({"test_id": "t3"})
            db.tests().insert_one(
                {
                    "test_id": "t10",
                    "fingerprint": "f10",
                    "study_id": "s9",
                    "test_type": "spatial_memory",
                }
            )
            changed = both(query)
            assert all(d["test_id"] not in {"t3"} for d in changed)
            db.tests().delete_many({"test_id": {"$in": ["t10"]}})
