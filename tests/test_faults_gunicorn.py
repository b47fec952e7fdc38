"""Faults in a real server: gunicorn as `make run` starts it, on the embedded store.

- A worker killed (SIGKILL) in the middle of requests loses no submission it acknowledged.
- A download the client cancels leaves nothing behind: no temporary file, no stuck worker,
  and the audit log says it was not completed.
"""

import http.client
import json
import os
import re
import signal
import socket
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import GUNICORN_STUDY, Gunicorn, http_json, load_sample, store_settings, stored_test

from intact import audit, config, create_app, db


@pytest.fixture
def environment(gunicorn_environment, tmp_path):
    """gunicorn's environment: embedded store with one study, its own empty TMPDIR."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    gunicorn_environment.update(RATELIMIT_ENABLED="0", TMPDIR=str(scratch), LOG_LEVEL="WARNING")
    return gunicorn_environment


class Submitter(threading.Thread):
    """A front-end posting new submissions back to back; remembers what was acknowledged."""

    def __init__(self, number: int, url: str, stop: threading.Event):
        super().__init__(daemon=True)
        self.number, self.url, self.stop = number, url, stop
        self.acknowledged: list[str] = []
        self.interrupted = 0

    def run(self):
        sample = load_sample("choice_reaction_time", GUNICORN_STUDY)
        start = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=self.number)
        round_number = 0
        while not self.stop.is_set():
            started = start + timedelta(seconds=round_number)
            body = dict(sample, time_started=started.isoformat().replace("+00:00", "Z"))
            round_number += 1
            try:
                status, answer, _ = http_json(f"{self.url}/tests", body)
            except (OSError, http.client.HTTPException, json.JSONDecodeError):
                # Reset, or the answer cut short by the kill: no 200 reached the front-end, so
                # nothing was promised (the write may still have happened: it is kept once).
                self.interrupted += 1
                continue
            if status == 200:
                self.acknowledged.append(answer["test_id"])


def test_a_killed_worker_loses_no_acknowledged_submission(environment):
    with Gunicorn(environment) as server:
        stop = threading.Event()
        submitters = [Submitter(number, server.url, stop) for number in range(6)]
        for submitter in submitters:
            submitter.start()
        kills = 0
        deadline = time.monotonic() + 60

        def acknowledged_so_far() -> int:
            return sum(len(s.acknowledged) for s in submitters)

        # Kill until at least two requests were cut off mid-way (each kill usually cuts several),
        # each time once the replacement worker is serving again (a few more acknowledgements).
        while kills < 6 and time.monotonic() < deadline:
            serving_from = acknowledged_so_far()
            while acknowledged_so_far() < serving_from + 5 and time.monotonic() < deadline:
                time.sleep(0.05)
            for pid in server.worker_pids():
                os.kill(pid, signal.SIGKILL)
                kills += 1
            if kills >= 3 and sum(s.interrupted for s in submitters) >= 2:
                break
        serving_from = acknowledged_so_far()
        while acknowledged_so_far() < serving_from + 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        for submitter in submitters:
            submitter.join(timeout=60)
        # The master replaced the killed worker: the server still answers.
        assert http_json(f"{server.url}/healthz")[0] == 200

    acknowledged = [test_id for s in submitters for test_id in s.acknowledged]
    interrupted = sum(s.interrupted for s in submitters)
    assert kills >= 3
    assert interrupted >= 2, "no request was in flight when the worker died"
    assert len(acknowledged) > 20
    with create_app(store_settings(environment)).app_context():
        stored = list(db.tests().find({}, {"test_id": 1, "fingerprint": 1}))
    stored_ids = {test["test_id"] for test in stored}
    assert set(acknowledged) <= stored_ids
    # Nothing stored twice; a request cut off after its write may be stored unacknowledged.
    assert len(stored_ids) == len(stored)
    assert len({test["fingerprint"] for test in stored}) == len(stored)
    assert len(stored) - len(acknowledged) <= interrupted


def raw_post(port: int, path: str, form: dict) -> socket.socket:
    """Send a form POST and return the open socket, response unread."""
    body = "&".join(f"{key}={value}" for key, value in form.items()).encode()
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    connection.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n".encode()
        + body
    )
    return connection


def data_files(data_dir: Path) -> list[str]:
    """The files under DATA_DIR, but SQLite's own journals and `make run`'s generated secrets."""
    return sorted(
        str(path.relative_to(data_dir))
        for path in data_dir.rglob("*")
        if path.is_file()
        and not path.name.endswith(("-wal", "-shm", "-journal"))
        and path.name not in (config.LOCAL_SECRETS_FILE, config.LOCAL_PSEUDONYM_KEY_FILE)
    )


def test_a_cancelled_download_leaves_nothing_behind(environment):
    app = create_app(store_settings(environment))
    study = {"study_id": GUNICORN_STUDY, "participant_id": "P001", "study_type": "baseline"}
    received = datetime(2026, 3, 1, tzinfo=UTC)
    with app.app_context():
        db.tests().insert_many(
            [
                stored_test(
                    study,
                    "choice_reaction_time",
                    received_at=received + timedelta(seconds=n),
                    time_started=received + timedelta(seconds=n),
                )
                for n in range(3000)
            ]
        )
    data_dir, scratch = Path(environment["DATA_DIR"]), Path(environment["TMPDIR"])
    data_files_before = data_files(data_dir)
    form = {"password": environment["ADMIN_PASSWORD"]}
    port = int(environment["PORT"])

    with Gunicorn(environment) as server:
        connection = raw_post(port, "/tests/zip-archive/download-file", form)
        head = connection.recv(4096)
        assert head.startswith(b"HTTP/1.1 200")
        assert b"application/zip" in head
        # Hang up at once, with a reset (as a browser's cancel or a closed tab does).
        connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )
        connection.close()
        started = time.monotonic()
        assert http_json(f"{server.url}/healthz")[0] == 200
        assert time.monotonic() - started < 5
        # A whole download afterwards works.
        whole = raw_post(port, "/tests/zip-archive/download-file", form)
        received_bytes = b""
        while chunk := whole.recv(65536):
            received_bytes += chunk
        whole.close()
        assert received_bytes.startswith(b"HTTP/1.1 200")

    assert list(scratch.iterdir()) == []
    assert data_files(data_dir) == data_files_before
    with create_app(store_settings(environment)).app_context():
        downloads = audit.find_entries(action=audit.DOWNLOAD).items
    assert [entry["details"]["completed"] for entry in downloads] == [True, False]
    cancelled = downloads[1]
    assert 0 < cancelled["count"] < downloads[0]["count"]


# participant id -> the ASCII file name a browser that cannot read filename* falls back to.
FILE_NAME_FALLBACKS = {"张伟1": "intact-data-1-", "Müller1": "intact-data-Muller1-", "P001": None}


def test_a_file_named_after_any_participant_downloads_through_gunicorn(environment):
    """RFC 6266: an ASCII `filename=` always, plus `filename*=UTF-8''…` for any other name."""
    app = create_app(store_settings(environment))
    with app.app_context():
        db.studies().insert_many(
            [
                {"study_id": f"{letter * 8}", "participant_id": name, "study_type": "baseline"}
                for letter, name in zip("xyz", FILE_NAME_FALLBACKS, strict=True)
            ]
        )
    dispositions = {}
    with Gunicorn(environment) as server:
        for participant_id in FILE_NAME_FALLBACKS:
            form = {"password": environment["ADMIN_PASSWORD"], "participant_id": participant_id}
            url = f"{server.url}/tests/zip-archive/download-file"
            body = urllib.parse.urlencode(form).encode()
            with urllib.request.urlopen(url, data=body, timeout=30) as answer:
                assert answer.status == 200
                assert answer.read()[:2] == b"PK"
                dispositions[participant_id] = answer.headers["Content-Disposition"]
    for participant_id, fallback in FILE_NAME_FALLBACKS.items():
        disposition = dispositions[participant_id]
        assert disposition.isascii()
        plain = re.search(r"filename=([^;]+)", disposition).group(1)
        encoded = re.search(r"filename\*=UTF-8''([^;]+)", disposition)
        if fallback is None:  # what a browser saves: filename*, when given (RFC 6266 section 4.3)
            assert encoded is None
            assert plain.startswith(f"intact-data-{participant_id}-")
        else:
            saved = urllib.parse.unquote(encoded.group(1))
            assert saved.startswith(f"intact-data-{participant_id}-")
            assert re.fullmatch(rf"{re.escape(fallback)}\d{{8}}T\d{{6}}Z\.zip", plain)
