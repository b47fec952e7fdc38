"""End to end: `make run`'s gunicorn on the embedded store keeps a submission across a restart."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import load_sample

from intact import create_app, db

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(url, payload=None):
    data = None if payload is None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "Origin": "https://intact.sail.codes"}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=data, headers=headers), timeout=10
        ) as answer:
            return answer.status, json.loads(answer.read()), answer.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers


class Gunicorn:
    """gunicorn started as `make run` starts it (gunicorn.conf.py, wsgi:app, LOCAL_MODE=1)."""

    def __init__(self, environment):
        self.environment = environment
        self.url = f"http://127.0.0.1:{environment['PORT']}"
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
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited: {self.process.stdout.read()}")
            try:
                if request(f"{self.url}/healthz")[0] == 200:
                    return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        pytest.fail("gunicorn did not answer within 30 s")

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


@pytest.fixture
def environment(tmp_path):
    data_dir = tmp_path / "data"
    settings = {
        "DB_CONNECTION_STR": "",
        "DATA_DIR": str(data_dir),
        "ADMIN_PASSWORD": "e2e-admin-password",
        "SECRET_KEY": "e2e-secret-key",
    }
    app = create_app(settings)
    with app.app_context():
        db.studies().insert_one(
            {"study_id": "abcdefgh", "participant_id": "P001", "study_type": "baseline"}
        )
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DB_CONNECTION_STR", "DB_NAME", "HOST", "PORT", "DATA_DIR"}
    }
    env.update(settings, LOCAL_MODE="1", HOST="127.0.0.1", PORT=str(free_port()))
    return env


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
