"""Faults: the database becomes unavailable, then comes back; the app answers 503 fast and recovers.

Embedded store: another process takes the write lock of the SQLite files (as a stuck writer, a
backup tool or an open `sqlite3` shell would), then releases it. MongoDB: nothing listens on the
configured address, which is what an unreachable server looks like to the driver. A stopped,
restarted or hung MongoDB-compatible server, through gunicorn: tests/test_faults_mongodb.py.
"""

import time

import pytest
from conftest import csrf_from, load_sample, log_in, store_locked_by_another_process

from intact import auth, create_app, db
from intact.accounts import guard

ANSWER_WITHIN_SECONDS = 5


@pytest.fixture
def embedded_app(app_config):
    app_config.update(DB_CONNECTION_STR="", DB_TIMEOUT_MS="1000")
    return create_app(app_config)


def timed(call):
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def test_healthz_says_503_while_the_embedded_store_is_locked_and_recovers(embedded_app):
    client = embedded_app.test_client()
    assert client.get("/healthz").status_code == 200
    with store_locked_by_another_process(embedded_app.config["DATA_DIR"]):
        response, seconds = timed(lambda: client.get("/healthz"))
        assert response.status_code == 503
        assert response.json["status"] == "unavailable"
        assert seconds < ANSWER_WITHIN_SECONDS
    assert client.get("/healthz").status_code == 200


def test_a_write_refused_by_a_locked_store_is_a_503_and_can_be_retried(embedded_app):
    document = {"study_id": "abcdefgh", "study_type": "baseline"}
    with embedded_app.test_request_context():
        with store_locked_by_another_process(embedded_app.config["DATA_DIR"]):
            with pytest.raises(db.UNAVAILABLE_ERRORS) as refused:
                started = time.perf_counter()
                db.studies().insert_one(dict(document))
            assert time.perf_counter() - started < ANSWER_WITHIN_SECONDS
            response = embedded_app.handle_user_exception(refused.value)
            assert response.status_code == 503
            assert response.json["message"].startswith("The database is not reachable")
        # Nothing half-written survives the failed attempt: the same insert now succeeds, once.
        db.studies().insert_one(dict(document))
        assert db.studies().count_documents({"study_id": "abcdefgh"}) == 1


def test_the_app_starts_while_the_embedded_store_is_locked(app_config):
    app_config.update(DB_CONNECTION_STR="", DB_TIMEOUT_MS="500")
    first = create_app(app_config)  # creates the files
    with first.app_context():
        # An index to create at the next start (existing ones are only read, which the lock allows).
        db.studies().drop_index("batch_id_1")
    with store_locked_by_another_process(app_config["DATA_DIR"]):
        app, seconds = timed(lambda: create_app(app_config))
        assert seconds < ANSWER_WITHIN_SECONDS
        assert app.extensions["intact_db_indexes_pending"]
        response, seconds = timed(lambda: app.test_client().get("/healthz"))
        assert response.status_code == 503
        # One wait for the lock, not two: indexes are retried only after a request succeeds.
        assert seconds < 0.9
    assert app.test_client().get("/healthz").status_code == 200
    assert "intact_db_indexes_pending" not in app.extensions


def test_unreachable_mongodb_gives_503_within_the_timeout(app_config):
    # Port 9 on loopback: nothing listens, so every connection attempt is refused.
    app_config.update(DB_CONNECTION_STR="mongodb://127.0.0.1:9/", DB_TIMEOUT_MS="1000")
    app = create_app(app_config)
    assert app.extensions.get("intact_db_indexes_pending") is True
    response, seconds = timed(lambda: app.test_client().get("/healthz"))
    assert response.status_code == 503
    # One server-selection timeout (1 s), not one for the pending indexes and another for the ping.
    assert seconds < 1.9


# --- the participant API and the dashboard under the same faults --------------------------------


def add_study(app):
    with app.app_context():
        db.studies().insert_one(
            {"study_id": "abcdefgh", "participant_id": "P001", "study_type": "baseline"}
        )


def test_participant_api_answers_503_while_the_store_is_locked_then_recovers(embedded_app):
    add_study(embedded_app)
    client = embedded_app.test_client()
    sample = load_sample("delayed_recall", "abcdefgh")
    with store_locked_by_another_process(embedded_app.config["DATA_DIR"]):
        for call in (
            lambda: client.get("/studies/abcdefgh"),
            lambda: client.post("/tests", json=sample),
        ):
            response, seconds = timed(call)
            assert response.status_code == 503
            assert response.json["message"].startswith("The database is not reachable")
            assert response.headers["Retry-After"] == "5"
            assert seconds < ANSWER_WITHIN_SECONDS
    assert client.get("/studies/abcdefgh").status_code == 200
    assert client.post("/tests", json=sample).status_code == 200


def test_dashboard_shows_a_503_page_when_a_change_cannot_be_stored(embedded_app):
    client = embedded_app.test_client()
    assert log_in(client).status_code == 303
    token = csrf_from(client.get("/admin/studies/new"))
    form = {"participant_ids": "P1", "csrf_token": token}
    with store_locked_by_another_process(embedded_app.config["DATA_DIR"]):
        # Reading still works (SQLite readers are not blocked by a writer's lock)...
        assert client.get("/admin/").status_code == 200
        # ...storing does not: a page that says so, not a JSON body or a 500.
        response, seconds = timed(lambda: client.post("/admin/studies/new", data=form))
        assert response.status_code == 503
        assert response.mimetype == "text/html"
        assert "The database is not reachable" in response.get_data(as_text=True)
        assert seconds < ANSWER_WITHIN_SECONDS
    assert client.post("/admin/studies/new", data=form).status_code == 303


@pytest.fixture
def unreachable_mongodb_app(app_config):
    app_config.update(DB_CONNECTION_STR="mongodb://127.0.0.1:9/", DB_TIMEOUT_MS="1000")
    return create_app(app_config)


def test_participant_api_answers_503_when_mongodb_is_unreachable(unreachable_mongodb_app):
    client = unreachable_mongodb_app.test_client()
    sample = load_sample("delayed_recall", "abcdefgh")
    for call in (
        lambda: client.get("/studies/abcdefgh"),
        lambda: client.post("/tests", json=sample),
    ):
        response, seconds = timed(call)
        assert response.status_code == 503
        assert response.is_json
        assert seconds < ANSWER_WITHIN_SECONDS


def test_dashboard_download_answers_the_dashboards_503_page_when_mongodb_is_unreachable(
    unreachable_mongodb_app,
):
    client = unreachable_mongodb_app.test_client()
    # The cookie of a researcher who logged in before the outage: checking it needs the store.
    with client.session_transaction() as session:
        session[guard.SESSION_ID_KEY] = "a-session-id"
        session[auth.CSRF_SESSION_KEY] = "csrf-token"
    response, seconds = timed(
        lambda: client.post("/admin/downloads/archive", data={"csrf_token": "csrf-token"})
    )
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert response.headers["Retry-After"] == "5"
    assert "Content-Disposition" not in response.headers
    assert "The database is not reachable" in response.get_data(as_text=True)
    assert seconds < ANSWER_WITHIN_SECONDS
