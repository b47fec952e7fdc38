"""Refusal paths tell a guesser nothing: the same work for known and unknown study ids.

Timing is not measured (it is noise on a shared machine); the work is: every database operation
the app makes, recorded by collection and method. Before the answer is sent, a refusal naming a
known study makes exactly the operations one naming an unknown id makes; the quarantine write
for a known study comes after the answer. A submission answered 429 is counted, never read.
"""

import pytest
from conftest import load_sample

from intact import db, quarantine


class RecordedCollection:
    """A collection whose method calls are appended to `log` as (collection, method)."""

    def __init__(self, collection, log):
        self._collection = collection
        self._log = log

    def __getattr__(self, name):
        attribute = getattr(self._collection, name)
        if not callable(attribute):
            return attribute

        def recorded(*args, **kwargs):
            self._log.append((self._collection.name, name))
            return attribute(*args, **kwargs)

        return recorded


@pytest.fixture
def operations(monkeypatch):
    """The database operations the app makes, in order (cleared by the test as it goes)."""
    log = []
    real = db.collection
    monkeypatch.setattr(db, "collection", lambda name: RecordedCollection(real(name), log))
    return log


def answer_and_work(client, operations, payload):
    """(response, operations before the answer was sent, operations after it was closed)."""
    operations.clear()
    response = client.post("/tests", json=payload, buffered=False)
    before = list(operations)
    operations.clear()
    response.close()  # what the server does once the answer is sent
    return response, before, list(operations)


def invalid(study_id):
    payload = load_sample("spatial_memory", study_id)
    payload["time_elapsed_milliseconds"] = "slow"
    return payload


def test_a_refusal_does_the_same_work_for_known_and_unknown_ids_before_answering(
    app, client, make_study, operations
):
    make_study(study_id="knownaaa")
    known, known_before, known_after = answer_and_work(client, operations, invalid("knownaaa"))
    unknown, unknown_before, unknown_after = answer_and_work(
        client, operations, invalid("unknownx")
    )
    assert known.status_code == unknown.status_code == 422
    assert known.get_json() == unknown.get_json()
    assert known_before == unknown_before == [("studies", "find_one")]
    # The known study's body is kept after the answer has gone; nothing for the unknown id.
    assert ("quarantine", "insert_one") in known_after
    assert unknown_after == []
    with app.app_context():
        assert quarantine.count_refused("knownaaa") == 1
        assert quarantine.count_refused() == 1


def test_a_wrong_content_type_does_the_same_work_for_known_and_unknown_ids(
    client, make_study, operations
):
    make_study(study_id="knownaaa")
    answers = []
    for study_id in ("knownaaa", "unknownx"):
        operations.clear()
        response = client.post(
            "/tests",
            data=str(load_sample("spatial_memory", study_id)).replace("'", '"'),
            content_type="text/plain",
            buffered=False,
        )
        answers.append((response.status_code, response.get_json(), list(operations)))
        response.close()
    assert answers[0] == answers[1]
    assert answers[0][0] == 415


@pytest.fixture
def app_config(app_config):
    app_config["RATELIMIT_TEST_REFUSALS"] = "2 per minute"
    return app_config


def _use_up_the_limit(client):
    for _ in range(2):
        assert (
            client.post("/tests", json=load_sample("delayed_recall", "nosuchid")).status_code == 400
        )


def test_over_the_limit_known_and_unknown_ids_get_the_same_answer_and_work(
    app, client, make_study, operations
):
    study = make_study(study_id="clinicbb")
    _use_up_the_limit(client)
    known, known_before, known_after = answer_and_work(
        client, operations, load_sample("delayed_recall", study["study_id"])
    )
    unknown, unknown_before, unknown_after = answer_and_work(
        client, operations, load_sample("delayed_recall", "zzzzzzzz")
    )
    assert known.status_code == unknown.status_code == 429
    assert known.get_json() == unknown.get_json()
    # No study lookup, no body read: one counter, the same for both.
    assert known_before == unknown_before == [("quarantine_counters", "update_one")]
    assert known_after == unknown_after == []


def test_a_valid_submission_over_the_limit_is_counted_not_kept(app, client, make_study):
    study = make_study(study_id="clinicaa")
    _use_up_the_limit(client)
    response = client.post("/tests", json=load_sample("spatial_memory", study["study_id"]))
    assert response.status_code == 429
    also = client.post("/tests", data=b"{not json", content_type="application/json")
    assert also.status_code == 429
    with app.app_context():
        assert db.tests().count_documents({}) == 0
        assert quarantine.count_refused() == 0
        assert quarantine.not_kept_since(1) == {
            quarantine.RATE_LIMITED: 2,
            quarantine.STUDY_FULL: 0,
            quarantine.CLIENT_FULL: 0,
        }


def test_the_dashboard_says_how_many_were_not_kept(app, admin, make_study):
    make_study(study_id="clinicaa")
    _use_up_the_limit(admin)
    admin.post("/tests", json=load_sample("spatial_memory", "clinicaa"))
    page = admin.get("/admin/refused").get_data(as_text=True)
    assert "1 submission was answered 429" in page
