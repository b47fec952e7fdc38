"""Hostile input across the app: operator-like values in every field never become a query or a
stored operator, and never a 500; uploads are limited in size and type.
"""

import copy
import io

import pytest
from conftest import TEST_PASSWORD, load_sample, log_in

from intact import db

OPERATOR = {"$ne": ""}
TOP_LEVEL_FIELDS = [
    "study_id",
    "time_started",
    "time_elapsed_milliseconds",
    "device_info",
    "result",
    "test_type",
    "notes",
]
ANSWER_FIELDS = ["crt_rt", "crt_correct", "crt_response", "crt_dwell"]


@pytest.fixture
def app_config(app_config):
    # Every refusal below would otherwise soon be answered 429 instead.
    app_config["RATELIMIT_ENABLED"] = "0"
    return app_config


@pytest.fixture
def study(app):
    with app.app_context():
        db.studies().insert_one(
            {"study_id": "zqxjkvwp", "participant_id": "P1", "study_type": "baseline"}
        )
    return "zqxjkvwp"


def with_operator(path):
    body = load_sample("choice_reaction_time", "zqxjkvwp")
    *parents, last = path
    target = body
    for key in parents:
        target = target[key]
    target[last] = copy.deepcopy(OPERATOR)
    return body


def with_key(path, key):
    body = load_sample("choice_reaction_time", "zqxjkvwp")
    target = body
    for step in path:
        target = target[step]
    target[key] = 1
    return body


CASES = [
    *[pytest.param(with_operator([field]), field, id=field) for field in TOP_LEVEL_FIELDS],
    *[
        pytest.param(with_operator(["result", 0, field]), f"result.0.{field}", id=field)
        for field in ANSWER_FIELDS
    ],
    pytest.param(with_key([], "$where"), "$where", id="top-level $where"),
    pytest.param(with_key(["result", 0], "$gt"), "result.0.$gt", id="answer $gt"),
    pytest.param(with_key([], "a.b"), "a.b", id="dotted key"),
]


@pytest.mark.parametrize(("body", "field"), CASES)
def test_operator_like_values_are_refused_in_every_field(app, client, study, body, field):
    response = client.post("/tests", json=body)
    assert response.status_code in {400, 422}
    assert field in response.json["message"]
    with app.app_context():
        assert db.tests().count_documents({}) == 0


@pytest.mark.parametrize("study_id", ["$ne", '{"$ne": ""}', ".*", "zqxjkvwp' || '1'=='1"])
def test_study_ids_are_looked_up_as_plain_text(client, study, study_id):
    assert client.get(f"/studies/{study_id}").status_code == 404


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/studies/download-file", {"participant_id": "$ne"}),
        ("/tests/single-test-type/download-file", {"test_type": "$where"}),
        ("/tests/zip-archive/download-file", {"participant_id": ".*"}),
        ("/studies", {"participant_ids": "P1\n$where"}),
    ],
)
def test_admin_forms_refuse_operator_like_values(app, client, study, path, form):
    response = client.post(path, data={"password": TEST_PASSWORD, **form})
    assert response.status_code == 400
    assert response.is_json
    with app.app_context():
        assert db.studies().count_documents({}) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/admin/progress?q=.*",
        "/admin/progress?q=$ne",
        "/admin/refused?study_id=.*",
        "/admin/audit?client=.*",
        "/admin/participants/$ne",
    ],
)
def test_dashboard_searches_match_text_not_patterns(client, study, path):
    assert log_in(client).status_code == 303
    response = client.get(path)
    assert response.status_code in {200, 404}
    # A pattern or operator would have matched the stored study; as text it matches nothing.
    assert "zqxjkvwp" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("file_name", "content"),
    [
        ("ids.exe", b"MZ\x90\x00"),
        ("ids.xlsx", b"PK\x03\x04"),
        ("ids.csv", b"\xff\xfe\x00\x00not utf-8 \xc3\x28"),
    ],
)
def test_uploads_of_other_types_are_refused(app, client, file_name, content):
    form = {"password": TEST_PASSWORD, "participant_ids_file": (io.BytesIO(content), file_name)}
    response = client.post("/studies/upload-file", data=form, content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.is_json
    with app.app_context():
        assert db.studies().count_documents({}) == 0


def test_uploads_over_the_size_limit_are_refused_with_413(app, client):
    big = io.BytesIO(b"P1\n" * (app.config["MAX_CONTENT_LENGTH"] // 3 + 10))
    form = {"password": TEST_PASSWORD, "participant_ids_file": (big, "ids.txt")}
    response = client.post("/studies/upload-file", data=form, content_type="multipart/form-data")
    assert response.status_code == 413
    assert response.is_json
