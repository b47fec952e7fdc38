"""db.stream: the same documents as find(), oldest first, on every store."""

from datetime import UTC, datetime

import pytest

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


@pytest.fixture
def decoded(monkeypatch):
    """One entry per document the embedded store decodes."""
    found = []
    real_decode = db.bson.decode
    monkeypatch.setattr(
        db.bson, "decode", lambda raw, **options: found.append(1) or real_decode(raw, **options)
    )
    return found


def test_embedded_stream_reads_only_the_indexed_candidates(app_config, decoded):
    app_config["DB_CONNECTION_STR"] = ""
    app = create_app(app_config)
    _insert_sample(app)
    decoded.clear()
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


# A test without this participant_id field at all (not even null).
NO_FIELD = object()


def _insert_owned(app, owners, study_of=lambda i: f"s{i}"):
    """A delayed recall test per owner, arriving in this order: test_id t<i>, participant_id the
    owner (any value; NO_FIELD: none), study_of(i), received a minute apart."""
    with app.app_context():
        db.tests().insert_many(
            [
                {
                    "test_id": f"t{i}",
                    "fingerprint": f"f{i}",
                    "study_id": study_of(i),
                    "test_type": "delayed_recall",
                    "received_at": datetime(2026, 11, 20, 14, i, 30, 250_000, tzinfo=UTC),
                    **({} if owner is NO_FIELD else {"participant_id": owner}),
                }
                for i, owner in enumerate(owners)
            ]
        )


def _insert_interleaved(app):
    """Tests of three participants (and one without a participant id) arriving interleaved."""
    _insert_owned(app, ["P2", "P10", NO_FIELD, "P1", "P2", "P1", "P10", "P2"])


def test_stream_by_a_field_groups_in_ascending_order_oldest_first_within(store_config):
    app = create_app(store_config)
    _insert_interleaved(app)
    with app.app_context():
        streamed = [
            (d.get("participant_id"), d["test_id"]) for d in db.stream("tests", by="participant_id")
        ]
        # Without a participant id first (MongoDB's order for a missing value), then P1, P10, P2
        # in code point order (MongoDB's binary order of UTF-8 is the same).
        assert streamed == [
            (None, "t2"),
            ("P1", "t3"),
            ("P1", "t5"),
            ("P10", "t1"),
            ("P10", "t6"),
            ("P2", "t0"),
            ("P2", "t4"),
            ("P2", "t7"),
        ]
        narrowed = db.stream(
            "tests", {"study_id": {"$in": ["s4", "s5", "s1"]}}, by="participant_id"
        )
        assert [d["test_id"] for d in narrowed] == ["t5", "t1", "t4"]


def test_embedded_stream_by_puts_every_value_other_than_one_text_first(app_config):
    """A number, a list of several values, null or no value: first, in stored order, however the
    query narrows (a list of one text is under that text, as MongoDB sorts it)."""
    app_config["DB_CONNECTION_STR"] = ""
    app = create_app(app_config)
    values = ["P2", ["P1", "P3"], "P1", 5, None, "P2", ["P4"], NO_FIELD, "P1", 2.5]
    _insert_owned(app, values, study_of=lambda i: f"s{i % 2}")
    with app.app_context():
        streamed = [d["test_id"] for d in db.stream("tests", by="participant_id")]
        assert streamed == ["t1", "t3", "t4", "t7", "t9", "t2", "t8", "t0", "t5", "t6"]
        narrowed = db.stream("tests", {"study_id": "s1"}, by="participant_id")
        assert [d["test_id"] for d in narrowed] == ["t1", "t3", "t7", "t9", "t5"]


def test_embedded_stream_by_keeps_stored_order_after_changes(app_config):
    """Within a group, the order of find(): after updates, deletes and an _id inserted again,
    made by this process after its index was built, and for a group too large for one fetch."""
    app_config["DB_CONNECTION_STR"] = ""
    app = create_app(app_config)
    owners = ["P1", "P2", "P1", "P3", "P2", "P1", "P3", "P1"]
    with app.app_context():
        tests = db.tests()
        tests.insert_many(
            [
                {"test_id": f"t{i}", "fingerprint": f"f{i}", "participant_id": who}
                for i, who in enumerate(owners)
            ]
        )
        tests.find_one({"test_id": ""})  # litemongo builds its index now, before the changes
        tests.update_one({"test_id": "t2"}, {"$set": {"participant_id": "P2"}})
        again = tests.find_one({"test_id": "t0"})
        tests.delete_one({"test_id": "t0"})
        tests.insert_one(again)
        tests.delete_one({"test_id": "t5"})
        tests.insert_many(
            [
                {"test_id": f"u{i}", "fingerprint": f"g{i}", "participant_id": f"P{i % 2 + 1}"}
                for i in range(db._ROWS_PER_FETCH * 2 + 3)
            ]
        )
        expected = [
            d["test_id"] for who in ("P1", "P2", "P3") for d in tests.find({"participant_id": who})
        ]
        streamed = [d["test_id"] for d in db.stream("tests", by="participant_id")]
    assert streamed == expected
    assert expected[:3] == ["t7", "t0", "u0"]


def test_stream_of_what_arrived_since_a_moment(store_config):
    app = create_app(store_config)
    _insert_interleaved(app)
    # t5 arrived at 14:05:30.250: a bound within its second reads it and the filter decides.
    cases = [
        ({"$gte": datetime(2026, 11, 20, 14, 5, 30, 250_000, tzinfo=UTC)}, ["t5", "t6", "t7"]),
        ({"$gte": datetime(2026, 11, 20, 14, 5, 30, 251_000, tzinfo=UTC)}, ["t6", "t7"]),
        ({"$gt": datetime(2026, 11, 20, 14, 5, 30, 250_000, tzinfo=UTC)}, ["t6", "t7"]),
        (
            {
                "$gte": datetime(2026, 11, 20, 14, 2, tzinfo=UTC),
                "$lt": datetime(2026, 11, 20, 14, 4, tzinfo=UTC),
            },
            ["t2", "t3"],
        ),
    ]
    with app.app_context():
        for condition, expected in cases:
            query = {"received_at": condition}
            assert [d["test_id"] for d in db.stream("tests", query)] == expected, condition


def test_embedded_since_reads_only_the_newer_rows(app_config, decoded):
    app_config["DB_CONNECTION_STR"] = ""
    app = create_app(app_config)
    _insert_interleaved(app)
    decoded.clear()
    with app.app_context():
        since = {"received_at": {"$gte": datetime(2026, 11, 20, 14, 6, tzinfo=UTC)}}
        assert [d["test_id"] for d in db.stream("tests", since)] == ["t6", "t7"]
        assert len(decoded) == 2
        decoded.clear()
        by = [d["test_id"] for d in db.stream("tests", since, by="participant_id")]
        assert (by, len(decoded)) == (["t6", "t7"], 2)


def test_reused_documents_of_a_window_match_a_fresh_read(store_config):
    """reuse_decoded and the quick matcher of a window's bounds give what a fresh read gives."""
    app = create_app(store_config)
    _insert_interleaved(app)
    since = {"received_at": {"$gte": datetime(2026, 11, 20, 14, 5, tzinfo=UTC)}}
    with app.app_context():
        fresh = [d["test_id"] for d in db.stream("tests", since)]
        for _ in range(2):  # the second read takes the documents the first decoded
            reused = [d["test_id"] for d in db.stream("tests", since, reuse_decoded=True)]
            assert reused == fresh == ["t5", "t6", "t7"]


def test_reuse_decoded_with_by_is_refused_at_the_call(store_config):
    app = create_app(store_config)
    with app.app_context(), pytest.raises(ValueError, match="reuse_decoded cannot be combined"):
        db.stream("tests", by="participant_id", reuse_decoded=True)
