"""End to end: `make run`'s gunicorn on the embedded store keeps a submission across a restart."""

import pytest
from conftest import Gunicorn, gunicorn_environment, load_sample
from conftest import http_request as request

from intact import create_app, db


@pytest.fixture
def environment(tmp_path):
    settings = {
        "DB_CONNECTION_STR": "",
        "DATA_DIR": str(tmp_path / "data"),
        "ADMIN_PASSWORD": "e2e-admin-password",
        "SECRET_KEY": "e2e-secret-key",
    }
    app = create_app(settings)
    with app.app_context():
        db.studies().insert_one(
            {"study_id": "abcdefgh", "participant_id": "P001", "study_type": "baseline"}
        )
    return gunicorn_environment(settings)


def test_submission_survives_a_gunicorn_restart(environment):
    sample = load_sample("choice_reaction_time", "abcdefgh")
    with Gunicorn(environment) as server:
        status, study, _ = request(f"{server.url}/studies/abcdefgh")
        assert (status, study) == (200, {"study_type": "baseline"})
        status, stored, headers = request(f"{server.url}/tests", sample)
        assert status == 200
        assert headers["Access-Control-Allow-Origin"] == "https://intact.sail.codes"

    with Gunicorn(environment) as server:
        # The identical submission after the restart finds the first test: it was kept.
        status, again, _ = request(f"{server.url}/tests/", sample)
        assert status == 200
        assert again["test_id"] == stored["test_id"]

    settings = ("DB_CONNECTION_STR", "DATA_DIR", "ADMIN_PASSWORD", "SECRET_KEY")
    app = create_app({key: environment[key] for key in settings})
    with app.app_context():
        tests = list(db.tests().find({}, {"_id": 0}))
    assert [t["test_id"] for t in tests] == [stored["test_id"]]
    assert tests[0]["result"] == sample["result"]
    assert tests[0]["participant_id"] == "P001"
