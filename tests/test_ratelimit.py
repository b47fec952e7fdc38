"""Rate limits that count failures only, per client address, with a JSON 429."""

import time

import pytest
from flask import Blueprint, abort, request
from flask.views import MethodView
from flask_smorest import Blueprint as ApiBlueprint
from limits import parse
from marshmallow import Schema, fields

from intact import config, create_app, ratelimit
from intact.accounts.permissions import public

KNOWN_STUDY = "abcdefgh"

probe = Blueprint("ratelimit_probe", __name__)


@probe.get("/probe/studies/<study_id>")
@public
@ratelimit.limit_study_lookups
def probe_study(study_id):
    """Stands in for GET /studies/<id>: known id 200, anything else 404."""
    if study_id != KNOWN_STUDY:
        abort(404)
    return {"study_type": "baseline"}


@probe.post("/probe/tests")
@public
@ratelimit.limit_test_submissions
def probe_submission():
    """Stands in for POST /tests: 200, or the 4xx the body asks for."""

    wanted = (request.get_json(silent=True) or {}).get("status", 200)
    if wanted != 200:
        abort(wanted)
    return {"stored": True}


smorest_probe = ApiBlueprint("ratelimit_smorest_probe", __name__)


class ProbeSubmissionSchema(Schema):
    study_id = fields.String(required=True)


@smorest_probe.route("/probe/smorest/tests")
@public
class ProbeSubmissions(MethodView):
    decorators = [ratelimit.limit_test_submissions]

    @smorest_probe.arguments(ProbeSubmissionSchema)
    @smorest_probe.response(200)
    def post(self, submission):
        """Stands in for a flask-smorest POST /tests: schema errors (422) come from webargs."""
        return {"study_id": submission["study_id"]}


@pytest.fixture
def app_config(app_config):
    app_config.update(
        RATELIMIT_STUDY_MISSES="3 per minute",
        RATELIMIT_TEST_REFUSALS="2 per minute",
        RATELIMIT_LOGIN_FAILURES="2 per minute",
    )
    return app_config


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    app.register_blueprint(probe)
    app.extensions["flask-smorest"]["apis"][""]["ext_obj"].register_blueprint(smorest_probe)
    return app


def from_address(address):
    return {"environ_base": {"REMOTE_ADDR": address}}


def test_study_misses_are_limited_with_a_json_429(client):
    for _ in range(3):
        assert client.get("/probe/studies/zzzzzzzz").status_code == 404
    response = client.get("/probe/studies/zzzzzzzz")
    assert response.status_code == 429
    assert "Too many unknown study ids" in response.json["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    # Once over the limit even a right guess is refused: otherwise the 429 would be an oracle.
    assert client.get(f"/probe/studies/{KNOWN_STUDY}").status_code == 429


def test_head_requests_count_as_lookups(client):
    # HEAD answers the same 404 or 200 as GET, without a body: it must not be a free oracle.
    for _ in range(3):
        assert client.head("/probe/studies/zzzzzzzz").status_code == 404
    assert client.head(f"/probe/studies/{KNOWN_STUDY}").status_code == 429
    assert client.get("/probe/studies/zzzzzzzz").status_code == 429


def test_successful_lookups_never_count(client):
    # A clinic: many participants behind one address open their valid links.
    for _ in range(50):
        assert client.get(f"/probe/studies/{KNOWN_STUDY}").status_code == 200
    for _ in range(3):
        assert client.get("/probe/studies/zzzzzzzz").status_code == 404
    assert client.get("/probe/studies/zzzzzzzz").status_code == 429


def test_counters_are_per_client_address(client):
    for _ in range(3):
        client.get("/probe/studies/zzzzzzzz", **from_address("10.0.0.1"))
    assert client.get("/probe/studies/zzzzzzzz", **from_address("10.0.0.1")).status_code == 429
    assert client.get("/probe/studies/zzzzzzzz", **from_address("10.0.0.2")).status_code == 404


def test_forwarded_for_is_ignored_without_a_trusted_proxy(client):
    for number in range(3):
        headers = {"X-Forwarded-For": f"198.51.100.{number}"}
        client.get("/probe/studies/zzzzzzzz", headers=headers)
    # Forging a new X-Forwarded-For per request does not give a fresh counter.
    response = client.get("/probe/studies/zzzzzzzz", headers={"X-Forwarded-For": "198.51.100.9"})
    assert response.status_code == 429


def test_forwarded_for_is_the_client_behind_a_trusted_proxy(app_config):
    app_config["TRUSTED_PROXIES"] = "1"
    app = create_app(app_config)
    app.register_blueprint(probe)
    client = app.test_client()
    proxy = from_address("127.0.0.1")
    for _ in range(3):
        client.get("/probe/studies/zzzzzzzz", headers={"X-Forwarded-For": "203.0.113.5"}, **proxy)
    blocked = client.get(
        "/probe/studies/zzzzzzzz", headers={"X-Forwarded-For": "203.0.113.5"}, **proxy
    )
    other = client.get(
        "/probe/studies/zzzzzzzz", headers={"X-Forwarded-For": "203.0.113.6"}, **proxy
    )
    assert blocked.status_code == 429
    assert other.status_code == 404


@pytest.mark.parametrize("refusal", [400, 404, 413, 422])
def test_refused_submissions_are_limited(client, refusal):
    for _ in range(2):
        assert client.post("/probe/tests", json={"status": refusal}).status_code == refusal
    response = client.post("/probe/tests", json={"status": 200})
    assert response.status_code == 429
    assert "Too many refused submissions" in response.json["message"]


def test_accepted_submissions_never_count(client):
    # 30 participants on one NAT, six tests each.
    for _ in range(180):
        assert client.post("/probe/tests", json={"status": 200}).status_code == 200


def test_server_errors_do_not_count_as_refusals(client):
    for _ in range(5):
        assert client.post("/probe/tests", json={"status": 503}).status_code == 503
    assert client.post("/probe/tests", json={"status": 200}).status_code == 200


def test_an_upload_that_stopped_arriving_is_no_refusal(client):
    # 408: a phone that lost its network mid-upload (intact/request_body.py), not a guesser.
    for _ in range(5):
        assert client.post("/probe/tests", json={"status": 408}).status_code == 408
    assert client.post("/probe/tests", json={"status": 200}).status_code == 200


def test_preflight_is_never_limited(client):
    for _ in range(2):
        client.post("/probe/tests", json={"status": 400})
    assert client.options("/probe/tests").status_code == 200


def test_schema_errors_from_flask_smorest_count(client):
    for _ in range(2):
        assert client.post("/probe/smorest/tests", json={"study": "x"}).status_code == 422
    response = client.post("/probe/smorest/tests", json={"study_id": KNOWN_STUDY})
    assert response.status_code == 429
    assert response.is_json


def test_limits_can_be_switched_off(app_config):
    app_config["RATELIMIT_ENABLED"] = "0"
    app = create_app(app_config)
    app.register_blueprint(probe)
    client = app.test_client()
    statuses = {client.get("/probe/studies/zzzzzzzz").status_code for _ in range(10)}
    assert statuses == {404}


def test_each_app_on_mongomock_starts_with_fresh_counters(app_config):
    # mongomock:// is a fresh database per app (counters on a shared store: test_counters.py).
    for _ in range(2):
        app = create_app(app_config)
        app.register_blueprint(probe)
        client = app.test_client()
        assert [client.get("/probe/studies/zzzzzzzz").status_code for _ in range(4)] == [
            404,
            404,
            404,
            429,
        ]


def test_apps_alive_at_once_keep_their_own_counters_and_switch(app_config):
    first = create_app(app_config)
    first.register_blueprint(probe)
    second = create_app(dict(app_config, RATELIMIT_ENABLED="0"))
    second.register_blueprint(probe)
    third = create_app(app_config)
    third.register_blueprint(probe)
    for _ in range(3):
        assert first.test_client().get("/probe/studies/zzzzzzzz").status_code == 404
    assert first.test_client().get("/probe/studies/zzzzzzzz").status_code == 429
    # The second app has limits off, the third its own fresh counters.
    assert {second.test_client().get("/probe/studies/zz").status_code for _ in range(5)} == {404}
    assert third.test_client().get("/probe/studies/zzzzzzzz").status_code == 404


def test_default_limits_are_generous_for_a_clinic_and_bounded_per_day():
    settings = config.from_environ({})
    misses = parse(settings["RATELIMIT_STUDY_MISSES"].split(";")[0])
    assert misses.amount >= 30  # 30 participants on one NAT may each mistype an id at once
    daily = [parse(item) for item in settings["RATELIMIT_STUDY_MISSES"].split(";")]
    assert any(limit.GRANULARITY.name == "day" for limit in daily)


@pytest.mark.parametrize(
    "name", ["RATELIMIT_STUDY_MISSES", "RATELIMIT_TEST_REFUSALS", "RATELIMIT_LOGIN_FAILURES"]
)
def test_invalid_limits_are_refused_at_start(name):
    with pytest.raises(config.ConfigError, match=f"{name} must be rate limits"):
        config.from_environ({name: "lots"})


def test_unreachable_counter_database_answers_503_quickly(app_config):
    # Port 9 (discard) on loopback: nothing listens, so MongoDB is unreachable.
    app_config.update(DB_CONNECTION_STR="mongodb://127.0.0.1:9/", DB_TIMEOUT_MS="1000")
    app = create_app(app_config)
    app.register_blueprint(probe)
    started = time.perf_counter()
    response = app.test_client().get("/probe/studies/zzzzzzzz")
    assert response.status_code == 503
    assert "database is not reachable" in response.json["message"]
    assert time.perf_counter() - started < 2
