"""Latency of POST /tests through gunicorn as `make run` starts it, on the embedded store.

    PYTHONPATH=. .venv/bin/python bench/submissions.py [participants] [stored_tests]

    participants   studies whose six tests are posted one after another (default 50: 300 posts)
    stored_tests   tests already in the store before the run (default 0), to see how the
                   embedded store's unique-index checks grow with its size

Then every submission is posted again (identical: answered from the stored test), and the same
number of fresh ones are posted by 8 threads at once (the embedded mode serves one at a time).
"""

import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta

from bench.gunicorn_server import ROOT, Gunicorn
from intact import create_app, db
from intact.testtypes import TEST_TYPES

CONTRACT = ROOT / "tests" / "contract"
# The six tests in the order the front-end runs them.
BATTERY = list(TEST_TYPES)
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def submissions(participants: int, offset_days: int = 0) -> list[dict]:
    samples = {name: json.loads((CONTRACT / f"{name}.json").read_text()) for name in BATTERY}
    bodies = []
    for number in range(participants):
        for position, name in enumerate(BATTERY):
            body = dict(samples[name], study_id=f"s{number:07d}")
            started = START + timedelta(days=offset_days, minutes=number * 10 + position)
            body["time_started"] = started.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            bodies.append(body)
    return bodies


def prepare(settings: dict, participants: int, stored_tests: int) -> None:
    app = create_app(settings)
    with app.app_context():
        db.studies().insert_many(
            [
                {"study_id": f"s{n:07d}", "participant_id": f"P{n:05d}", "study_type": "baseline"}
                for n in range(participants)
            ]
        )
        if stored_tests:
            db.tests().insert_many(
                [
                    {
                        "test_id": f"old{n:09d}",
                        "study_id": "old",
                        "test_type": "spatial_memory",
                        "fingerprint": f"old{n}",
                        "result": [{"sm_rt": 1, "sm_correct": True}],
                    }
                    for n in range(stored_tests)
                ]
            )


def post_all(port: int, bodies: list[dict]) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    timings = []
    for body in bodies:
        data = json.dumps(body).encode()
        began = time.perf_counter()
        connection.request("POST", "/tests", data, {"Content-Type": "application/json"})
        answer = connection.getresponse()
        answer.read()
        timings.append(time.perf_counter() - began)
        if answer.status != 200:
            raise SystemExit(f"POST /tests answered {answer.status}")
    connection.close()
    return timings


def describe(label: str, timings: list[float], wall: float) -> None:
    ms = sorted(t * 1000 for t in timings)
    p95 = ms[int(len(ms) * 0.95) - 1]
    print(
        f"{label}: {len(ms)} posts, median {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, "
        f"max {ms[-1]:.1f} ms, {len(ms) / wall:.0f} posts/s"
    )


def main() -> None:
    participants = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    stored_tests = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    with tempfile.TemporaryDirectory() as data_dir:
        settings = {
            "DB_CONNECTION_STR": "",
            "DATA_DIR": data_dir,
            "ADMIN_PASSWORD": "bench-password",
            "SECRET_KEY": "bench-key",
            "LOG_LEVEL": "WARNING",
        }
        prepare(settings, participants, stored_tests)
        with Gunicorn(settings) as server:
            port = server.port
            print(f"embedded store, {stored_tests} tests stored before the run")
            bodies = submissions(participants)
            began = time.perf_counter()
            describe("new, one client", post_all(port, bodies), time.perf_counter() - began)
            began = time.perf_counter()
            describe("identical again", post_all(port, bodies), time.perf_counter() - began)

            fresh = submissions(participants, offset_days=1)
            shares = [fresh[i::8] for i in range(8)]
            results = [None] * 8

            def run(index):
                results[index] = post_all(port, shares[index])

            threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - began
            describe("new, 8 clients at once", [t for r in results for t in r], wall)


if __name__ == "__main__":
    main()
