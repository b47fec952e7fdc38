"""Can one client stall the server? Participants' latency while others stall, read slowly, export.

    PYTHONPATH=. .venv/bin/python bench/server_model.py [participants] [--worker-class sync]

Seeds the embedded store with `participants` (default 2000) × baseline and follow-up × the six
tests (24,000 tests, as bench/summaries.py), starts gunicorn as `make run` does on a free loopback
port (`--worker-class sync`: the server model before issue 10, one sync worker, for comparison)
and warms it up (the store's in-memory indexes are built on the first reads). Then three scenes,
each with a participant opening study links (GET /studies/<id>) and another posting new tests
(POST /tests), one request after another, 20 ms apart, for as long as the scene lasts:

1. stalled upload: a client sends the headers of a 300-byte POST /tests and one byte, then
   nothing, until the server answers it (REQUEST_BODY_TIMEOUT=5 here);
2. slow download: a researcher reads the ZIP of all tests at 4 KB/s for 10 s, then hangs up;
3. workbook: a researcher downloads the .xlsx workbook of everything at full speed.

Prints, per scene, its duration and each request kind's count, p50, p99 and max latency.
Loopback only; every scene is bounded (10 minutes at most); gunicorn is stopped at the end.
"""

import argparse
import http.client
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Runs as a plain script: the project root must be importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gunicorn_server import ROOT, Gunicorn, embedded_settings  # noqa: E402
from bench.latency import percentile  # noqa: E402
from bench.summaries import fill  # noqa: E402 - the same battery, the same documents
from intact import create_app, db  # noqa: E402

PASSWORD = "bench-password-123"
STUDY = "benchstudy"
SAMPLE = json.loads((ROOT / "tests" / "contract" / "choice_reaction_time.json").read_text())
PAUSE_SECONDS = 0.02
SCENE_LIMIT_SECONDS = 600
BODY_TIMEOUT = 5
SLOW_KBPS = 4
SLOW_SECONDS = 10


def seed(settings: dict, participants: int) -> int:
    app = create_app(settings)
    stored = fill(app, participants)
    with app.app_context():
        db.studies().insert_one(
            {"study_id": STUDY, "participant_id": "B001", "study_type": "baseline"}
        )
    db.client_of(app).close()
    return stored


_numbers = iter(range(10**9))


def submission() -> bytes:
    started = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(seconds=next(_numbers))
    body = dict(SAMPLE, study_id=STUDY, time_started=started.isoformat().replace("+00:00", "Z"))
    return json.dumps(body).encode()


def timed_request(port: int, method: str, path: str, body: bytes | None = None) -> float:
    """One request on a fresh connection, as a phone's browser makes it; milliseconds."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=SCENE_LIMIT_SECONDS)
    headers = {"Content-Type": "application/json"} if body else {}
    connection.request(method, path, body=body, headers=headers)
    answer = connection.getresponse()
    answer.read()
    connection.close()
    if answer.status != 200:
        raise SystemExit(f"{method} {path} answered {answer.status}")
    return (time.perf_counter() - started) * 1000


class Participant(threading.Thread):
    """Makes one kind of request again and again until told to stop; keeps each latency."""

    def __init__(self, port: int, method: str, path: str, stop: threading.Event):
        super().__init__(daemon=True)
        self.port, self.method, self.path, self.stop = port, method, path, stop
        self.latencies: list[float] = []

    def run(self):
        while not self.stop.is_set():
            body = submission() if self.method == "POST" else None
            self.latencies.append(timed_request(self.port, self.method, self.path, body))
            self.stop.wait(PAUSE_SECONDS)


def with_participants(port: int, scene) -> tuple[float, list[Participant]]:
    """Run scene() while two participants make requests; (its seconds, the participants)."""
    stop = threading.Event()
    participants = [
        Participant(port, "GET", f"/studies/{STUDY}", stop),
        Participant(port, "POST", "/tests", stop),
    ]
    for participant in participants:
        participant.start()
    started = time.perf_counter()
    scene()
    seconds = time.perf_counter() - started
    stop.set()
    for participant in participants:
        participant.join(timeout=SCENE_LIMIT_SECONDS)
    return seconds, participants


def stalled_upload(port: int) -> None:
    stalled = socket.create_connection(("127.0.0.1", port), timeout=SCENE_LIMIT_SECONDS)
    stalled.sendall(
        b"POST /tests HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 300\r\n\r\n{"
    )
    answer = http.client.HTTPResponse(stalled)
    answer.begin()
    answer.read()
    stalled.close()
    print(f"  the stalled client got {answer.status}")


def slow_download(port: int) -> None:
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader.connect(("127.0.0.1", port))
    form = f"password={PASSWORD}".encode()
    reader.sendall(
        b"POST /tests/zip-archive/download-file HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(form)}\r\n\r\n".encode()
        + form
    )
    received, started = 0, time.perf_counter()
    while time.perf_counter() - started < SLOW_SECONDS:
        received += len(reader.recv(1024))
        time.sleep(1 / SLOW_KBPS)
    reader.close()
    print(f"  read {received / 1024:.0f} KB of the ZIP in {SLOW_SECONDS} s, then hung up")


def workbook_download(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=SCENE_LIMIT_SECONDS)
    connection.request(
        "POST",
        "/tests/workbook/download-file",
        body=f"password={PASSWORD}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    answer = connection.getresponse()
    size = len(answer.read())
    connection.close()
    if answer.status != 200:
        raise SystemExit(f"the workbook download answered {answer.status}")
    print(f"  workbook: {size / 2**20:.1f} MiB")


def describe(participant: Participant) -> str:
    ordered = sorted(participant.latencies)
    return (
        f"  {participant.method} {participant.path.replace(STUDY, '<id>')}: {len(ordered)}, "
        f"p50 {statistics.median(ordered):.0f} ms, p99 {percentile(ordered, 0.99):.0f} ms, "
        f"max {ordered[-1]:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("participants", type=int, nargs="?", default=2000)
    parser.add_argument("--worker-class", help="override gunicorn.conf.py's (e.g. sync)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="intact-bench-") as data_dir:
        settings = embedded_settings(
            data_dir, PASSWORD, RATELIMIT_ENABLED="0", REQUEST_BODY_TIMEOUT=str(BODY_TIMEOUT)
        )
        stored = seed(settings, args.participants)
        arguments = ("--worker-class", args.worker_class) if args.worker_class else ()
        with Gunicorn(settings, *arguments) as server:
            # Warm up: the first reads build litemongo's in-memory indexes.
            timed_request(server.port, "POST", "/tests", submission())
            timed_request(server.port, "GET", f"/studies/{STUDY}")
            model = args.worker_class or "gunicorn.conf.py's"
            print(f"{stored} tests stored (embedded store), {model} worker class")
            for title, scene in (
                ("stalled upload", stalled_upload),
                (f"slow download ({SLOW_KBPS} KB/s)", slow_download),
                ("workbook download", workbook_download),
            ):
                print(f"{title}:")
                seconds, participants = with_participants(
                    server.port, lambda s=scene: s(server.port)
                )
                print(f"  lasted {seconds:.1f} s; requests answered meanwhile:")
                for participant in participants:
                    print(describe(participant))


if __name__ == "__main__":
    main()
