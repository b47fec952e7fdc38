"""Faults of a MongoDB deployment: a wire-protocol server, and gunicorn as `make run` starts it.

The server is mongoeco (a MongoDB-compatible server, not MongoDB; see tests/conftest.py), started
by each test in its own process so that the test can stop, restart or freeze it:

- stopped: every request answers 503 within DB_TIMEOUT_MS, and once the server is back the same
  app answers again (no app restart);
- hung (accepts connections, never answers): 503 within DB_TIMEOUT_MS as well;
- two app processes on one database: what is stored is exactly what was acknowledged, once.
"""

import contextlib
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pymongo
import pytest
from conftest import Gunicorn, MongoCompatibleServer, load_sample, make_run_environment
from conftest import http_json as request

pytestmark = pytest.mark.mongo

STUDY = "abcdefgh"
TIMEOUT_MS = 1000
# HTTP, logging and scheduling on a shared 2-core machine, on top of the database's wait.
MARGIN_SECONDS = 0.5


def app_settings(uri: str, timeout_ms: int = TIMEOUT_MS) -> dict:
    """One gunicorn worker unless a test asks for more: these tests are about the database."""
    return {
        "DB_CONNECTION_STR": uri,
        "DB_NAME": f"intact_fault_{uuid.uuid4().hex[:8]}",
        "DB_TIMEOUT_MS": str(timeout_ms),
        "WEB_CONCURRENCY": "1",
        "ADMIN_PASSWORD": "fault-admin-password",
        "SECRET_KEY": "fault-secret-key",
        "RATELIMIT_ENABLED": "0",
        "LOG_LEVEL": "WARNING",
    }


def add_study(uri: str, database: str) -> None:
    with pymongo.MongoClient(uri) as client:
        client[database]["studies"].insert_one(
            {"study_id": STUDY, "participant_id": "P001", "study_type": "baseline"}
        )


def submission(number: int) -> dict:
    started = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(seconds=number)
    return dict(
        load_sample("choice_reaction_time", STUDY),
        time_started=started.isoformat().replace("+00:00", "Z"),
    )


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def participant_requests(url: str):
    """What a participant's browser does, each a call answering (status, body, headers)."""
    return {
        "GET /healthz": lambda: request(f"{url}/healthz"),
        "GET /studies/<id>": lambda: request(f"{url}/studies/{STUDY}"),
        "POST /tests": lambda: request(f"{url}/tests", submission(0)),
    }


def assert_all_unavailable_in_time(url: str) -> None:
    for name, call in participant_requests(url).items():
        (status, body, _), seconds = timed(call)
        assert status == 503, (name, status, body)
        assert seconds < TIMEOUT_MS / 1000 + MARGIN_SECONDS, (name, seconds)


def wait_until_answered(url: str, seconds: float = 15) -> float:
    """Poll GET /studies/<id> until it is 200 again; the seconds that took."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if request(f"{url}/studies/{STUDY}")[0] == 200:
            return time.monotonic() - started
        time.sleep(0.1)
    pytest.fail(f"the app did not recover within {seconds} s")


def test_a_stopped_server_is_a_503_in_time_and_the_app_recovers_when_it_returns(tmp_path):
    with MongoCompatibleServer(tmp_path / "server.sqlite3") as server:
        settings = app_settings(server.uri)
        add_study(server.uri, settings["DB_NAME"])
        with Gunicorn(make_run_environment(settings)) as app:
            for status, _, _ in (call() for call in participant_requests(app.url).values()):
                assert status == 200
            server.stop()
            assert_all_unavailable_in_time(app.url)
            server.start()  # same port, same data file
            wait_until_answered(app.url)
            assert request(f"{app.url}/tests", submission(1))[0] == 200
            # The submission acknowledged before the outage is still there (answered from it).
            status, again, _ = request(f"{app.url}/tests", submission(0))
            assert status == 200
        with pymongo.MongoClient(server.uri) as client:
            assert client[settings["DB_NAME"]]["tests"].count_documents({}) == 2


class FreezableProxy:
    """A TCP relay to a server that can freeze: connections stay open, nothing is answered.

    That is a hung server as the app sees it (a stuck process, a full disk, a network partition
    that drops packets), unlike a stopped one, which refuses connections at once.
    """

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def freeze(self) -> None:
        self.flowing.clear()

    def thaw(self) -> None:
        self.flowing.set()

    def close(self) -> None:
        self.flowing.set()
        for sock in [self.listener, *self.sockets]:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                # Frozen: hold what arrived until thawed, as a stalled server would.
                self.flowing.wait()
                target.sendall(data)
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def test_a_hung_server_is_a_503_in_time_and_the_app_recovers_when_it_answers():
    with MongoCompatibleServer() as server:
        proxy = FreezableProxy(server.port)
        try:
            settings = app_settings(proxy.uri())
            add_study(server.uri, settings["DB_NAME"])
            with Gunicorn(make_run_environment(settings)) as app:
                assert request(f"{app.url}/studies/{STUDY}")[0] == 200
                proxy.freeze()
                assert_all_unavailable_in_time(app.url)
                proxy.thaw()
                wait_until_answered(app.url)
                assert request(f"{app.url}/tests", submission(1))[0] == 200
        finally:
            proxy.close()


def test_a_server_that_never_answers_from_the_start_is_a_503_in_time():
    with socket.create_server(("127.0.0.1", 0)) as silent:
        # Connections are accepted by the kernel (backlog) and never read: a hung server.
        uri = f"mongodb://127.0.0.1:{silent.getsockname()[1]}/?directConnection=true"
        environment = make_run_environment(app_settings(uri))
        with Gunicorn(environment, ready_status=503) as app:
            assert_all_unavailable_in_time(app.url)


class Poster(threading.Thread):
    """A front-end posting to one of two app processes; some submissions are sent to both."""

    def __init__(self, urls: list[str], numbers: range):
        super().__init__(daemon=True)
        self.urls, self.numbers = urls, numbers
        self.acknowledged: list[str] = []
        self.refused: list[int] = []

    def run(self):
        for number in self.numbers:
            # Every third submission goes to both processes: a retry racing the original.
            targets = self.urls if number % 3 == 0 else [self.urls[number % 2]]
            for url in targets:
                status, answer, _ = request(f"{url}/tests", submission(number))
                if status == 200:
                    self.acknowledged.append(answer["test_id"])
                else:
                    self.refused.append(status)


def test_two_app_processes_on_one_database_store_each_acknowledged_test_once():
    with MongoCompatibleServer() as server:
        # Time is not what this test is about: a loaded machine must not turn posts into 503s.
        settings = app_settings(server.uri, timeout_ms=10_000)
        add_study(server.uri, settings["DB_NAME"])
        environments = [make_run_environment(settings, WEB_CONCURRENCY="2") for _ in range(2)]
        with Gunicorn(environments[0]) as first, Gunicorn(environments[1]) as second:
            posters = [Poster([first.url, second.url], range(start, 120, 4)) for start in range(4)]
            for poster in posters:
                poster.start()
            for poster in posters:
                poster.join(timeout=120)
        with pymongo.MongoClient(server.uri) as client:
            stored = list(
                client[settings["DB_NAME"]]["tests"].find({}, {"test_id": 1, "fingerprint": 1})
            )
    acknowledged = [test_id for poster in posters for test_id in poster.acknowledged]
    assert [status for poster in posters for status in poster.refused] == []
    # 120 distinct submissions, 40 of them sent twice: each twice-sent one answered with one id.
    assert len(acknowledged) == 160
    assert len(set(acknowledged)) == 120
    stored_ids = {test["test_id"] for test in stored}
    assert stored_ids == set(acknowledged)
    assert len(stored) == 120
    assert len({test["fingerprint"] for test in stored}) == 120
