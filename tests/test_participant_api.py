"""The participant API as the deployed front-end uses it: GET /studies/<id>, POST /tests, CORS."""

import copy
import io
import json
import random
import sqlite3
import threading
from datetime import UTC, datetime

import pytest
from conftest import (
    CONTRACT_SAMPLES,
    EXPECTED_TYPE,
    load_sample,
    store_locked_by_another_process,
)
from pymongo.errors import ServerSelectionTimeoutError

from intact import db, results
from intact.testtypes import UNCLASSIFIED

FRONTEND = "https://intact.sail.codes"
LOCALHOST = "http://localhost:5173"
PUBLIC_FIELDS = {
    "test_id",
    "test_type",
    "study_id",
    "time_started",
    "time_elapsed_milliseconds",
    "device_info",
    "notes",
    "result",
}


@pytest.fixture
def study(make_study):
    return make_study(participant_id="P042", study_type="followup", study_id="abcdefgh")


def stored_tests(app, **query):
    with app.app_context():
        return list(db.tests().find(query, {"_id": 0}))


def quarantined(app):
    with app.app_context():
        return list(db.quarantine().find({}, {"_id": 0}))


def post_raw(client, data, content_type="application/json", **kwargs):
    return client.post("/tests", data=data, content_type=content_type, **kwargs)


# --- the contract samples ------------------------------------------------------------------


@pytest.mark.parametrize("sample", CONTRACT_SAMPLES)
def test_contract_sample_is_stored_with_status_200(app, client, study, sample):
    payload = load_sample(sample, study["study_id"])
    response = client.post("/tests", json=payload)

    assert response.status_code == 200
    body = response.json
    assert set(body) == PUBLIC_FIELDS
    assert body["test_type"] == EXPECTED_TYPE[sample]
    assert body["study_id"] == study["study_id"]
    assert body["time_started"] == payload["time_started"]
    assert body["time_elapsed_milliseconds"] == payload["time_elapsed_milliseconds"]
    assert body["device_info"] == payload["device_info"]
    assert body["result"] == payload["result"] or sample.startswith("immediate_recall")

    (stored,) = stored_tests(app)
    assert stored["test_id"] == body["test_id"]
    assert stored["participant_id"] == "P042"
    assert stored["study_type"] == "followup"
    assert stored["test_type"] == EXPECTED_TYPE[sample]
    assert stored["time_started"] == datetime(2026, 11, 20, 14, 3, 7, 512000, tzinfo=UTC)
    assert stored["time_elapsed_milliseconds"] == 41873
    assert stored["result"] == payload["result"]
    assert stored["notes"] is None
    assert stored["extra"] == {}
    assert len(stored["fingerprint"]) == 64
    assert stored["received_at"].tzinfo is not None


def test_the_trailing_slash_answers_directly_without_redirect(client, study):
    response = client.post("/tests/", json=load_sample("spatial_memory", study["study_id"]))
    assert response.status_code == 200
    assert "Location" not in response.headers


def test_delayed_recall_score_zero_is_accepted(app, client, study):
    response = client.post(
        "/tests", json=load_sample("delayed_recall_none_recalled", study["study_id"])
    )
    assert response.status_code == 200
    assert stored_tests(app)[0]["result"] == {"dr_rt": 15002, "dr_score": 0}


def test_empty_result_is_kept_as_unclassified(app, client, study):
    payload = load_sample("spatial_memory_timed_out_no_answer", study["study_id"])
    response = client.post("/tests", json=payload)
    assert response.status_code == 200
    assert response.json["test_type"] == UNCLASSIFIED
    (stored,) = stored_tests(app)
    assert stored["test_type"] == UNCLASSIFIED
    assert stored["result"] == []


def test_empty_result_takes_a_claimed_list_type(app, client, study):
    payload = load_sample("spatial_memory_timed_out_no_answer", study["study_id"])
    payload["test_type"] = "spatial_memory"
    assert client.post("/tests", json=payload).status_code == 200
    assert stored_tests(app)[0]["test_type"] == "spatial_memory"


@pytest.mark.parametrize("rt", [-250, 0, 1_700_000_000_000, 2**63 - 1, -(2**63)])
def test_absurd_reaction_times_are_stored_as_sent(app, client, study, rt):
    payload = load_sample("choice_reaction_time", study["study_id"])
    payload["result"][0]["crt_rt"] = rt
    payload["result"][1]["crt_dwell"] = rt
    assert client.post("/tests", json=payload).status_code == 200
    (stored,) = stored_tests(app)
    assert stored["result"][0]["crt_rt"] == rt
    assert stored["result"][1]["crt_dwell"] == rt


def test_whole_floats_are_stored_as_integers(app, client, study):
    payload = load_sample("spatial_memory", study["study_id"])
    payload["result"][0]["sm_rt"] = 1.7e12
    payload["time_elapsed_milliseconds"] = 41873.0
    assert client.post("/tests", json=payload).status_code == 200
    (stored,) = stored_tests(app)
    assert stored["result"][0]["sm_rt"] == 1_700_000_000_000
    assert isinstance(stored["result"][0]["sm_rt"], int)
    assert isinstance(stored["time_elapsed_milliseconds"], int)


def test_unknown_fields_are_kept_at_the_top_level_and_inside_answers(app, client, study):
    payload = load_sample("visual_paired_associates", study["study_id"])
    payload["screen"] = {"width": 390, "height": 844}
    payload["app_version"] = "1.4.2"
    payload["result"][0]["vpa_cue"] = "bar3_cue.jpg"
    response = client.post("/tests", json=payload)
    assert response.status_code == 200
    assert response.json["result"][0]["vpa_cue"] == "bar3_cue.jpg"
    (stored,) = stored_tests(app)
    assert stored["extra"] == {"screen": {"width": 390, "height": 844}, "app_version": "1.4.2"}
    assert stored["result"][0]["vpa_cue"] == "bar3_cue.jpg"


def test_reserved_names_sent_by_a_client_stay_in_extra(app, client, study):
    payload = load_sample("spatial_memory", study["study_id"])
    payload.update(test_id="forged", participant_id="P999", fingerprint="x", extra=1)
    response = client.post("/tests", json=payload)
    assert response.status_code == 200
    assert response.json["test_id"] != "forged"
    (stored,) = stored_tests(app)
    assert stored["participant_id"] == "P042"
    assert stored["extra"] == {
        "test_id": "forged",
        "participant_id": "P999",
        "fingerprint": "x",
        "extra": 1,
    }


def test_null_notes_and_test_type_are_accepted(app, client, study):
    payload = load_sample("spatial_memory", study["study_id"])
    payload.update(notes=None, test_type=None)
    response = client.post("/tests", json=payload)
    assert response.status_code == 200
    assert response.json["test_type"] == "spatial_memory"


def test_notes_and_a_matching_test_type_are_accepted(app, client, study):
    payload = load_sample("digit_symbol_matching", study["study_id"])
    payload.update(notes="participant wore glasses", test_type="digit_symbol_matching")
    response = client.post("/tests", json=payload)
    assert response.status_code == 200
    assert response.json["notes"] == "participant wore glasses"
    assert stored_tests(app)[0]["notes"] == "participant wore glasses"


@pytest.mark.parametrize(
    ("sent", "answered"),
    [
        ("2026-11-20T16:03:07.512+02:00", "2026-11-20T14:03:07.512Z"),
        ("2026-11-20T14:03:07", "2026-11-20T14:03:07.000Z"),
        ("2026-11-20T14:03:07.512999Z", "2026-11-20T14:03:07.512Z"),
    ],
)
def test_time_started_is_stored_in_utc(app, client, study, sent, answered):
    payload = load_sample("spatial_memory", study["study_id"])
    payload["time_started"] = sent
    response = client.post("/tests", json=payload)
    assert response.status_code == 200
    assert response.json["time_started"] == answered
    stored_as = datetime.fromisoformat(answered)
    assert stored_as.tzinfo == UTC
    assert stored_tests(app)[0]["time_started"] == stored_as


# --- idempotency and retakes ---------------------------------------------------------------


def test_identical_resubmission_answers_the_first_test_and_stores_nothing(app, client, study):
    payload = load_sample("choice_reaction_time", study["study_id"])
    first = client.post("/tests", json=payload)
    again = client.post("/tests", json=payload)
    assert first.status_code == again.status_code == 200
    assert again.json == first.json
    assert len(stored_tests(app)) == 1


def test_resubmission_differing_only_in_key_order_or_device_is_the_same_test(app, client, study):
    payload = load_sample("immediate_recall", study["study_id"])
    first = client.post("/tests", json=payload).json
    reordered = dict(reversed(list(payload.items())))
    reordered["result"] = dict(reversed(list(payload["result"].items())))
    reordered["device_info"] = "another browser"
    again = client.post("/tests", json=reordered)
    assert again.status_code == 200
    assert again.json["test_id"] == first["test_id"]
    assert len(stored_tests(app)) == 1


def test_retakes_are_kept(app, client, study):
    payload = load_sample("delayed_recall", study["study_id"])
    later = copy.deepcopy(payload)
    later["time_started"] = "2026-11-21T09:00:00.000Z"
    other_answer = copy.deepcopy(payload)
    other_answer["result"]["dr_score"] = 5
    ids = {client.post("/tests", json=p).json["test_id"] for p in (payload, later, other_answer)}
    assert len(ids) == 3
    assert len(stored_tests(app, test_type="delayed_recall")) == 3


def test_the_same_result_for_two_studies_is_two_tests(app, client, make_study):
    first, second = make_study(study_id="aaaaaaaa"), make_study(study_id="bbbbbbbb")
    for study in (first, second):
        assert (
            client.post("/tests", json=load_sample("spatial_memory", study["study_id"])).status_code
            == 200
        )
    assert len(stored_tests(app)) == 2


def test_concurrent_submissions_are_each_stored_once(app, study):
    """20 threads at once: 10 distinct submissions, and 10 copies of one more."""
    distinct = []
    for index in range(10):
        payload = load_sample("spatial_memory", study["study_id"])
        payload["result"][0]["sm_rt"] = 1000 + index
        distinct.append(payload)
    duplicate = load_sample("digit_symbol_matching", study["study_id"])
    payloads = distinct + [duplicate] * 10
    barrier = threading.Barrier(len(payloads))
    answers = [None] * len(payloads)

    def post(index, payload):
        client = app.test_client()
        barrier.wait()
        answers[index] = client.post("/tests", json=payload)

    threads = [threading.Thread(target=post, args=item) for item in enumerate(payloads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert [answer.status_code for answer in answers] == [200] * len(payloads)
    spatial = stored_tests(app, test_type="spatial_memory")
    assert sorted(t["result"][0]["sm_rt"] for t in spatial) == list(range(1000, 1010))
    (stored_duplicate,) = stored_tests(app, test_type="digit_symbol_matching")
    assert {answer.json["test_id"] for answer in answers[10:]} == {stored_duplicate["test_id"]}


# --- bad input: a 4xx JSON error naming the problem, never a 500 -----------------------------


def sample_with(study_id, change):
    payload = load_sample("choice_reaction_time", study_id)
    change(payload)
    return payload


def top(**fields):
    """A change setting top-level fields (names that are not identifiers go through **{})."""
    return lambda payload: payload.update(fields)


def answer(index, **fields):
    """A change setting fields of one answer of the result list."""
    return lambda payload: payload["result"][index].update(fields)


def drop(*path):
    """A change deleting the field at this path."""

    def change(payload):
        node = payload
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return change


ELAPSED = "time_elapsed_milliseconds"
INVALID_FIELDS = [
    pytest.param(top(study_id={"$ne": ""}), "study_id", id="study_id operator"),
    pytest.param(top(study_id=12345678), "study_id", id="study_id number"),
    pytest.param(drop("study_id"), "study_id", id="study_id missing"),
    pytest.param(top(time_started="yesterday"), "time_started", id="time_started garbage"),
    pytest.param(top(time_started=1763647387512), "time_started", id="time_started number"),
    pytest.param(
        top(time_started="0001-01-01T00:00:00+01:00"), "time_started", id="time_started overflow"
    ),
    pytest.param(top(**{ELAPSED: "41873"}), ELAPSED, id="elapsed as text"),
    pytest.param(top(**{ELAPSED: 1.5}), ELAPSED, id="elapsed fractional"),
    pytest.param(top(**{ELAPSED: 2**63}), ELAPSED, id="elapsed beyond int64"),
    pytest.param(top(**{ELAPSED: True}), ELAPSED, id="elapsed boolean"),
    pytest.param(drop("device_info"), "device_info", id="device_info missing"),
    pytest.param(top(device_info={"$gt": ""}), "device_info", id="device_info operator"),
    pytest.param(top(notes=5), "notes", id="notes number"),
    pytest.param(top(test_type="memory"), "test_type", id="test_type unknown"),
    pytest.param(top(test_type="spatial_memory"), "test_type", id="test_type disagrees"),
    pytest.param(drop("result"), "result", id="result missing"),
    pytest.param(top(result="412,96,true,right"), "result", id="result a string"),
    pytest.param(answer(0, crt_rt="412"), "result.0.crt_rt", id="rt as text"),
    pytest.param(answer(1, crt_correct=1), "result.1.crt_correct", id="correct as number"),
    pytest.param(answer(0, crt_response="up"), "result.0.crt_response", id="response unknown"),
    pytest.param(drop("result", 0, "crt_dwell"), "result.0.crt_dwell", id="answer field missing"),
    pytest.param(
        lambda p: p["result"].append({"sm_rt": 1, "sm_correct": True}), "result", id="mixed types"
    ),
    pytest.param(lambda p: p["result"].append(7), "result", id="answer not an object"),
    pytest.param(answer(0, crt_rt={"$gt": 0}), "result.0.crt_rt", id="operator in an answer"),
    pytest.param(answer(0, **{"$where": "1"}), "result.0.$where", id="operator key in answer"),
    pytest.param(top(**{"$set": {"x": 1}}), "$set", id="operator key at the top"),
    pytest.param(top(**{"a.b": 1}), "a.b", id="dotted key"),
    pytest.param(top(**{"a\x00b": 1}), "a\\x00b", id="NUL in a key"),
    pytest.param(top(device_info="Mozilla\ud800"), "device_info", id="unpaired surrogate"),
    pytest.param(top(counter=2**80), "counter", id="huge number in extra"),
    pytest.param(top(deep=json.loads("[" * 40 + "]" * 40)), "deep", id="deep extra"),
]


@pytest.mark.parametrize(("change", "field"), INVALID_FIELDS)
def test_invalid_fields_get_422_naming_the_field(app, client, study, change, field):
    response = post_raw(client, json.dumps(sample_with(study["study_id"], change)))
    assert response.status_code == 422
    assert response.is_json
    message = response.json["message"]
    assert f"{field}:" in message or f"{field}." in message
    assert response.json["errors"]["json"]
    assert stored_tests(app) == []


@pytest.mark.parametrize(("dr_score", "ir_score"), [(6, 2), (-1, 2), (2, 3), (2, -1), (2.5, 2)])
def test_scores_out_of_range_are_refused(client, study, dr_score, ir_score):
    delayed = load_sample("delayed_recall", study["study_id"])
    delayed["result"]["dr_score"] = dr_score
    immediate = load_sample("immediate_recall", study["study_id"])
    immediate["result"]["ir_score"] = ir_score
    statuses = {
        name: client.post("/tests", json=payload)
        for name, payload in (("dr_score", delayed), ("ir_score", immediate))
    }
    refused = [name for name, answer in statuses.items() if answer.status_code == 422]
    assert refused
    for name in refused:
        assert f"result.{name}" in statuses[name].json["message"]


def test_list_length_limits_are_refused(client, study):
    payload = load_sample("spatial_memory", study["study_id"])
    payload["result"] = payload["result"] * 3
    response = client.post("/tests", json=payload)
    assert response.status_code == 422
    assert "at most 5 answers" in response.json["message"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "complaint"),
    [
        (b'{"study_id": ', "application/json", 400, "not valid JSON"),
        (b"", "application/json", 400, "empty"),
        (b"   ", "application/json", 400, "empty"),
        (b'{"a": NaN}', "application/json", 400, "NaN"),
        (b'{"a": Infinity}', "application/json", 400, "Infinity"),
        (b'{"s": "\xff"}', "application/json", 400, "UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "nested too deeply"),
        (b"[]", "application/json", 400, "not a list"),
        (b'"abcdefgh"', "application/json", 400, "not a string"),
        (b"42", "application/json", 400, "not a number"),
        (b"null", "application/json", 400, "not null"),
        (b"true", "application/json", 400, "not a boolean"),
        (b'{"study_id": "abcdefgh"}', "text/plain", 415, "text/plain"),
        (b'{"study_id": "abcdefgh"}', "application/x-www-form-urlencoded", 415, "application/json"),
        (b"study_id=abcdefgh", "application/x-www-form-urlencoded", 415, "application/json"),
        (b'{"study_id": "abcdefgh"}', None, 415, "no Content-Type"),
    ],
)
def test_unreadable_bodies_get_a_clear_4xx(
    app, client, study, body, content_type, status, complaint
):
    response = client.post("/tests", data=body, content_type=content_type)
    assert response.status_code == status
    assert response.is_json
    assert complaint in response.json["message"]
    assert stored_tests(app) == []


def test_json_with_charset_and_vendor_json_types_are_accepted(client, study):
    body = json.dumps(load_sample("spatial_memory", study["study_id"]))
    assert post_raw(client, body, "application/json; charset=utf-8").status_code == 200
    assert post_raw(client, body.encode("utf-8-sig"), "application/json").status_code == 200


def test_unknown_study_is_a_400_and_nothing_is_stored(app, client, study):
    payload = load_sample("spatial_memory", "zzzzzzzz")
    response = client.post("/tests", json=payload)
    assert response.status_code == 400
    assert "study_id" in response.json["message"]
    assert stored_tests(app) == []
    assert quarantined(app) == []


def test_body_over_the_size_limit_is_a_413_json(app_config, make_study):
    from intact import create_app

    app_config["MAX_CONTENT_LENGTH"] = "2048"
    app = create_app(app_config)
    with app.app_context():
        db.studies().insert_one(
            {"study_id": "abcdefgh", "participant_id": "P1", "study_type": "baseline"}
        )
    payload = load_sample("visual_paired_associates", "abcdefgh")
    payload["padding"] = "x" * 4096
    response = app.test_client().post("/tests", json=payload, headers={"Origin": FRONTEND})
    assert response.status_code == 413
    assert response.is_json
    assert "2048 bytes" in response.json["message"]
    assert response.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert stored_tests(app) == []


@pytest.mark.parametrize(("size", "status"), [(4096, 413), (1500, 200)])
def test_chunked_body_over_the_size_limit_is_a_413_not_a_cut(app_config, size, status):
    """A body without Content-Length (chunked) is cut at the limit by werkzeug: not accepted."""
    from intact import create_app

    app_config["MAX_CONTENT_LENGTH"] = "2048"
    app = create_app(app_config)
    with app.app_context():
        db.studies().insert_one({"study_id": "abcdefgh", "participant_id": "P1"})
    payload = load_sample("spatial_memory", "abcdefgh")
    raw = json.dumps(payload).encode()
    raw = raw[:-1] + b" " * (size - len(raw)) + b"}"
    response = app.test_client().post(
        "/tests",
        input_stream=io.BytesIO(raw),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        # What gunicorn says of a chunked body it has de-chunked: safe to read to the end.
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == status
    assert response.is_json


def _mutations(payload, rng):
    """Random damage to a valid submission: the kind a broken client or a fuzzer sends."""
    odd_values = [None, "", "x", 0, -1, 1.5, 2**64, True, [], {}, {"$ne": ""}, [1, "a"], "\u0000"]
    mutated = copy.deepcopy(payload)
    target = mutated
    keys = list(target)
    key = rng.choice(keys)
    if isinstance(target[key], list) and target[key] and rng.random() < 0.7:
        answer = rng.choice(target[key])
        if isinstance(answer, dict):
            answer[rng.choice(list(answer))] = rng.choice(odd_values)
            return mutated
    if isinstance(target[key], dict) and rng.random() < 0.7:
        target[key][rng.choice(list(target[key]))] = rng.choice(odd_values)
        return mutated
    target[key] = rng.choice(odd_values)
    return mutated


@pytest.fixture
def without_rate_limits(app_config):
    """For tests that send many refused requests on purpose (use before `client` / `app`)."""
    app_config["RATELIMIT_ENABLED"] = "0"


def test_random_damage_never_causes_a_500(without_rate_limits, client, study):
    rng = random.Random(20261120)
    statuses = set()
    for round_ in range(300):
        sample = CONTRACT_SAMPLES[round_ % len(CONTRACT_SAMPLES)]
        payload = _mutations(load_sample(sample, study["study_id"]), rng)
        response = client.post("/tests", json=payload)
        assert response.status_code in {200, 400, 422}, (payload, response.json)
        assert response.is_json
        statuses.add(response.status_code)
    assert {200, 422} <= statuses


def test_other_methods_are_a_json_405(client):
    response = client.get("/tests")
    assert response.status_code == 405
    assert response.is_json


def test_database_down_is_a_503_not_a_500(client, study, monkeypatch):
    class Unreachable:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise ServerSelectionTimeoutError("no server")

            return fail

    monkeypatch.setattr(db, "tests", Unreachable)
    response = client.post("/tests", json=load_sample("spatial_memory", study["study_id"]))
    assert response.status_code == 503
    assert response.is_json
    assert response.headers["Retry-After"]

    monkeypatch.setattr(db, "studies", Unreachable)
    assert client.get(f"/studies/{study['study_id']}").status_code == 503


def test_a_locked_embedded_store_is_a_503_and_the_retry_is_stored_once(app_config):
    from intact import create_app

    app_config.update(DB_CONNECTION_STR="", DB_TIMEOUT_MS="1000")
    app = create_app(app_config)
    with app.app_context():
        db.studies().insert_one({"study_id": "abcdefgh", "participant_id": "P1"})
    client = app.test_client()
    payload = load_sample("digit_symbol_matching", "abcdefgh")
    with store_locked_by_another_process(app_config["DATA_DIR"], collections=("tests",)):
        refused = client.post("/tests", json=payload)
    assert refused.status_code == 503
    assert refused.is_json
    assert client.post("/tests", json=payload).status_code == 200
    assert len(stored_tests(app)) == 1


def test_a_failed_last_seen_update_does_not_undo_the_200(app, client, study, monkeypatch):
    def locked(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(results, "record_activity", locked)
    response = client.post("/tests", json=load_sample("spatial_memory", study["study_id"]))
    assert response.status_code == 200
    assert len(stored_tests(app)) == 1


# --- quarantine -----------------------------------------------------------------------------


def test_refused_submission_of_a_known_study_is_quarantined(app, client, study):
    payload = load_sample("delayed_recall", study["study_id"])
    payload["result"]["dr_score"] = "four"
    raw = json.dumps(payload, indent=1)
    response = post_raw(client, raw)
    assert response.status_code == 422

    (kept,) = quarantined(app)
    assert kept["study_id"] == study["study_id"]
    assert kept["participant_id"] == "P042"
    assert kept["raw_body"] == raw
    assert kept["content_type"] == "application/json"
    assert kept["message"] == response.json["message"]
    assert kept["errors"] == [{"field": "result.dr_score", "message": "Not a whole number."}]
    assert kept["received_at"].tzinfo is not None
    assert stored_tests(app) == []


def test_wrong_content_type_of_a_known_study_is_quarantined(app, client, study):
    raw = json.dumps(load_sample("spatial_memory", study["study_id"]))
    assert post_raw(client, raw, "text/plain;charset=UTF-8").status_code == 415
    (kept,) = quarantined(app)
    assert kept["raw_body"] == raw
    assert kept["errors"][0]["field"] == "body"


@pytest.mark.parametrize(
    "payload",
    [
        {"study_id": "zzzzzzzz", "result": "nonsense"},
        {"study_id": {"$ne": ""}, "result": "nonsense"},
        {"study_id": "abcdefgh\ud800", "result": "nonsense"},
    ],
)
def test_refused_submission_of_an_unknown_study_is_not_kept(app, client, study, payload):
    assert client.post("/tests", json=payload).status_code == 422
    assert quarantined(app) == []


def test_the_refusal_stands_when_the_quarantine_cannot_be_written(app, client, study, caplog):
    def unreachable():
        raise ServerSelectionTimeoutError("no server")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(db, "quarantine", unreachable)
        response = client.post("/tests", json={"study_id": study["study_id"], "result": 1})
    assert response.status_code == 422
    assert "could not keep a refused submission" in caplog.text


def test_malformed_json_is_not_kept(app, client, study):
    assert post_raw(client, '{"study_id": "abcdefgh", ').status_code == 400
    assert quarantined(app) == []


# --- GET /studies/<study_id> ----------------------------------------------------------------


def test_study_lookup_answers_only_the_type(client, study):
    response = client.get(f"/studies/{study['study_id']}")
    assert response.status_code == 200
    assert response.json == {"study_type": "followup"}


@pytest.mark.parametrize(
    "study_id", ["zzzzzzzz", "abcdefgha", "abcd efgh", "abcdefg", "%00", "%ED%A0%80", "x" * 5000]
)
def test_unknown_study_is_a_json_404(client, study, study_id):
    response = client.get(f"/studies/{study_id}")
    assert response.status_code == 404
    assert response.is_json
    assert response.json["message"]


@pytest.mark.parametrize(
    "typed",
    ["Abcdefgh", "ABCDEFGH", "abcdefgh%20", "%20Abcdefgh%20%20", "abcdefgh%09", "%EF%BC%A1bcdefgh"],
    ids=["capitalised", "upper", "trailing-space", "spaces", "tab", "full-width"],
)
def test_a_study_id_typed_on_a_phone_finds_its_study(app, client, study, typed):
    response = client.get(f"/studies/{typed}")
    assert (response.status_code, response.json) == (200, {"study_type": "followup"})
    with app.app_context():
        stored = db.studies().find_one({"study_id": "abcdefgh"})
    assert stored["first_opened_at"] is not None


@pytest.mark.parametrize("typed", ["Abcdefgh", "ABCDEFGH ", " abcdefgh\t"])
def test_a_submission_with_a_typed_study_id_is_stored_under_the_canonical_id(
    app, client, study, typed
):
    response = client.post("/tests", json=load_sample("spatial_memory", typed))
    assert response.status_code == 200
    assert response.json["study_id"] == "abcdefgh"
    (stored,) = stored_tests(app)
    assert (stored["study_id"], stored["participant_id"]) == ("abcdefgh", "P042")
    # The same test sent again with the id spelled another way is the same test.
    again = client.post("/tests", json=load_sample("spatial_memory", "abcdefgh"))
    assert again.json["test_id"] == response.json["test_id"]
    assert len(stored_tests(app)) == 1


def test_a_refused_submission_with_a_typed_study_id_is_kept_under_the_canonical_id(
    app, client, study
):
    payload = load_sample("spatial_memory", "Abcdefgh ")
    payload["time_elapsed_milliseconds"] = "slow"
    assert client.post("/tests", json=payload).status_code == 422
    (kept,) = quarantined(app)
    assert kept["study_id"] == "abcdefgh"


def test_study_lookup_records_first_opened_and_last_seen(app, client, study):
    client.get(f"/studies/{study['study_id']}")
    with app.app_context():
        first = db.studies().find_one({"study_id": study["study_id"]})
    client.get(f"/studies/{study['study_id']}")
    with app.app_context():
        second = db.studies().find_one({"study_id": study["study_id"]})
    assert second["first_opened_at"] == first["first_opened_at"]
    assert second["last_seen_at"] >= first["last_seen_at"]


def test_accepted_submission_records_last_seen(app, client, study):
    client.post("/tests", json=load_sample("spatial_memory", study["study_id"]))
    with app.app_context():
        stored = db.studies().find_one({"study_id": study["study_id"]})
    assert stored["last_seen_at"].tzinfo is not None
    assert "first_opened_at" not in stored


# --- CORS -----------------------------------------------------------------------------------


def preflight(client, path, origin, method="POST"):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type",
        },
    )


@pytest.mark.parametrize("origin", [FRONTEND, LOCALHOST])
@pytest.mark.parametrize("path", ["/tests", "/tests/", "/studies/abcdefgh", "/studies/Abcdefgh%20"])
def test_preflight_from_the_front_end_is_allowed(app_config, origin, path):
    from intact import create_app

    app_config["CORS_LOCALHOST_ORIGIN"] = LOCALHOST
    client = create_app(app_config).test_client()
    response = preflight(client, path, origin)
    assert 200 <= response.status_code < 300
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Location" not in response.headers


def test_study_lookup_is_allowed_cross_origin(app_config, make_study):
    from intact import create_app

    app_config["CORS_LOCALHOST_ORIGIN"] = LOCALHOST
    app = create_app(app_config)
    with app.app_context():
        db.studies().insert_one({"study_id": "abcdefgh", "participant_id": "P1"})
    client = app.test_client()
    response = client.get("/studies/abcdefgh", headers={"Origin": FRONTEND})
    assert response.headers["Access-Control-Allow-Origin"] == FRONTEND
    # Two origins: the answer depends on the request's Origin, and says so to caches.
    assert "Origin" in response.headers["Vary"]
    missing = client.get("/studies/zzzzzzzz", headers={"Origin": FRONTEND})
    assert missing.headers["Access-Control-Allow-Origin"] == FRONTEND


def test_error_answers_carry_cors_headers_so_the_front_end_can_read_them(client, study):
    for payload in ({"study_id": "zzzzzzzz"}, load_sample("spatial_memory", "zzzzzzzz")):
        response = client.post("/tests", json=payload, headers={"Origin": FRONTEND})
        assert response.status_code in {400, 422}
        assert response.headers["Access-Control-Allow-Origin"] == FRONTEND


@pytest.mark.parametrize("path", ["/tests", "/tests/", "/studies/abcdefgh"])
def test_other_origins_get_no_allow_header(client, study, path):
    response = preflight(client, path, "https://evil.example", method="GET")
    assert "Access-Control-Allow-Origin" not in response.headers
    actual = client.post(
        "/tests",
        json=load_sample("spatial_memory", study["study_id"]),
        headers={"Origin": "https://intact.sail.codes.evil.example"},
    )
    assert "Access-Control-Allow-Origin" not in actual.headers


def test_other_endpoints_are_not_cross_origin(client):
    response = client.get("/healthz", headers={"Origin": FRONTEND})
    assert "Access-Control-Allow-Origin" not in response.headers


PARTICIPANT_ENDPOINTS = {"participant.Study", "participant.Tests"}


def test_the_cors_rule_matches_no_route_but_the_participant_endpoints(app, client):
    """Every route of the app, with its variables filled in, against the CORS patterns."""
    import re

    from intact.api.participant import CORS_RESOURCES

    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PARTICIPANT_ENDPOINTS:
            continue
        for value in ("abcdefgh", "x", "download-file"):
            path = re.sub(r"<[^>]+>", value, rule.rule)
            matching = [p for p in CORS_RESOURCES if re.match(p, path)]
            assert not matching, f"{rule.endpoint} ({path}) is cross-origin by {matching}"
            checked += 1
    assert checked > 50
    for path in ("/studies/download-file", "/studies/upload-file", "/studies/download-file/"):
        answer = preflight(client, path, FRONTEND)
        assert "Access-Control-Allow-Origin" not in answer.headers, path


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, ""),
        ({"LOCAL_MODE": "1"}, LOCALHOST),
        ({"LOCAL_MODE": "1", "CORS_LOCALHOST_ORIGIN": ""}, ""),
        ({"CORS_LOCALHOST_ORIGIN": "http://localhost:3000"}, "http://localhost:3000"),
    ],
    ids=["deployment", "local-mode", "local-mode-switched-off", "set"],
)
def test_the_development_origin_is_empty_unless_local_mode_or_set(tmp_path, environment, expected):
    from intact import config

    settings = config.from_environ({"DATA_DIR": str(tmp_path), **environment})
    assert settings["CORS_LOCALHOST_ORIGIN"] == expected


def test_an_asterisk_allows_every_origin(app_config):
    from intact import create_app

    app_config["CORS_LOCALHOST_ORIGIN"] = "*"
    client = create_app(app_config).test_client()
    response = preflight(client, "/tests", "https://anywhere.example")
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_an_empty_localhost_origin_is_not_allowed(app_config):
    from intact import create_app

    app_config["CORS_LOCALHOST_ORIGIN"] = ""
    app_config["CORS_FRONTEND_ORIGIN"] = "https://study.example.org/"
    client = create_app(app_config).test_client()
    assert "Access-Control-Allow-Origin" not in preflight(client, "/tests", LOCALHOST).headers
    allowed = preflight(client, "/tests", "https://study.example.org")
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://study.example.org"


# --- rate limits on failures ----------------------------------------------------------------


@pytest.fixture
def tight_limits(app_config):
    app_config["RATELIMIT_STUDY_MISSES"] = "3 per minute"
    app_config["RATELIMIT_TEST_REFUSALS"] = "2 per minute"


def test_study_misses_are_limited_and_hits_do_not_count(tight_limits, client, study):
    for _ in range(5):
        assert client.get(f"/studies/{study['study_id']}").status_code == 200
    assert [client.get("/studies/zzzzzzzz").status_code for _ in range(3)] == [404] * 3
    blocked = client.get(f"/studies/{study['study_id']}", headers={"Origin": FRONTEND})
    assert blocked.status_code == 429
    assert blocked.is_json
    assert int(blocked.headers["Retry-After"]) >= 1
    assert blocked.headers["Access-Control-Allow-Origin"] == FRONTEND


def test_refused_submissions_are_limited_and_accepted_ones_do_not_count(
    tight_limits, app, client, study
):
    for index in range(4):
        payload = load_sample("spatial_memory", study["study_id"])
        payload["result"][0]["sm_rt"] = index
        assert client.post("/tests", json=payload).status_code == 200
    assert client.post("/tests", json={"study_id": "zzzzzzzz"}).status_code == 422
    assert post_raw(client, "{").status_code == 400
    blocked = client.post("/tests", json=load_sample("delayed_recall", study["study_id"]))
    assert blocked.status_code == 429
    assert blocked.is_json
    assert len(stored_tests(app)) == 4
