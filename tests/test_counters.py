"""Failure counters live in the app's own database in every store mode (intact/counters.py).

So two workers, or a worker and the one that replaces it, count together; and `flask limiter
clear` reaches them.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mongomock
import pymongo
import pytest
from conftest import PROJECT_ROOT, Gunicorn, http_json, make_run_environment, store_settings
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from intact import config, counters, create_app, db, ratelimit

LIMIT = parse("3 per minute")


def counter_storage(app):
    return app.extensions[ratelimit.PerAppLimiter.STATE]["storage"]


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("", counters.PortableCounters),
        ("mongomock://", counters.PortableCounters),
        ("mongodb://127.0.0.1:9/?directConnection=true", counters.AppDatabaseCounters),
        ("mongodb+srv://user:pw@cluster.example/", counters.AppDatabaseCounters),
    ],
)
def test_counters_live_in_the_apps_own_database_in_every_mode(uri, kind):
    settings = config.from_environ({"DB_CONNECTION_STR": uri, "DB_NAME": "clinic"})
    app_client = mongomock.MongoClient()
    storage_uri, options = counters.storage_for(settings, app_client)
    storage = storage_from_string(storage_uri, **options)
    assert type(storage) is kind
    # The app's own client and database: one connection pool, the app's timeouts.
    assert storage.storage is app_client
    assert storage.counters.full_name == "clinic.ratelimit_counters"


def test_ended_windows_expire_by_an_index_made_with_the_others(store_config):
    app = create_app(store_config)
    with app.app_context():
        indexes = db.collection(counters.COUNTERS).index_information().values()
    assert any(
        index["key"] == [("expireAt", 1)] and index.get("expireAfterSeconds") == 0
        for index in indexes
    )


def test_a_window_counts_then_starts_again_once_it_has_ended(store_config):
    app = create_app(store_config)
    strategy = FixedWindowRateLimiter(counter_storage(app))
    with app.app_context():
        assert [strategy.hit(LIMIT, "10.0.0.1", "misses") for _ in range(4)] == [
            True,
            True,
            True,
            False,
        ]
        assert strategy.hit(LIMIT, "10.0.0.2", "misses")  # another address, another counter
        # The minute is over (moved back rather than waited for): the next miss starts a new one.
        db.collection(counters.COUNTERS).update_many(
            {}, {"$set": {"expireAt": datetime.now(UTC) - timedelta(seconds=1)}}
        )
        assert strategy.hit(LIMIT, "10.0.0.1", "misses")
        assert strategy.get_window_stats(LIMIT, "10.0.0.1", "misses").remaining == 2


@pytest.fixture(params=["embedded", pytest.param("mongodb", marks=pytest.mark.mongo)])
def shared_store(request, app_config):
    """Settings of a store that two apps (two workers, or one after a restart) both open."""
    if request.param == "embedded":
        app_config["DB_CONNECTION_STR"] = ""
        yield app_config
        return
    uri = request.getfixturevalue("mongo_uri")
    app_config.update(DB_CONNECTION_STR=uri, DB_NAME=f"intact_test_{uuid.uuid4().hex[:12]}")
    yield app_config
    with pymongo.MongoClient(uri) as client:
        client.drop_database(app_config["DB_NAME"])


def test_two_apps_on_one_store_share_their_counters(shared_store):
    # Two workers, or a worker and its replacement: the counts of one hold in the other.
    shared_store["RATELIMIT_STUDY_MISSES"] = "3 per minute"
    first, second = create_app(shared_store), create_app(shared_store)
    assert [first.test_client().get("/studies/zzzzzzzz").status_code for _ in range(3)] == [404] * 3
    assert second.test_client().get("/studies/zzzzzzzz").status_code == 429


def test_flask_limiter_clear_clears_an_address(gunicorn_environment):
    environment = dict(gunicorn_environment, RATELIMIT_STUDY_MISSES="3 per minute")
    app = create_app(dict(store_settings(environment), RATELIMIT_STUDY_MISSES="3 per minute"))
    client = app.test_client()
    assert [client.get("/studies/zzzzzzzz").status_code for _ in range(4)] == [404] * 3 + [429]
    # Flask-Limiter's own command, as an operator runs it, on the same store.
    done = subprocess.run(
        [str(Path(sys.executable).with_name("flask")), "--app", "wsgi", "limiter", "clear"]
        + ["--key", "127.0.0.1", "-y"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "participant.Study" in done.stdout
    assert client.get("/studies/zzzzzzzz").status_code == 404


def replace_the_worker(server) -> None:
    """SIGKILL gunicorn's worker, as its timeout did to a stalled sync worker; wait for the next."""
    killed = server.worker_pids()
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        workers = server.worker_pids()
        if workers and not set(workers) & set(killed):
            with contextlib.suppress(OSError):
                if http_json(f"{server.url}/healthz")[0] == 200:
                    return
        time.sleep(0.05)
    pytest.fail("no new worker answered within 30 s")


def wrong_admin_password(server) -> int:
    """A wrong password to the admin API, as a guesser's script sends it; the status."""
    request = urllib.request.Request(
        f"{server.url}/tests/zip-archive/download-file", data=b"password=not-the-password"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_replaced_worker_keeps_the_guessing_and_password_limits(shared_store):
    store = ("DB_CONNECTION_STR", "DB_NAME", "DATA_DIR", "ADMIN_PASSWORD", "SECRET_KEY")
    settings = dict(
        {key: str(shared_store[key]) for key in store if key in shared_store},
        RATELIMIT_STUDY_MISSES="5 per minute",
        # The daily limit is the one reached: what a restart used to reset.
        RATELIMIT_LOGIN_FAILURES="100 per minute; 3 per day",
    )
    environment = make_run_environment(settings, WEB_CONCURRENCY="1", REQUEST_BODY_TIMEOUT="1")
    with Gunicorn(environment) as server:
        guesses = [http_json(f"{server.url}/studies/zzzzzzzz")[0] for _ in range(7)]
        assert guesses == [404] * 5 + [429] * 2
        assert [wrong_admin_password(server) for _ in range(4)] == [401] * 3 + [429]
        # A client stalls mid-upload (the way a worker was made to be killed), then the worker
        # is replaced.
        with socket.create_connection(("127.0.0.1", server.port)) as stalled:
            stalled.sendall(b"POST /tests HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n{")
            replace_the_worker(server)
        guesses = [http_json(f"{server.url}/studies/zzzzzzzz")[0] for _ in range(7)]
        assert guesses == [429] * 7
        assert wrong_admin_password(server) == 429
