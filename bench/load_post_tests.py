"""Load: many front-ends posting tests at once to gunicorn on the embedded store; nothing lost.

    PYTHONPATH=. .venv/bin/python bench/load_post_tests.py [--clients 50] [--seconds 60]

Starts gunicorn as `make run` does (gunicorn.conf.py, one worker on the embedded store) on a free
loopback port with a temporary DATA_DIR, then runs `--clients` front-ends for `--seconds`: each
has its own study and posts the six tests of the battery again and again (a new time_started each
round, so every post is a new submission), one after another, as a browser does. It stops by
itself, stops gunicorn, opens the store and checks:

- no error: every answer was 200 (anything else, or a broken connection, is counted and shown);
- the number of stored tests equals the number of 200s, and every acknowledged test_id is stored;
- no duplicate: test_ids and submission fingerprints are unique.

It prints throughput and latency percentiles, and exits non-zero when a check fails.
"""

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from bench.gunicorn_server import ROOT, Gunicorn
from bench.latency import percentile
from intact import create_app, db
from intact.testtypes import TEST_TYPES

CONTRACT = ROOT / "tests" / "contract"
BATTERY = list(TEST_TYPES)
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def study_id(client: int) -> str:
    return "load" + "".join(chr(ord("a") + int(digit)) for digit in f"{client:04d}")


def settings_for(data_dir: str) -> dict:
    return {
        "DB_CONNECTION_STR": "",
        "DATA_DIR": data_dir,
        "ADMIN_PASSWORD": "load-test-password",
        "SECRET_KEY": "load-test-key",
        "LOG_LEVEL": "WARNING",
        # Every post here succeeds; limits would only matter for refusals.
        "RATELIMIT_ENABLED": "0",
    }


def create_studies(settings: dict, clients: int) -> None:
    app = create_app(settings)
    with app.app_context():
        db.studies().insert_many(
            [
                {
                    "study_id": study_id(client),
                    "participant_id": f"L{client:04d}",
                    "study_type": "baseline",
                }
                for client in range(clients)
            ]
        )


class FrontEnd(threading.Thread):
    """One participant's browser: the battery's six tests, posted one after another, until told."""

    def __init__(self, client: int, port: int, stop: threading.Event, samples: dict):
        super().__init__(daemon=True)
        self.client, self.port, self.stop, self.samples = client, port, stop, samples
        self.latencies: list[float] = []
        self.statuses: Counter = Counter()
        self.test_ids: list[str] = []

    def body(self, round_number: int, position: int) -> bytes:
        test_type = BATTERY[position]
        started = START + timedelta(minutes=round_number * 10 + position)
        payload = dict(
            self.samples[test_type],
            study_id=study_id(self.client),
            time_started=started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        )
        return json.dumps(payload).encode()

    def run(self) -> None:
        round_number = 0
        while not self.stop.is_set():
            for position in range(len(BATTERY)):
                if self.stop.is_set():
                    return
                self.post(self.body(round_number, position))
            round_number += 1

    def post(self, data: bytes) -> None:
        began = time.perf_counter()
        try:
            # A new connection per test, as a browser's fetch after minutes of testing would make.
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            connection.request("POST", "/tests", data, {"Content-Type": "application/json"})
            answer = connection.getresponse()
            text = answer.read()
            connection.close()
        except OSError as error:
            self.statuses[f"connection error: {type(error).__name__}"] += 1
            return
        self.latencies.append(time.perf_counter() - began)
        self.statuses[answer.status] += 1
        if answer.status == 200:
            self.test_ids.append(json.loads(text)["test_id"])


def run(clients: int, seconds: float) -> dict:
    """Run the load and the checks; return the figures (and the problems found, if any)."""
    samples = {name: json.loads((CONTRACT / f"{name}.json").read_text()) for name in BATTERY}
    with tempfile.TemporaryDirectory() as data_dir:
        settings = settings_for(data_dir)
        create_studies(settings, clients)
        with Gunicorn(settings) as server:
            stop = threading.Event()
            front_ends = [FrontEnd(n, server.port, stop, samples) for n in range(clients)]
            began = time.perf_counter()
            for front_end in front_ends:
                front_end.start()
            time.sleep(seconds)
            stop.set()
            for front_end in front_ends:
                front_end.join(timeout=120)
            wall = time.perf_counter() - began
        app = create_app(settings)
        with app.app_context():
            stored = list(db.tests().find({}, {"test_id": 1, "fingerprint": 1}))
    statuses = sum((front_end.statuses for front_end in front_ends), Counter())
    acknowledged = [test_id for front_end in front_ends for test_id in front_end.test_ids]
    latencies = sorted(t * 1000 for front_end in front_ends for t in front_end.latencies)
    stored_ids = [test["test_id"] for test in stored]
    problems = []
    if set(statuses) - {200}:
        problems.append(f"answers other than 200: {dict(statuses)}")
    if len(stored) != statuses[200]:
        problems.append(f"{len(stored)} tests stored but {statuses[200]} answered 200")
    if set(acknowledged) - set(stored_ids):
        problems.append(f"{len(set(acknowledged) - set(stored_ids))} acknowledged tests missing")
    if len(set(stored_ids)) != len(stored_ids) or len(set(acknowledged)) != len(acknowledged):
        problems.append("duplicate test_id")
    fingerprints = [test["fingerprint"] for test in stored]
    if len(set(fingerprints)) != len(fingerprints):
        problems.append("duplicate submission stored")
    return {
        "clients": clients,
        "seconds": round(wall, 1),
        "posts": sum(statuses.values()),
        "ok": statuses[200],
        "stored": len(stored),
        "throughput": statuses[200] / wall,
        "p50_ms": statistics.median(latencies) if latencies else None,
        "p99_ms": percentile(latencies, 0.99) if latencies else None,
        "max_ms": latencies[-1] if latencies else None,
        "problems": problems,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="front-ends at once (default 50)")
    parser.add_argument("--seconds", type=float, default=60, help="how long (default 60)")
    args = parser.parse_args()
    if not 1 <= args.clients <= 200 or not 0 < args.seconds <= 600:
        parser.error("at most 200 clients and 600 seconds: this is a bounded test")
    figures = run(args.clients, args.seconds)
    print(
        f"{figures['clients']} front-ends for {figures['seconds']} s on the embedded store: "
        f"{figures['posts']} posts, {figures['ok']} answered 200, {figures['stored']} stored; "
        f"{figures['throughput']:.0f} tests/s; latency p50 {figures['p50_ms']:.0f} ms, "
        f"p99 {figures['p99_ms']:.0f} ms, max {figures['max_ms']:.0f} ms"
    )
    for problem in figures["problems"]:
        print(f"PROBLEM: {problem}")
    if figures["problems"]:
        sys.exit(1)
    print("no errors, stored tests = 200s, every acknowledged test stored, no duplicates")


if __name__ == "__main__":
    main()
