"""End to end: `make run`'s gunicorn on the embedded store keeps a submission across a restart."""

from conftest import GUNICORN_STUDY, Gunicorn, http_json, load_sample, store_settings

from intact import create_app, db


def test_submission_survives_a_gunicorn_restart(gunicorn_environment):
    sample = load_sample("choice_reaction_time", GUNICORN_STUDY)
    with Gunicorn(gunicorn_environment) as server:
        status, study, _ = http_json(f"{server.url}/studies/{GUNICORN_STUDY}")
        assert (status, study) == (200, {"study_type": "baseline"})
        status, stored, headers = http_json(f"{server.url}/tests", sample)
        assert status == 200
        assert headers["Access-Control-Allow-Origin"] == "https://intact.sail.codes"

    with Gunicorn(gunicorn_environment) as server:
        # The identical submission after the restart finds the first test: it was kept.
        status, again, _ = http_json(f"{server.url}/tests/", sample)
        assert status == 200
        assert again["test_id"] == stored["test_id"]

    app = create_app(store_settings(gunicorn_environment))
    with app.app_context():
        tests = list(db.tests().find({}, {"_id": 0}))
    assert [t["test_id"] for t in tests] == [stored["test_id"]]
    assert tests[0]["result"] == sample["result"]
    assert tests[0]["participant_id"] == "P001"
