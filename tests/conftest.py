"""Shared fixtures: an app on a fresh in-memory database, its client and CLI runner."""

import contextlib
import itertools
import json
import os
import subprocess
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

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


STORES = [
    "mongomock",
    "embedded",
    pytest.param("mongodb", marks=pytest.mark.mongo),
]


@pytest.fixture(params=STORES)
def store_config(request, app_config, tmp_path):
    """The test environment on each store the app supports: mock, embedded file store, real MongoDB.

    The real server is used only when TEST_MONGO_URI is set; each test gets its own database.
    """
    store = request.param
    if store == "embedded":
        app_config["DB_CONNECTION_STR"] = ""
    elif store == "mongodb":
        uri = os.environ.get("TEST_MONGO_URI")
        if not uri:
            pytest.skip("TEST_MONGO_URI is not set")
        app_config["DB_CONNECTION_STR"] = uri
        app_config["DB_NAME"] = f"intact_test_{uuid.uuid4().hex[:12]}"
    yield app_config
    if store == "mongodb":
        import pymongo

        pymongo.MongoClient(app_config["DB_CONNECTION_STR"]).drop_database(app_config["DB_NAME"])


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


def make_token(app, account, scope="read", days=90) -> str:
    """An API token of `account` (the secret, as a script would send it)."""
    from intact.accounts import tokens

    with app.app_context():
        secret, _ = tokens.create(account.account_id, f"test {scope}", scope, days)
    return secret


def bearer(secret: str) -> dict:
    """The Authorization header for an API token."""
    return {"Authorization": f"Bearer {secret}"}
