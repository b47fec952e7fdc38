"""A completed study takes no new battery after COMPLETED_GRACE_HOURS; late results are kept."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import load_sample

from intact import config, create_app, db
from intact.participants import intake, lifecycle
from intact.testtypes import TEST_TYPES

COMPLETED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def post(client, study_id, sample="choice_reaction_time", time_started="2026-03-20T09:00:00.000Z"):
    body = load_sample(sample, study_id)
    body["time_started"] = time_started
    return client.post("/tests", json=body)


def complete_battery(client, study_id):
    """Post all six tests of a battery, as the front-end does; return the stored tests."""
    stored = []
    for minute, sample in enumerate(TEST_TYPES):
        answer = post(client, study_id, sample, f"2026-03-02T09:{minute:02d}:00.000Z")
        assert answer.status_code == 200, answer.get_json()
        stored.append(answer.get_json())
    return stored


def set_completed_at(app, study_id, moment):
    with app.app_context():
        db.studies().update_one({"study_id": study_id}, {"$set": {"completed_at": moment}})


def kept_refusals(app, study_id):
    with app.app_context():
        return list(db.quarantine().find({"study_id": study_id}, {"_id": 0}))


def test_closure_at_the_edges_of_the_grace_period(app):
    """Hand-computed: completed 2 March 10:00, 24 hours of grace: open until 3 March 10:00."""
    study = {"study_id": "abcdefgh", "completed_at": COMPLETED}
    with app.app_context():
        assert app.config["COMPLETED_GRACE_HOURS"] == 24
        assert intake.closure(study, datetime(2026, 3, 3, 10, 0, tzinfo=UTC)) is None
        closed = intake.closure(study, datetime(2026, 3, 3, 10, 0, 0, 1, tzinfo=UTC))
        assert closed.reason == intake.STUDY_COMPLETED
        assert "2026-03-02 10:00 UTC" in closed.message
        assert "24 hours" in closed.message
        # A study not complete (no completed_at) never closes, however old.
        assert intake.closure({"study_id": "abcdefgh"}, datetime(2030, 1, 1, tzinfo=UTC)) is None


def test_grace_hours_setting_is_parsed_and_checked(app_config):
    assert config.from_environ({"COMPLETED_GRACE_HOURS": "0"})["COMPLETED_GRACE_HOURS"] == 0
    assert config.from_environ({})["COMPLETED_GRACE_HOURS"] == 24
    with pytest.raises(config.ConfigError, match="COMPLETED_GRACE_HOURS"):
        config.from_environ({"COMPLETED_GRACE_HOURS": "-1"})
    with pytest.raises(config.ConfigError, match="COMPLETED_GRACE_HOURS"):
        config.from_environ({"COMPLETED_GRACE_HOURS": "a day"})


def test_within_the_grace_period_a_completed_study_still_takes_results(app, client, make_study):
    make_study("P1", "followup", study_id="abcdefgh")
    complete_battery(client, "abcdefgh")
    with app.app_context():
        assert db.studies().find_one({"study_id": "abcdefgh"})["completed_at"] is not None
    # A retake during the grace period is stored (and flagged `duplicate` by the scores).
    assert post(client, "abcdefgh", "choice_reaction_time").status_code == 200
    assert client.get("/studies/abcdefgh").status_code == 200
    with app.app_context():
        assert db.tests().count_documents({"study_id": "abcdefgh"}) == 7
    assert kept_refusals(app, "abcdefgh") == []


def test_after_the_grace_period_a_new_result_is_refused_and_kept(app, client, make_study):
    make_study("P1", "followup", study_id="abcdefgh")
    complete_battery(client, "abcdefgh")
    set_completed_at(app, "abcdefgh", datetime.now(UTC) - timedelta(hours=24, minutes=1))

    late = post(client, "abcdefgh", "choice_reaction_time")

    assert late.status_code == 409
    message = late.get_json()["message"]
    assert "completed" in message and "COMPLETED_GRACE_HOURS" in message
    with app.app_context():
        assert db.tests().count_documents({"study_id": "abcdefgh"}) == 6
        study = db.studies().find_one({"study_id": "abcdefgh"})
    # Kept whole, with the reason, and counted as the study's refused submission.
    (kept,) = kept_refusals(app, "abcdefgh")
    assert kept["reason"] == intake.STUDY_COMPLETED
    assert kept["participant_id"] == "P1"
    assert kept["followup_number"] == 1
    sent = load_sample("choice_reaction_time", "abcdefgh")
    assert json.loads(kept["raw_body"])["result"] == sent["result"]
    assert kept["message"] == message
    assert kept["errors"] == []  # the result itself is valid
    assert study["refused_count"] == 1


def test_a_late_result_can_be_accepted_into_the_data(app, client, make_study):
    make_study("P1", "followup", study_id="abcdefgh")
    complete_battery(client, "abcdefgh")
    set_completed_at(app, "abcdefgh", datetime.now(UTC) - timedelta(days=3))
    assert post(client, "abcdefgh", "choice_reaction_time").status_code == 409
    (kept,) = kept_refusals(app, "abcdefgh")

    with app.test_request_context():
        accepted = lifecycle.accept_refused(kept["quarantine_id"])

    assert accepted["study_id"] == "abcdefgh"
    assert accepted["test_type"] == "choice_reaction_time"
    assert kept_refusals(app, "abcdefgh") == []
    with app.app_context():
        assert db.tests().count_documents({"study_id": "abcdefgh"}) == 7
        assert db.studies().find_one({"study_id": "abcdefgh"})["refused_count"] == 0


def test_a_closed_link_still_answers_as_unknown_and_keeps_the_result(app, client, make_study):
    """One rule for every closure: a link deactivated by hand is not told apart from an unknown
    id, to GET and POST alike, even for a retry (lifecycle.py's reason, intake.py's rule)."""
    make_study("P1", "baseline", study_id="abcdefgh", deactivated_at=datetime.now(UTC))

    late = post(client, "abcdefgh")

    assert late.status_code == 400
    assert late.get_json()["message"] == post(client, "zzzzzzzz").get_json()["message"]
    assert client.get("/studies/abcdefgh").status_code == 404
    (kept,) = kept_refusals(app, "abcdefgh")
    assert kept["reason"] == intake.LINK_DEACTIVATED and kept["errors"] == []


def test_an_identical_retry_of_a_stored_test_still_answers_200(app, client, make_study):
    make_study("P1", "baseline", study_id="abcdefgh")
    stored = complete_battery(client, "abcdefgh")
    set_completed_at(app, "abcdefgh", datetime.now(UTC) - timedelta(days=30))

    retry = post(client, "abcdefgh", list(TEST_TYPES)[1], "2026-03-02T09:01:00.000Z")

    assert retry.status_code == 200
    assert retry.get_json()["test_id"] == stored[1]["test_id"]
    assert kept_refusals(app, "abcdefgh") == []


def test_a_closed_study_answers_get_as_an_unknown_id(app, client, make_study):
    make_study("P1", "baseline", study_id="abcdefgh")
    complete_battery(client, "abcdefgh")
    set_completed_at(app, "abcdefgh", datetime.now(UTC) - timedelta(hours=25))
    with app.app_context():
        seen_before = db.studies().find_one({"study_id": "abcdefgh"})["last_seen_at"]

    closed = client.get("/studies/abcdefgh")
    unknown = client.get("/studies/zzzzzzzz")

    assert closed.status_code == unknown.status_code == 404
    assert closed.get_json() == unknown.get_json()
    with app.app_context():
        assert db.studies().find_one({"study_id": "abcdefgh"})["last_seen_at"] == seen_before


def test_zero_grace_hours_close_the_study_with_its_sixth_test(app_config):
    app_config["COMPLETED_GRACE_HOURS"] = "0"
    app = create_app(app_config)
    client = app.test_client()
    with app.app_context():
        db.studies().insert_one(
            {"study_id": "abcdefgh", "participant_id": "P1", "study_type": "baseline"}
        )
    complete_battery(client, "abcdefgh")
    assert post(client, "abcdefgh", "choice_reaction_time").status_code == 409
    assert client.get("/studies/abcdefgh").status_code == 404


def test_the_refused_page_names_the_reason(app, admin, make_study):
    make_study("P1", "followup", study_id="abcdefgh")
    complete_battery(admin, "abcdefgh")
    set_completed_at(app, "abcdefgh", datetime.now(UTC) - timedelta(hours=48))
    assert post(admin, "abcdefgh").status_code == 409

    listed = admin.get("/admin/refused").get_data(as_text=True)
    (kept,) = kept_refusals(app, "abcdefgh")
    detail = admin.get(f"/admin/refused/{kept['quarantine_id']}").get_data(as_text=True)

    for page in (listed, detail):
        assert '<span class="badge">study completed</span>' in page
        assert "COMPLETED_GRACE_HOURS" in page
