"""The quarantine: refused submissions of known studies, listed for the dashboard."""

from datetime import UTC, datetime, timedelta

import pytest

from intact import db, quarantine


def keep(app, study_id="abcdefgh", body=b'{"study_id": "abcdefgh"}', message="Invalid."):
    with app.app_context():
        return quarantine.keep_refused(
            {"study_id": study_id, "participant_id": "P1", "study_type": "baseline"},
            body,
            "application/json",
            message,
            [{"field": "result", "message": message}],
        )


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
