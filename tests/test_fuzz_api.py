"""Fuzzing every operation of /openapi.json with schemathesis, through the WSGI app (no server).

Positive cases (bodies the schema allows) and negative ones (bodies it forbids), a bounded number
of each per operation. Whatever comes in: never a 5xx, and every 4xx is JSON with a message.
Positive cases carry what gets them past the first refusal (a known study; the admin password),
so they reach the storage, creation and export code; negative ones are sent as generated.
"""

import pytest
import schemathesis
from conftest import TEST_PASSWORD, TEST_PSEUDONYM_KEY
from hypothesis import HealthCheck, settings

from intact import create_app, db

EXAMPLES_PER_OPERATION = 60
KNOWN_STUDY = "fuzzmeok"


def build_app(data_dir):
    app = create_app(
        {
            "DB_CONNECTION_STR": "mongomock://",
            "ADMIN_PASSWORD": TEST_PASSWORD,
            "SECRET_KEY": "fuzz-secret",
            # De-identified downloads are fuzzed too (without a key they answer 501 by design).
            "PSEUDONYM_KEY": TEST_PSEUDONYM_KEY,
            "DATA_DIR": str(data_dir),
            "LOG_LEVEL": "ERROR",
            # Limits would soon answer 429 to everything and hide the other answers from the fuzzer;
            # they have their own tests.
            "RATELIMIT_ENABLED": "0",
            # The fuzzer picks large counts (1,000 baselines and 1,000 follow-ups for one id), and
            # mongomock checks each insert against every stored study: a small cap keeps creation
            # reachable while a batch over it is the 400 it would be in production.
            "MAX_STUDIES_PER_REQUEST": "40",
        }
    )
    with app.app_context():
        db.studies().insert_one(
            {"study_id": KNOWN_STUDY, "participant_id": "P1", "study_type": "baseline"}
        )
    return app


app = build_app("/nonexistent-fuzz-data")
schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
schema.config.generation.update(
    modes=["positive", "negative"],
    max_examples=EXAMPLES_PER_OPERATION,
    # Same cases on every run: a failure in `make test` is reproducible, and no .hypothesis folder.
    deterministic=True,
    database="none",
)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_gets_a_server_error_and_every_refusal_is_json(case):
    if case.meta.generation.mode.is_positive and isinstance(case.body, dict):
        if case.path == "/tests":
            # A random study id is refused before anything else; a known one lets valid bodies
            # reach the storage code. Unknown ids are still sent by the negative cases.
            case.body["study_id"] = KNOWN_STUDY
        elif case.method == "POST":
            # Admin forms: the right password lets valid forms past the 401 to the real work.
            case.body["password"] = TEST_PASSWORD
    response = case.call()
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} answered {response.status_code}: {response.text}"
    )
    if response.status_code >= 400:
        assert response.headers["content-type"][0].startswith("application/json")
        assert isinstance(response.json().get("message"), str)


@pytest.mark.parametrize("path", ["/openapi.json"])
def test_every_operation_is_fuzzed(path):
    operations = {
        f"{method.upper()} {route}"
        for route, item in app.test_client().get(path).json["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    fuzzed = {
        f"{result.ok().method.upper()} {result.ok().path}" for result in schema.get_all_operations()
    }
    assert operations == fuzzed
