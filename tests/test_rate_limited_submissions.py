"""A good test that arrives while its address is over the refusal limit is answered 429 but kept."""

import pytest
from conftest import load_sample

from intact import db, quarantine, results


@pytest.fixture
def app_config(app_config):
    app_config["RATELIMIT_TEST_REFUSALS"] = "2 per minute"
    return app_config


def _use_up_the_limit(client):
    for _ in range(2):
        assert (
            client.post("/tests", json=load_sample("delayed_recall", "nosuchid")).status_code == 400
        )


def test_a_valid_submission_over_the_limit_is_kept_for_recovery(app, client, make_study):
    study = make_study(study_id="clinicaa")
    _use_up_the_limit(client)

    response = client.post("/tests", json=load_sample("spatial_memory", study["study_id"]))

    assert response.status_code == 429
    with app.app_context():
        assert db.tests().count_documents({}) == 0
        (kept,) = quarantine.list_refused(study["study_id"]).items
        assert kept["message"] == results.RATE_LIMITED_MESSAGE
        raw = quarantine.get_refused(kept["quarantine_id"])["raw_body"]
    assert '"sm_rt": 5230' in raw


def test_the_answer_does_not_tell_a_known_id_from_an_unknown_one(client, make_study):
    study = make_study(study_id="clinicbb")
    _use_up_the_limit(client)
    known = client.post("/tests", json=load_sample("delayed_recall", study["study_id"]))
    unknown = client.post("/tests", json=load_sample("delayed_recall", "zzzzzzzz"))
    assert known.status_code == unknown.status_code == 429
    assert known.json == unknown.json


def test_nothing_is_kept_for_unknown_studies_or_unreadable_bodies(app, client):
    _use_up_the_limit(client)
    assert client.post("/tests", json=load_sample("delayed_recall", "zzzzzzzz")).status_code == 429
    assert (
        client.post("/tests", data=b"{not json", content_type="application/json").status_code == 429
    )
    with app.app_context():
        assert quarantine.count_refused() == 0
