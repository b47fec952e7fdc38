"""The quarantine: refused submissions of known studies, listed for the dashboard."""

from datetime import UTC, datetime, timedelta

import pytest

from intact import db, quarantine


def keep(
    app, study_id="abcdefgh", body=b'{"study_id": "abcdefgh"}', message="Invalid.", client=None
):
    with app.app_context():
        return quarantine.keep_refused(
            {"study_id": study_id, "participant_id": "P1", "study_type": "baseline"},
            body,
            "application/json",
            message,
            [{"field": "result", "message": message}],
            client=client,
        )


def not_kept(app):
    with app.app_context():
        return quarantine.not_kept_since(1)


def test_keep_get_list_and_count(app):
    first = keep(app, message="first")
    second = keep(app, message="second")
    other = keep(app, study_id="bbbbbbbb", message="other study")
    with app.app_context():
        # received_at decides the order; make it unambiguous.
        base = datetime(2026, 11, 20, tzinfo=UTC)
        for offset, kept_id in enumerate((first, second, other)):
            db.quarantine().update_one(
                {"quarantine_id": kept_id}, {"$set": {"received_at": base + timedelta(offset)}}
            )
        listed = quarantine.list_refused().items
        assert [item["quarantine_id"] for item in listed] == [other, second, first]
        assert all("raw_body" not in item and "_id" not in item for item in listed)
        assert [i["message"] for i in quarantine.list_refused("abcdefgh").items] == [
            "second",
            "first",
        ]
        second_page = quarantine.list_refused(page=2, per_page=1)
        assert [i["message"] for i in second_page.items] == ["second"]
        assert (second_page.page, second_page.pages, second_page.total) == (2, 3, 3)
        assert quarantine.count_refused() == 3
        assert quarantine.count_refused("abcdefgh") == 2

        whole = quarantine.get_refused(first)
    assert whole["raw_body"] == '{"study_id": "abcdefgh"}'
    assert whole["participant_id"] == "P1"
    assert whole["errors"] == [{"field": "result", "message": "first"}]
    assert whole["size_bytes"] == len(b'{"study_id": "abcdefgh"}')
    assert whole["truncated"] is False
    assert "_id" not in whole


@pytest.mark.parametrize("missing", ["nope", "", None, {"$ne": ""}])
def test_get_unknown_raises(app, missing):
    with app.app_context(), pytest.raises(quarantine.RefusedNotFound):
        quarantine.get_refused(missing)


def test_raw_body_is_cut_at_the_size_limit(app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    kept_id = keep(app, body=b"x" * (limit + 10))
    with app.app_context():
        kept = quarantine.get_refused(kept_id)
    assert len(kept["raw_body"]) == limit
    assert kept["truncated"] is True
    assert kept["size_bytes"] == limit + 10


# --- what is kept is capped ---------------------------------------------------------------------


def test_a_study_keeps_at_most_its_cap_of_submissions(app):
    app.config["QUARANTINE_MAX_PER_STUDY"] = 3
    kept = [keep(app, client="192.0.2.1") for _ in range(5)]
    assert all(kept[:3]) and kept[3:] == [None, None]
    # Another study still has room.
    assert keep(app, study_id="bbbbbbbb", client="192.0.2.1")
    assert not_kept(app)[quarantine.STUDY_FULL] == 2
    with app.app_context():
        assert quarantine.count_refused("abcdefgh") == 3


def test_a_study_keeps_at_most_its_cap_of_bytes(app):
    app.config["QUARANTINE_MAX_BYTES_PER_STUDY"] = 2500
    body = b"x" * 1000
    assert keep(app, body=body) and keep(app, body=body)
    assert keep(app, body=body) is None
    assert keep(app, body=b"x" * 400)  # a smaller one still fits
    assert not_kept(app)[quarantine.STUDY_FULL] == 1


def test_an_address_keeps_at_most_its_daily_caps(app):
    app.config["QUARANTINE_MAX_PER_CLIENT_DAY"] = 2
    studies = ["aaaaaaaa", "bbbbbbbb", "cccccccc"]
    kept = [keep(app, study_id=s, client="192.0.2.1") for s in studies]
    assert all(kept[:2]) and kept[2] is None
    # Another address, and work not coming from a request, are not affected.
    assert keep(app, study_id="cccccccc", client="192.0.2.2")
    assert keep(app, study_id="cccccccc")
    assert not_kept(app)[quarantine.CLIENT_FULL] == 1

    app.config["QUARANTINE_MAX_PER_CLIENT_DAY"] = 100
    app.config["QUARANTINE_MAX_BYTES_PER_CLIENT_DAY"] = 1500
    assert keep(app, study_id="dddddddd", body=b"x" * 1000, client="192.0.2.3")
    assert keep(app, study_id="dddddddd", body=b"x" * 1000, client="192.0.2.3") is None


def test_yesterdays_address_counters_go_and_the_day_starts_again(app):
    app.config["QUARANTINE_MAX_PER_CLIENT_DAY"] = 1
    assert keep(app, client="192.0.2.1")
    assert keep(app, client="192.0.2.1") is None
    with app.app_context():
        counters = db.collection(quarantine.COUNTERS)
        counters.update_many({"kind": "client"}, {"$set": {"day": "2000-01-01"}})
        assert keep(app, client="192.0.2.1")
        assert counters.count_documents({"kind": "client", "day": "2000-01-01"}) == 0


def test_not_kept_counts_are_per_day_and_reason(app):
    with app.app_context():
        for reason in (quarantine.RATE_LIMITED, quarantine.RATE_LIMITED, quarantine.STUDY_FULL):
            quarantine.count_not_kept(reason)
        db.collection(quarantine.COUNTERS).insert_one(
            {
                "_id": "not_kept:2000-01-01",
                "kind": "not_kept",
                "day": "2000-01-01",
                "rate_limited": 9,
            }
        )
        assert quarantine.not_kept_since(30) == {
            quarantine.RATE_LIMITED: 2,
            quarantine.STUDY_FULL: 1,
            quarantine.CLIENT_FULL: 0,
        }
