"""No client can stall the server: gunicorn as `make run` starts it, on each store.

One gunicorn worker (as the embedded store always runs; on MongoDB too, WEB_CONCURRENCY=1, so that
nothing is hidden by a second worker) serves a store holding a study and a few thousand tests:

- a client that stops in the middle of its upload gets a 408 after REQUEST_BODY_TIMEOUT, the worker
  lives on, and meanwhile other participants' GET /studies/<id> and POST /tests are answered;
- a researcher who reads a large download slowly holds nobody up;
- a long export (the workbook) never makes a submission wait for it to finish.

"Answered" means within ANSWERED_WITHIN; the figures measured on this machine are in the README
(bench/server_model.py).
"""

import http.client
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pymongo
import pytest
from conftest import Gunicorn, http_json, load_sample, make_run_environment, stored_test

from intact import create_app, db

STUDY = "abcdefgh"
PASSWORD = "server-model-password"
BODY_TIMEOUT = 2
ANSWERED_WITHIN = 1.0
STORED_TESTS = 600
# A receive window this small makes the server wait on the socket for the reader's every read.
SLOW_READER_BUFFER = 4096


def seed(settings: dict) -> None:
    """One study, and STORED_TESTS tests of it, so that exports take a while."""
    study = {"study_id": STUDY, "participant_id": "P001", "study_type": "baseline"}
    started = datetime(2026, 1, 1, tzinfo=UTC)
    tests = [
        stored_test(study, "choice_reaction_time", received_at=started + timedelta(seconds=n))
        for n in range(STORED_TESTS)
    ]
    # Storing them all at once can take a MongoDB-compatible server longer than DB_TIMEOUT_MS.
    app = create_app(dict(settings, DB_TIMEOUT_MS="60000"))
    with app.app_context():
        db.studies().insert_one(dict(study))
        db.tests().insert_many(tests)
    db.client_of(app).close()


@pytest.fixture(
    scope="module", params=["embedded", pytest.param("mongodb", marks=pytest.mark.mongo)]
)
def server(request, tmp_path_factory):
    """gunicorn with one worker on a seeded store of the parameter's kind."""
    settings = {
        "DB_CONNECTION_STR": "",
        "DATA_DIR": str(tmp_path_factory.mktemp("server-model")),
        "ADMIN_PASSWORD": PASSWORD,
        "SECRET_KEY": "server-model-secret",
    }
    if request.param == "mongodb":
        settings["DB_CONNECTION_STR"] = request.getfixturevalue("mongo_uri")
        settings["DB_NAME"] = f"intact_test_{uuid.uuid4().hex[:12]}"
    seed(settings)
    environment = make_run_environment(
        settings,
        WEB_CONCURRENCY="1",
        REQUEST_BODY_TIMEOUT=str(BODY_TIMEOUT),
        RATELIMIT_ENABLED="0",
        LOG_LEVEL="WARNING",
    )
    with Gunicorn(environment) as running:
        yield running
    if request.param == "mongodb":
        with pymongo.MongoClient(settings["DB_CONNECTION_STR"]) as client:
            client.drop_database(settings["DB_NAME"])


_submissions = iter(range(10**6))


def participant_round_trip(url: str) -> list[float]:
    """A participant opens the study link, then posts a new test; the seconds each took."""
    started = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(seconds=next(_submissions))
    body = dict(
        load_sample("choice_reaction_time", STUDY),
        time_started=started.isoformat().replace("+00:00", "Z"),
    )
    seconds = []
    for path, payload in ((f"/studies/{STUDY}", None), ("/tests", body)):
        began = time.monotonic()
        assert http_json(f"{url}{path}", payload)[0] == 200
        seconds.append(time.monotonic() - began)
    return seconds


def test_a_stalled_upload_ends_in_a_408_and_holds_nobody_up(server):
    workers = server.worker_pids()
    stalled = socket.create_connection(("127.0.0.1", server.port), timeout=BODY_TIMEOUT + 10)
    # The headers of a 300-byte submission and its first byte, then nothing.
    stalled.sendall(
        b"POST /tests HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 300\r\n\r\n{"
    )
    began = time.monotonic()
    answered = [t for _ in range(5) for t in participant_round_trip(server.url)]
    served_by = time.monotonic() - began
    answer = http.client.HTTPResponse(stalled)
    answer.begin()
    message = answer.read()
    waited = time.monotonic() - began
    stalled.close()

    assert max(answered) < ANSWERED_WITHIN, answered
    assert served_by < BODY_TIMEOUT  # all of them while the upload was stalled
    assert answer.status == 408
    assert b"The request body stopped arriving" in message
    assert BODY_TIMEOUT <= waited < BODY_TIMEOUT + 2
    assert server.worker_pids() == workers  # the same worker: nothing was killed


def test_a_slow_download_holds_nobody_up(server):
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_READER_BUFFER)
    reader.connect(("127.0.0.1", server.port))
    form = f"password={PASSWORD}".encode()
    reader.sendall(
        b"POST /tests/workbook/download-file HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(form)}\r\n\r\n".encode()
        + form
    )
    received = reader.recv(SLOW_READER_BUFFER)
    assert received.startswith(b"HTTP/1.1 200")
    answered = []
    # About 8 KB/s: a small read, then a participant, then the next read.
    for _ in range(6):
        answered += participant_round_trip(server.url)
        received += reader.recv(1024)
    reader.close()
    assert max(answered) < ANSWERED_WITHIN, answered
    assert len(received) < 64 * 1024  # the download was far from over


def test_a_long_export_never_makes_a_submission_wait_for_it(server):
    download = {}

    def download_workbook():
        began = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        connection.request(
            "POST",
            "/tests/workbook/download-file",
            body=f"password={PASSWORD}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        answer = connection.getresponse()
        download["size"] = len(answer.read())
        download["status"] = answer.status
        download["seconds"] = time.monotonic() - began
        connection.close()

    downloader = threading.Thread(target=download_workbook)
    downloader.start()
    answered = []
    while downloader.is_alive():
        answered += participant_round_trip(server.url)
    downloader.join()

    assert download["status"] == 200
    assert download["size"] > 50_000
    # Participants were served throughout, not after the export.
    assert len(answered) >= 6, (download, answered)
    assert max(answered) < ANSWERED_WITHIN, answered
