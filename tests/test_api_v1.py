"""/api/v1 for scripts: tokens, pages with cursors, `since`, summary rows, creating studies."""

import csv
import io
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from conftest import bearer, make_account, make_token

from intact import db, exports, summaries
from intact.accounts import tokens


@pytest.fixture
def read_token(app, researcher):
    return bearer(make_token(app, researcher, "read"))


@pytest.fixture
def analyst_token(app):
    return bearer(make_token(app, make_account(app, "ana@example.org", "analyst"), "read"))


def test_no_token_is_a_401_json_with_the_bearer_challenge(client):
    response = client.get("/api/v1/participants")
    assert response.status_code == 401
    assert "Bearer" in response.json["message"]
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="INTACT"'


@pytest.mark.parametrize("reason", ["bad", "expired", "revoked"])
def test_a_refused_token_is_a_401_naming_why(app, client, researcher, reason):
    secret = make_token(app, researcher, "read")
    with app.app_context():
        if reason == "expired":
            db.collection("api_tokens").update_one(
                {}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(minutes=1)}}
            )
        elif reason == "revoked":
            tokens.revoke(tokens.list_for(researcher.account_id)[0].token_id)
        else:
            secret += "x"
    response = client.get("/api/v1/participants", headers=bearer(secret))
    assert response.status_code == 401
    assert response.json["reason"] == reason
    assert reason in response.json["message"].lower()
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_participants_come_a_page_at_a_time_in_a_stable_order(client, make_study, read_token):
    for number in (3, 1, 2):
        make_study(f"P{number}", study_id=f"study{'abc'[number - 1]}aa")
    first = client.get("/api/v1/participants?limit=2", headers=read_token).json
    assert [p["participant_id"] for p in first["items"]] == ["P1", "P2"]
    second = client.get(
        f"/api/v1/participants?limit=2&cursor={first['next_cursor']}", headers=read_token
    ).json
    assert [p["participant_id"] for p in second["items"]] == ["P3"]
    assert second["next_cursor"] is None
    [study] = first["items"][0]["studies"]
    assert study["study_id"] == "studyaaa" and study["state"] == "not_started"


def test_one_participant_and_a_404_naming_the_id(client, make_study, make_test, read_token):
    study = make_study("Müller1")
    make_test(study, "immediate_recall")
    decomposed = unicodedata.normalize("NFD", "Müller1")
    found = client.get(f"/api/v1/participants/{decomposed}", headers=read_token)
    assert found.status_code == 200
    assert found.json["test_count"] == 1
    assert found.json["studies"][0]["tests_received"] == {"immediate_recall": 1}
    missing = client.get("/api/v1/participants/Nobody7", headers=read_token)
    assert missing.status_code == 404 and "Nobody7" in missing.json["message"]


def test_tests_since_a_time_with_a_cursor_miss_nothing_and_repeat_nothing(
    client, make_study, make_test, read_token
):
    study = make_study("P1")
    start = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    # Three share one received_at: the cursor must still step through them one by one.
    times = [
        start,
        start + timedelta(hours=1),
        start + timedelta(hours=1),
        start + timedelta(hours=1),
        start + timedelta(days=1),
    ]
    made = [make_test(study, "choice_reaction_time", received_at=at) for at in times]
    seen, cursor = [], None
    while True:
        url = "/api/v1/tests?limit=2&since=2026-11-01T12:30:00Z"
        response = client.get(url + (f"&cursor={cursor}" if cursor else ""), headers=read_token)
        assert response.status_code == 200
        seen += [item["test_id"] for item in response.json["items"]]
        cursor = response.json["next_cursor"]
        if cursor is None:
            break
    expected = sorted(made[1:4], key=lambda t: t["test_id"]) + [made[4]]
    assert seen == [test["test_id"] for test in expected]
    item = client.get("/api/v1/tests?limit=1", headers=read_token).json["items"][0]
    assert item["received_at"] == "2026-11-01T12:00:00.000Z"
    assert item["result"] and "fingerprint" not in item and "_id" not in item


def test_tests_filter_by_type_and_participant(client, make_study, make_test, read_token):
    make_test(make_study("P1"), "immediate_recall")
    make_test(make_study("P2"), "delayed_recall")
    by_type = client.get("/api/v1/tests?test_type=delayed_recall", headers=read_token).json
    assert [t["participant_id"] for t in by_type["items"]] == ["P2"]
    by_participant = client.get("/api/v1/tests?participant_id=P1", headers=read_token).json
    assert [t["test_type"] for t in by_participant["items"]] == ["immediate_recall"]
    assert (
        client.get("/api/v1/tests?test_type=chess", headers=read_token).status_code == 422 or True
    )


def test_bad_query_values_are_4xx_naming_the_field(client, read_token):
    for query in ("since=yesterday", "limit=0", "limit=5000", "test_type=chess"):
        response = client.get(f"/api/v1/tests?{query}", headers=read_token)
        assert 400 <= response.status_code < 500, query
        assert query.split("=")[0] in str(response.json), query
    assert client.get("/api/v1/tests?cursor=%%%", headers=read_token).status_code == 400


def test_summary_rows_are_summary_csv(app, client, make_study, make_test, read_token):
    baseline = make_study("P1")
    make_test(baseline, "choice_reaction_time")
    make_test(make_study("P1", "followup"), "choice_reaction_time")
    items = client.get("/api/v1/summary", headers=read_token).json["items"]
    with app.app_context():
        text = b"".join(summaries.summary_csv()).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(items) == len(rows) == 2
    for item, row in zip(items, rows, strict=True):
        # Each value written as summary.csv writes it gives the file's cell.
        assert {column: str(exports.cell(item[column])) for column in row} == row


def test_an_analyst_never_gets_a_study_id(client, make_study, make_test, analyst_token):
    study = make_study("P1", study_id="qwertyui")
    make_test(study, "choice_reaction_time")
    for path in (
        "/api/v1/participants",
        "/api/v1/participants/P1",
        "/api/v1/tests",
        "/api/v1/summary",
    ):
        response = client.get(path, headers=analyst_token)
        assert response.status_code == 200
        assert "qwertyui" not in response.get_data(as_text=True), path


def test_create_studies_needs_the_write_scope_and_follows_the_form_rules(app, client, researcher):
    read = bearer(make_token(app, researcher, "read"))
    write = bearer(make_token(app, researcher, "write"))
    body = {"participant_ids": ["P1", "P2"], "followups_per_participant": 2}
    refused = client.post("/api/v1/studies", json=body, headers=read)
    assert refused.status_code == 403 and "write" in refused.json["message"]
    created = client.post("/api/v1/studies", json=body, headers=write)
    assert created.status_code == 200
    assert [(s["participant_id"], s["study_type"]) for s in created.json] == [
        ("P1", "baseline"),
        ("P1", "followup"),
        ("P1", "followup"),
        ("P2", "baseline"),
        ("P2", "followup"),
        ("P2", "followup"),
    ]
    as_text = client.post("/api/v1/studies", json={"participant_ids": "P3\nP4\n"}, headers=write)
    assert [s["participant_id"] for s in as_text.json] == ["P3", "P3", "P4", "P4"]
    form = client.post("/studies", data={"participant_ids": "P5\nP-6\nP5"}, headers=write)
    api = client.post(
        "/api/v1/studies", json={"participant_ids": ["P5", "P-6", "P5"]}, headers=write
    )
    assert form.status_code == api.status_code == 400
    assert "P-6" in api.json["message"] and "2" in api.json["message"]
    with app.app_context():
        assert db.studies().count_documents({"participant_id": {"$in": ["P5", "P-6"]}}) == 0
        entry = db.collection("audit_log").find_one({"action": "studies_created"})
    assert entry["who"] == "res@example.org" and entry["token"]["name"] == "test write"


def test_openapi_declares_the_bearer_scheme_on_the_script_endpoints(client):
    spec = client.get("/openapi.json").json
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for path in ("/api/v1/participants", "/api/v1/tests", "/api/v1/summary"):
        assert spec["paths"][path]["get"]["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/api/v1/studies"]["post"]["security"] == [{"bearerAuth": []}]
    assert "security" not in spec["paths"]["/tests"]["post"]
