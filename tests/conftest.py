"""Shared fixtures: an app on a fresh in-memory database, its client and CLI runner."""

import contextlib
import itertools
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from intact import create_app, db

TEST_PASSWORD = "correct-horse-battery"

# Debian's Chromium (.ci/run installs it). Without --disable-background-networking it keeps
# trying the closed network from this machine, many connections at a time.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextlib.contextmanager
def serving(app):
    """The app on a free loopback port, served from a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def chromium_dump_dom(url: str, *extra_args: str, budget_ms: int = 5000, timeout: int = 60):
    """Run headless Chromium on url; the finished process (DOM on stdout, its log on stderr).

    `budget_ms` of virtual time lets the page's scripts finish before the DOM is written.
    """
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    return subprocess.run(
        [
            str(CHROMIUM),
            *CHROMIUM_ARGS,
            *extra_args,
            f"--virtual-time-budget={budget_ms}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def app_config(tmp_path):
    """The environment a test app is built from; tests may change it before `app` is used."""
    return {
        "DB_CONNECTION_STR": "mongomock://",
        "ADMIN_PASSWORD": TEST_PASSWORD,
        "SECRET_KEY": "test-secret-key",
        "DATA_DIR": str(tmp_path / "data"),
        "TESTING": True,
    }


@pytest.fixture
def app(app_config):
    return create_app(app_config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


PROJECT_ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")
FRONTEND_ORIGIN = "https://intact.sail.codes"


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_request(url, payload=None, timeout=10):
    """GET url, or POST payload as JSON from the front-end's origin: (status, body, headers)."""
    data = None if payload is None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "Origin": FRONTEND_ORIGIN}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=data, headers=headers), timeout=timeout
        ) as answer:
            return answer.status, json.loads(answer.read()), answer.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers


def gunicorn_environment(settings: dict, **overrides) -> dict:
    """The environment `make run` gives gunicorn, with these settings, on a free loopback port."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DB_CONNECTION_STR", "DB_NAME", "HOST", "PORT", "DATA_DIR"}
    }
    return {
        **inherited,
        **settings,
        "LOCAL_MODE": "1",
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        **overrides,
    }


class Gunicorn:
    """gunicorn started as `make run` starts it (gunicorn.conf.py, wsgi:app, LOCAL_MODE=1).

    Build `environment` with gunicorn_environment(). Ready when /healthz answers `ready_status`
    (503 for a database that is down on purpose). Stopped with SIGTERM on exit.
    """

    def __init__(self, environment, ready_status: int = 200):
        self.environment = environment
        self.ready_status = ready_status
        self.port = int(environment["PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(
            [str(GUNICORN), "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=PROJECT_ROOT,
            env=self.environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.wait_until_ready()
        return self

    def wait_until_ready(self, seconds: float = 30) -> None:
        """Wait until /healthz answers the ready status (fails the test after `seconds`)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited: {self.process.stdout.read()}")
            try:
                if http_request(f"{self.url}/healthz")[0] == self.ready_status:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.__exit__()
        pytest.fail(f"gunicorn did not answer within {seconds} s")

    def worker_pids(self) -> list[int]:
        """gunicorn's workers: the master's child processes (Linux /proc)."""
        pid = self.process.pid
        return [
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ]

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


MONGO_SERVER_SCRIPT = Path(__file__).with_name("mongo_compatible_server.py")
# `make test` creates this venv wherever Python 3.13 exists (requirements-mongo.txt).
MONGOECO_PYTHON = Path(
    os.environ.get("MONGOECO_PYTHON") or PROJECT_ROOT / ".venv-mongo" / "bin" / "python"
)
NO_MONGO_SERVER = (
    f"no MongoDB-compatible server: {MONGOECO_PYTHON} is missing (`make test` creates it with "
    "mongoeco where Python 3.13 is installed) and TEST_MONGO_URI is not set"
)


class MongoCompatibleServer:
    """mongoeco's wire-protocol server (not MongoDB) in its own process on a free loopback port.

    Stopped by its pid. With `sqlite_file` the data survives stop() and start(), which reuses the
    port, as a real server's restart would. Use as a context manager, or start() / stop().
    """

    START_SECONDS = 30

    def __init__(self, sqlite_file: Path | None = None):
        self.sqlite_file = sqlite_file
        self.port = 0
        self.process = None
        self.uri = None
        self._log = None

    def start(self) -> str:
        """Start the server and return its connection string (skips the test without mongoeco)."""
        if not MONGOECO_PYTHON.exists():
            pytest.skip(NO_MONGO_SERVER)
        command = [str(MONGOECO_PYTHON), str(MONGO_SERVER_SCRIPT), "--port", str(self.port)]
        if self.sqlite_file:
            command += ["--sqlite", str(self.sqlite_file)]
        # Kept open for log() after a failure; the file goes when the object does.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._log, text=True
        )
        # The server prints its connection string once it accepts connections.
        ready, _, _ = select.select([self.process.stdout], [], [], self.START_SECONDS)
        line = self.process.stdout.readline() if ready else ""
        if not line.startswith("mongodb://"):
            self.stop()
            pytest.fail(f"the MongoDB-compatible server did not start: {self.log()}")
        self.uri = line.strip()
        self.port = urlsplit(self.uri).port
        return self.uri

    def stop(self) -> None:
        """Stop the server by its pid (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process.stdout.close()

    def log(self) -> str:
        """What the server wrote to stderr so far."""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


@pytest.fixture(scope="session")
def mongo_uri():
    """The MongoDB server of the `mongo` tests: TEST_MONGO_URI, else mongoeco for the session.

    Each test names its own database on it (see store_config) and drops it afterwards.
    """
    uri = os.environ.get("TEST_MONGO_URI")
    if uri:
        yield uri
        return
    with MongoCompatibleServer() as server:
        yield server.uri


STORES = [
    "mongomock",
    "embedded",
    pytest.param("mongodb", marks=pytest.mark.mongo),
]


@pytest.fixture(params=STORES)
def store_config(request, app_config, tmp_path):
    """The test environment on each store the app supports: mock, embedded file store, MongoDB.

    MongoDB is TEST_MONGO_URI's server, or the MongoDB-compatible server the session starts; each
    test gets its own database.
    """
    store = request.param
    if store == "embedded":
        app_config["DB_CONNECTION_STR"] = ""
    elif store == "mongodb":
        app_config["DB_CONNECTION_STR"] = request.getfixturevalue("mongo_uri")
        app_config["DB_NAME"] = f"intact_test_{uuid.uuid4().hex[:12]}"
    yield app_config
    if store == "mongodb":
        import pymongo

        with pymongo.MongoClient(app_config["DB_CONNECTION_STR"]) as client:
            client.drop_database(app_config["DB_NAME"])


CONTRACT_DIR = Path(__file__).resolve().parent / "contract"
CONTRACT_SAMPLES = sorted(path.stem for path in CONTRACT_DIR.glob("*.json"))


def load_sample(name: str, study_id: str) -> dict:
    """A front-end submission from tests/contract/ (copied from shared/frontend-contract/)."""
    payload = json.loads((CONTRACT_DIR / f"{name}.json").read_text(encoding="utf-8"))
    payload["study_id"] = study_id
    return payload


@pytest.fixture
def make_study(app):
    """Insert a study straight into the database and return it (no _id)."""
    counter = itertools.count()

    def make(participant_id="P001", study_type="baseline", study_id=None, **fields):
        study_id = study_id or f"study{next(counter):03d}".replace("0", "a")
        study = {
            "study_id": study_id,
            "participant_id": participant_id,
            "study_type": study_type,
            "url": f"{app.config['STUDY_URL_PREFIX'].rstrip('/')}/{study_id}",
            "created_at": datetime.now(UTC),
            "batch_id": "test-batch",
            **fields,
        }
        with app.app_context():
            db.studies().insert_one(dict(study))
        return study

    return make


SAMPLE_FOR_TYPE = {
    "immediate_recall": "immediate_recall",
    "choice_reaction_time": "choice_reaction_time",
    "visual_paired_associates": "visual_paired_associates",
    "digit_symbol_matching": "digit_symbol_matching",
    "spatial_memory": "spatial_memory",
    "delayed_recall": "delayed_recall",
    "unclassified": "spatial_memory_timed_out_no_answer",
}


def stored_test(study: dict, test_type: str, received_at=None, **fields) -> dict:
    """A `tests` document as docs/architecture.md describes it, from a contract sample."""
    payload = load_sample(SAMPLE_FOR_TYPE[test_type], study["study_id"])
    return {
        "test_id": uuid.uuid4().hex[:24],
        "study_id": study["study_id"],
        "participant_id": study["participant_id"],
        "study_type": study["study_type"],
        "test_type": test_type,
        "time_started": datetime.fromisoformat(payload["time_started"]),
        "time_elapsed_milliseconds": payload["time_elapsed_milliseconds"],
        "device_info": payload["device_info"],
        "notes": None,
        "result": payload["result"],
        "extra": {},
        "fingerprint": uuid.uuid4().hex,
        "received_at": received_at or datetime.now(UTC),
        **fields,
    }


@pytest.fixture
def make_test(app):
    """Insert a stored test of one type for a study (see stored_test) and return it."""

    def make(study, test_type="choice_reaction_time", received_at=None, **fields):
        test = stored_test(study, test_type, received_at, **fields)
        with app.app_context():
            db.tests().insert_one(dict(test))
        return test

    return make
