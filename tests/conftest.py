"""What the tests share: fixtures and the plain helpers they are built from.

Test modules import the plain helpers from here (`from conftest import log_in`), never from
another test module. The sections, in order:

- apps: settings, an app on a fresh in-memory database, its client and CLI runner;
- stores: the same test on every store, a MongoDB-compatible server, an embedded store locked by
  another process;
- contract samples and stored documents: what the front-end posts, what the database holds;
- the dashboard through the test client: the login form, htmx requests, a logged-in `admin`;
- live servers: the app served from a thread, gunicorn as `make run` starts it;
- a real SMTP server (aiosmtpd) for the reminder e-mails;
- the browser: Debian's Chromium, driven directly or through Playwright, a seeded dashboard.
"""

import contextlib
import csv
import email
import email.policy
import io
import itertools
import json
import os
import re
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
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from intact import create_app, db
from intact.participants import counters
from intact.testtypes import TEST_TYPES, UNCLASSIFIED

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEST_PASSWORD = "correct-horse-battery"
# Keys the pseudonyms of de-identified exports in tests (intact/pseudonyms.py).
TEST_PSEUDONYM_KEY = "test-pseudonym-key-0123456789abcdef"
# Every download of the original form API: each takes participant_id and the download options.
FORM_API_DOWNLOADS = (
    "/studies/download-file",
    "/tests/single-test-type/download-file",
    "/tests/zip-archive/download-file",
    "/tests/summary/download-file",
    "/tests/workbook/download-file",
    "/tests/redcap/download-file",
)


# --- apps ----------------------------------------------------------------------------------


class ServerLikeClient(FlaskClient):
    """Flask's test client, reading and closing every answer as a WSGI server does.

    Work the app defers until its answer is sent (intact/deferred.py) runs when the server closes
    the response; Flask's client leaves responses open unless asked. `buffered=False` still
    gives an open, streaming response (downloads cancelled half-way).
    """

    def open(self, *args, buffered=True, **kwargs):
        return super().open(*args, buffered=buffered, **kwargs)


# Every app the tests build, whether through the fixtures or create_app directly.
Flask.test_client_class = ServerLikeClient


@pytest.fixture
def app_config(tmp_path):
    """The environment a test app is built from; tests may change it before `app` is used."""
    return {
        "DB_CONNECTION_STR": "mongomock://",
        "ADMIN_PASSWORD": TEST_PASSWORD,
        "SECRET_KEY": "test-secret-key",
        "PSEUDONYM_KEY": TEST_PSEUDONYM_KEY,
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


# --- stores --------------------------------------------------------------------------------

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


# Holds an exclusive SQLite transaction on each file named until its stdin closes.
LOCK_HOLDER = """
import sqlite3, sys, time
connections = []
for path in sys.argv[1:]:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")
    connections.append(connection)
print("locked", flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def store_locked_by_another_process(data_dir, collections=("tests", "studies")):
    """Hold the write lock of the embedded store's files in another process during the block."""
    files = [str(Path(data_dir) / db.EMBEDDED_DIR / "intact" / name) for name in collections]
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, *files],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


# --- contract samples and stored documents -------------------------------------------------

CONTRACT_DIR = Path(__file__).resolve().parent / "contract"
CONTRACT_SAMPLES = sorted(path.stem for path in CONTRACT_DIR.glob("*.json"))

# The test type the backend must infer from each contract sample.
EXPECTED_TYPE = {
    "choice_reaction_time": "choice_reaction_time",
    "delayed_recall": "delayed_recall",
    "delayed_recall_none_recalled": "delayed_recall",
    "digit_symbol_matching": "digit_symbol_matching",
    "immediate_recall": "immediate_recall",
    "immediate_recall_first_try": "immediate_recall",
    "spatial_memory": "spatial_memory",
    "spatial_memory_timed_out_no_answer": UNCLASSIFIED,
    "visual_paired_associates": "visual_paired_associates",
}


def load_sample(name: str, study_id: str) -> dict:
    """A front-end submission from tests/contract/ (copied from shared/frontend-contract/)."""
    payload = json.loads((CONTRACT_DIR / f"{name}.json").read_text(encoding="utf-8"))
    payload["study_id"] = study_id
    return payload


@pytest.fixture
def make_study(app):
    """Insert a study straight into the database and return it (no _id).

    A follow-up gets the next follow-up number of its participant, as creation gives it, unless
    `followup_number` is passed (None: a study stored before numbers existed).
    """
    counter = itertools.count()

    def make(participant_id="P001", study_type="baseline", study_id=None, **fields):
        study_id = study_id or f"study{next(counter):03d}".replace("0", "a")
        if study_type == "followup" and "followup_number" not in fields:
            with app.app_context():
                taken = db.studies().count_documents(
                    {"participant_id": participant_id, "study_type": "followup"}
                )
            fields["followup_number"] = taken + 1
        if fields.get("followup_number", 0) is None:
            del fields["followup_number"]
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
        "followup_number": study.get("followup_number"),
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
            # As a submission does: the study's counters follow its tests.
            counters.count_test(test)
        return test

    return make


@pytest.fixture
def started_participant(make_study, make_test):
    """make(participant_id, started): a baseline whose first test started then, two follow-ups.

    The studies' ids are derived from the participant id (P1: baseline "bxxxxxp1", follow-ups
    "f1xxxxp1" and "f2xxxxp1"); the follow-ups are returned.
    """

    def make(participant_id, started):
        suffix = participant_id.lower()
        baseline = make_study(participant_id, "baseline", study_id=f"b{suffix:x>7}")
        make_test(baseline, "immediate_recall", time_started=started)
        return [
            make_study(participant_id, "followup", study_id=f"f{number}{suffix:x>6}")
            for number in (1, 2)
        ]

    return make


# --- the dashboard through the test client -------------------------------------------------

HTMX = {"HX-Request": "true"}
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def every_kind_of_result(client, make_study):
    """P1: a baseline with every contract sample (every test type, one empty answer list: the
    one real unclassified test) and a follow-up; P2: a baseline with extra fields and odd text."""
    p1_baseline = make_study("P1", "baseline", study_id="pbaseone")
    p1_followup = make_study("P1", "followup", study_id="pfollone")
    p2_baseline = make_study("P2", "baseline", study_id="pbasetwo")
    submissions = [load_sample(name, p1_baseline["study_id"]) for name in CONTRACT_SAMPLES]
    for name in ("immediate_recall", "choice_reaction_time", "delayed_recall"):
        later = load_sample(name, p1_followup["study_id"])
        later["time_started"] = "2027-05-20T09:30:00.250Z"
        submissions.append(later)
    odd = load_sample("choice_reaction_time", p2_baseline["study_id"])
    odd["result"][0]["crt_stimulus"] = {"shape": "flèche", "side": "left"}
    odd["device_info"] = "=cmd|' /C calc'!A0"
    odd["app_version"] = "2.1"
    odd["notes"] = "Participant «tired»"
    submissions += [odd, load_sample("spatial_memory", p2_baseline["study_id"])]
    for submission in submissions:
        response = client.post("/tests", json=submission)
        assert response.status_code == 200, response.json


def zip_csv_files(response) -> dict[str, list[dict]]:
    """{file name: rows as dicts} of every CSV file in a downloaded ZIP (status 200 checked)."""
    assert response.status_code == 200, response.get_data(as_text=True)
    with zipfile.ZipFile(io.BytesIO(response.data)) as files:
        return {
            name: list(csv.DictReader(io.StringIO(files.read(name).decode(), newline="")))
            for name in files.namelist()
            if name.endswith(".csv")
        }


def csrf_from(response) -> str:
    """The CSRF token of the form in a dashboard page."""
    return CSRF_FIELD.search(response.get_data(as_text=True)).group(1)


def log_in(client, password=TEST_PASSWORD, **extra):
    """Post the dashboard login form as a researcher would; the response."""
    token = csrf_from(client.get("/admin/login"))
    return client.post("/admin/login", data={"password": password, "csrf_token": token, **extra})


def is_fragment(response) -> bool:
    """True when an answer is an htmx partial, not a whole page."""
    text = response.get_data(as_text=True)
    return "<html" not in text and "<body" not in text


@pytest.fixture
def admin(client):
    """A test client logged in to the dashboard."""
    assert log_in(client).status_code == 303
    return client


# --- live servers --------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port nothing listens on (the OS picked it free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


def http_json(url, payload=None, timeout=10):
    """GET (or POST `payload` as JSON) as the front-end does; (status, JSON body, headers)."""
    data = None if payload is None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "Origin": "https://intact.sail.codes"}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=data, headers=headers), timeout=timeout
        ) as answer:
            return answer.status, json.loads(answer.read()), answer.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers


GUNICORN = Path(sys.executable).with_name("gunicorn")


class Gunicorn:
    """gunicorn started as `make run` starts it (gunicorn.conf.py, wsgi:app, LOCAL_MODE=1).

    `environment`: see make_run_environment. Ready when /healthz answers `ready_status` (503 for a
    database that is down on purpose). Stopped on exit with SIGINT, as Ctrl-C stops `make run`:
    gunicorn's quick shutdown (SIGTERM's graceful one waits out the gevent worker's one-second
    tick, a second per server on the suite's time). `cwd`: the project folder it runs in.
    """

    def __init__(self, environment, ready_status: int = 200, cwd: Path = PROJECT_ROOT):
        self.environment = environment
        self.ready_status = ready_status
        self.cwd = cwd
        self.port = int(environment["PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(
            [str(GUNICORN), "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=self.cwd,
            env=self.environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited: {self.process.stdout.read()}")
            try:
                if http_json(f"{self.url}/healthz")[0] == self.ready_status:
                    return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        pytest.fail("gunicorn did not answer within 30 s")

    def worker_pids(self) -> list[int]:
        """gunicorn's workers: the master's child processes (Linux /proc)."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(child) for child in children]

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        # What gunicorn and the app printed, for tests of what `make run` shows.
        self.output = self.process.stdout.read()
        self.process.stdout.close()


def make_run_environment(settings: dict, **overrides) -> dict:
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


GUNICORN_STUDY = "abcdefgh"
# The settings an app needs to open the same store as a gunicorn_environment.
STORE_SETTINGS = ("DB_CONNECTION_STR", "DATA_DIR", "ADMIN_PASSWORD", "SECRET_KEY")


def store_settings(environment) -> dict:
    """The settings of a gunicorn_environment that open its store from a test's own app."""
    return {key: environment[key] for key in STORE_SETTINGS}


@pytest.fixture
def gunicorn_environment(tmp_path):
    """`make run`'s environment on a fresh embedded store holding one study, GUNICORN_STUDY."""
    return seeded_store_environment(tmp_path / "data")


def seeded_store_environment(data_dir: Path) -> dict:
    """`make run`'s environment on a fresh embedded store in data_dir holding GUNICORN_STUDY."""
    settings = {
        "DB_CONNECTION_STR": "",
        "DATA_DIR": str(data_dir),
        "ADMIN_PASSWORD": "gunicorn-admin-password",
        "SECRET_KEY": "gunicorn-secret-key",
    }
    app = create_app(settings)
    with app.app_context():
        db.studies().insert_one(
            {"study_id": GUNICORN_STUDY, "participant_id": "P001", "study_type": "baseline"}
        )
    return make_run_environment(settings)


# --- a real SMTP server ------------------------------------------------------------------

SMTP_USERNAME = "intact-mailer"
SMTP_PASSWORD = "mail-secret-for-tests"  # noqa: S105 - the test server's own
# Recipients at this domain are refused by the test server ("550 No such user").
REFUSED_DOMAIN = "refused.example"


@dataclass
class ReceivedMail:
    """One message as the SMTP server received it: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: "email.message.EmailMessage"


class SmtpMailbox:
    """aiosmtpd's handler: keeps what arrives, refuses REFUSED_DOMAIN, checks the test login."""

    def __init__(self):
        self.received: list[ReceivedMail] = []
        self.logins: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.endswith("@" + REFUSED_DOMAIN):
            return "550 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        self.received.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), raw, parsed))
        return "250 Message accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        good = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == SMTP_USERNAME.encode()
            and auth_data.password == SMTP_PASSWORD.encode()
        )
        if good:
            self.logins.append(SMTP_USERNAME)
        # handled=False: aiosmtpd answers the refusal itself (535).
        return AuthResult(success=good, handled=False)


@pytest.fixture(scope="session")
def smtp_server():
    """An aiosmtpd SMTP server on a free loopback port, for the whole session (no TLS; AUTH
    PLAIN and LOGIN allowed without it). Tests use `smtp`, which empties its mailbox first."""
    from aiosmtpd.controller import Controller

    class LoopbackController(Controller):
        # Bound to port 0: the system picks a free port, read back before the readiness check.
        def _trigger_server(self):
            self.port = self.server.sockets[0].getsockname()[1]
            super()._trigger_server()

    mailbox = SmtpMailbox()
    controller = LoopbackController(
        mailbox,
        hostname="127.0.0.1",
        port=0,
        authenticator=mailbox.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def smtp(smtp_server):
    """The session's SMTP server with an empty mailbox: `.handler.received`, `.port`."""
    smtp_server.handler.received.clear()
    smtp_server.handler.logins.clear()
    return smtp_server


# --- the browser ---------------------------------------------------------------------------

# Debian's Chromium (.ci/run installs it). Without --disable-background-networking it keeps
# trying the closed network from this machine, many connections at a time.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Screenshots of every page, for a person to look at (git-ignored).
SCREENSHOTS = PROJECT_ROOT / "screenshots"
LAPTOP = {"width": 1366, "height": 850}
PHONE = {"width": 390, "height": 844}


def require_chromium() -> None:
    """Skip the calling test or fixture when Debian's Chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")


def chromium_dump_dom(url: str, *extra_args: str, budget_ms: int = 5000, timeout: int = 60):
    """Run headless Chromium on url; the finished process (DOM on stdout, its log on stderr).

    `budget_ms` of virtual time lets the page's scripts finish before the DOM is written.
    """
    require_chromium()
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


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the whole run, driven by Playwright.

    Started by the first test that asks for it (a second start costs seconds on a busy machine);
    tests never share state through it: each opens its own context (page_at).
    """
    playwright_api = pytest.importorskip("playwright.sync_api")
    require_chromium()
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_recording_page(chromium, viewport, bypass_csp=False):
    """A page of this size in a context of its own, recording errors in `page.errors`.

    bypass_csp: only for injecting axe-core (assert_accessible); the app's CSP stays on.
    The caller closes `page.context`.
    """
    context = chromium.new_context(viewport=viewport, accept_downloads=True, bypass_csp=bypass_csp)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: _record_console_error(page, message))
    page.set_default_timeout(10_000)
    return page


@pytest.fixture
def page_at(chromium):
    """A fresh browser page of a given size that records console errors; closed afterwards."""
    pages = []

    def open_page(viewport, bypass_csp=False):
        pages.append(open_recording_page(chromium, viewport, bypass_csp))
        return pages[-1]

    yield open_page
    for page in pages:
        page.context.close()


def _record_console_error(page, message) -> None:
    # A page answered with 401 or 404 on purpose is logged by Chromium as a failed load: not a bug.
    if message.type == "error" and "the server responded with a status of 4" not in message.text:
        page.errors.append(message.text)


def shoot(page, name: str) -> None:
    """Save a full-page screenshot as screenshots/<name>.png."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def submit_login(page, password=TEST_PASSWORD) -> None:
    """Type the password into the dashboard's login form and send it."""
    page.fill("#password", password)
    page.click("button:has-text('Log in')")


def logged_in_page(page_at, server: str, viewport):
    """A new page of this size, logged in to the dashboard of `server`, at the overview."""
    page = page_at(viewport)
    page.goto(f"{server}/admin/login")
    submit_login(page)
    page.wait_for_url(re.compile(r"/admin/$"))
    return page


def seed_a_study_in_full_swing(app) -> None:
    """A small study in full swing: every state, a retake, two follow-ups, an empty result."""
    now = datetime.now(UTC)
    prefix = app.config["STUDY_URL_PREFIX"].rstrip("/")
    studies, tests = [], []

    def study(participant_id, study_type, study_id, opened_days_ago=None, created_days_ago=20):
        doc = {
            "study_id": study_id,
            "participant_id": participant_id,
            "study_type": study_type,
            "url": f"{prefix}/{study_id}",
            "created_at": now - timedelta(days=created_days_ago),
            "batch_id": "seed",
        }
        if opened_days_ago is not None:
            doc["first_opened_at"] = doc["last_seen_at"] = now - timedelta(days=opened_days_ago)
        studies.append(doc)
        return doc

    def took(doc, test_types, days_ago):
        for offset, test_type in enumerate(test_types):
            received = now - timedelta(days=days_ago, minutes=30 - offset * 4)
            started = received - timedelta(minutes=3)
            tests.append(stored_test(doc, test_type, received_at=received, time_started=started))

    all_six = list(TEST_TYPES)
    took(study("P001", "baseline", "kqwmzrta", 12), all_six, 12)
    took(study("P001", "followup", "hvbnxeup", 1, created_days_ago=2), all_six[:3], 0.1)
    p002 = study("P002", "baseline", "ldjfwqop", 9)
    took(p002, all_six, 9)
    took(p002, ["choice_reaction_time"], 8)  # a retake
    study("P002", "followup", "pzcxvbnm")
    took(study("P003", "baseline", "rtyuiopa", 30), all_six[:2], 29)
    study("P003", "followup", "qazwsxed")
    study("P004", "baseline", "mnbvcxzl", 2)
    study("P004", "followup", "plokijuh")
    took(study("P005", "baseline", "wsxcderf", 3), [*all_six[:4], "unclassified"], 3)
    study("P005", "followup", "tgbnhyuj")
    for number in range(6, 14):
        study(f"P{number:03d}", "baseline", f"seedbas{chr(ord('a') + number)}")
        study(f"P{number:03d}", "followup", f"seedfol{chr(ord('a') + number)}")
    took(study("P010", "followup", "seedfolz", 4, created_days_ago=5), all_six[:1], 4)
    refused_body = {
        "study_id": "wsxcderf",
        "time_started": "2026-11-20T14:03:07.512Z",
        "time_elapsed_milliseconds": 41873,
        "device_info": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)",
        "result": [{"sm_rt": "1200", "sm_correct": True}],
    }
    refused = {
        "quarantine_id": "6a1f00000000000000000001",
        "study_id": "wsxcderf",
        "participant_id": "P005",
        "study_type": "baseline",
        "received_at": now - timedelta(days=3, hours=1),
        "content_type": "application/json",
        "message": "Invalid submission: result.0.sm_rt: Not a whole number.",
        "errors": [{"field": "result.0.sm_rt", "message": "Not a whole number."}],
        "raw_body": json.dumps(refused_body),
        "size_bytes": len(json.dumps(refused_body)),
        "truncated": False,
    }
    with app.app_context():
        db.studies().insert_many(studies)
        db.tests().insert_many(tests)
        db.quarantine().insert_one(refused)
    # A research assistant's account beside the built-in admin, for the Accounts pages.
    make_account(app, "research.assistant@example.org", "researcher")


@pytest.fixture(scope="module")
def seeded_server(tmp_path_factory):
    """The app on a fresh in-memory database holding seed_a_study_in_full_swing, on a free port."""
    app = create_app(
        {
            "DB_CONNECTION_STR": "mongomock://",
            "ADMIN_PASSWORD": TEST_PASSWORD,
            "SECRET_KEY": "browser-test-secret",
            "DATA_DIR": str(tmp_path_factory.mktemp("data")),
            "STUDY_URL_PREFIX": "https://intact.example.org",
        }
    )
    seed_a_study_in_full_swing(app)
    with serving(app) as url:
        yield url


# --- accessibility: axe-core in every dashboard page ------------------------------------------

# axe-core from npm (package.json; `make test` runs `npm ci`): used by the tests only, never
# served. WCAG 2.1 A and AA rules (axe's stable ones), plus the label-in-name rule (WCAG 2.5.3),
# which axe marks experimental: a control's accessible name must contain its visible text.
AXE_SCRIPT = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_EXTRA_RULES = ["label-content-name-mismatch"]
BLOCKING_IMPACTS = {"serious", "critical"}
_AXE_RUN = """async ([tags, extra]) => {
  const rules = axe.getRules(tags)
    .filter((rule) => !rule.tags.includes("experimental"))
    .map((rule) => rule.ruleId)
    .concat(extra);
  const result = await axe.run(document, {
    runOnly: {type: "rule", values: rules}, resultTypes: ["violations"],
  });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((node) => node.target.join(" ")),
  }));
}"""


def axe_violations(page) -> list[dict]:
    """axe-core's serious and critical violations in the page as it is now.

    The page's context must be opened with `bypass_csp=True` (`page_at(…, bypass_csp=True)`):
    the dashboard's Content-Security-Policy rightly refuses the injected script otherwise.
    """
    if not AXE_SCRIPT.exists():
        pytest.fail("axe-core is not installed: `make test` installs it (npm ci, package.json)")
    page.add_script_tag(path=str(AXE_SCRIPT))
    found = page.evaluate(_AXE_RUN, [AXE_TAGS, AXE_EXTRA_RULES])
    return [violation for violation in found if violation["impact"] in BLOCKING_IMPACTS]


def assert_accessible(page, what: str = "") -> None:
    """Fail with axe's findings when the page has a serious or critical violation."""
    violations = axe_violations(page)
    listed = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} at {', '.join(v['nodes'])}" for v in violations
    )
    assert not violations, f"{what or page.url}: accessibility violations\n{listed}"


# --- accounts and sessions ---------------------------------------------------------------------

STRONG_PASSWORD = "violet-lantern-orbit-73"
CSRF_TOKEN = "csrf-token-for-tests"


def make_account(app, email, role, password=STRONG_PASSWORD):
    """A named account with a password, straight through the accounts service."""
    from intact.accounts import users

    with app.app_context():
        return users.create_account(email, role, password=password)


def start_session(app, client, account=None, csrf=CSRF_TOKEN) -> str:
    """Log `client` in as `account` (None: the built-in admin) without the login form.

    The session is recorded on the server like a real login's; the CSRF token is returned.
    """
    from intact import auth
    from intact.accounts import guard, sessions

    with app.app_context():
        session_id = sessions.start(account.account_id if account else None)
    with client.session_transaction() as cookie:
        cookie.permanent = True
        cookie[guard.SESSION_ID_KEY] = session_id
        cookie[auth.CSRF_SESSION_KEY] = csrf
    return csrf


@pytest.fixture
def researcher(app):
    """A named researcher account (res@example.org)."""
    return make_account(app, "res@example.org", "researcher")


def make_token(app, account, scope="read", days=90) -> str:
    """An API token of `account` (the secret, as a script would send it)."""
    from intact.accounts import tokens

    with app.app_context():
        secret, _ = tokens.create(account.account_id, f"test {scope}", scope, days)
    return secret


def bearer(secret: str) -> dict:
    """The Authorization header for an API token."""
    return {"Authorization": f"Bearer {secret}"}
