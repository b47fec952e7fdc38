"""Study lookup and run-state timestamps."""

from datetime import UTC, datetime, timedelta

import pytest

from intact import db
from intact.studies import StudyNotFound, find_study, record_activity


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
    from intact import create_app

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
