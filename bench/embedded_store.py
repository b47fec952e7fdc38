"""Embedded store under load: POST /tests and a full export through real gunicorn.

Seeds DATA_DIR with PARTICIPANTS × 2 studies × 6 tests (default 2,000 → 24,000 tests, the real
battery's answer counts) through the same code path as POST /tests, then starts gunicorn exactly
as `make run` does (one worker, embedded store) and measures over HTTP on loopback:
- POST /tests latency for new submissions when the store is empty and when it holds every test;
- the full ZIP export (time, size, the worker's peak resident memory).

    .venv/bin/python bench/embedded_store.py [--participants 2000] [--posts 300]

Loopback only; every loop is bounded; gunicorn is stopped at the end.
"""

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Runs as a plain script: the project root must be importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gunicorn_server import ROOT, Gunicorn, embedded_settings  # noqa: E402
from bench.latency import percentile  # noqa: E402
from intact import create_app, db, results  # noqa: E402

SAMPLES = ROOT / "tests" / "contract"
PASSWORD = "bench-password-123"
# The real battery: how many answers each list test has.
BATTERY = {
    "immediate_recall": None,
    "choice_reaction_time": 10,
    "visual_paired_associates": 5,
    "digit_symbol_matching": 10,
    "spatial_memory": 5,
    "delayed_recall": None,
}


def battery_submissions(study_id: str, started: datetime) -> list[dict]:
    """The six submissions of one study, answers repeated to the battery's lengths."""
    submissions = []
    for offset, (test_type, answers) in enumerate(BATTERY.items()):
        sample = json.loads((SAMPLES / f"{test_type}.json").read_text())
        sample["study_id"] = study_id
        stamp = started + timedelta(minutes=offset)
        sample["time_started"] = stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if answers:
            base = sample["result"]
            sample["result"] = [copy.deepcopy(base[i % len(base)]) for i in range(answers)]
        submissions.append(sample)
    return submissions


def seed(environ: dict, participants: int, first: int = 0) -> list[str]:
    """Create the studies and store every test through results.submit; return the study ids."""
    app = create_app(environ)
    study_ids = []
    started = time.perf_counter()
    with app.app_context():
        studies = []
        for p in range(first, first + participants):
            for kind in ("baseline", "followup"):
                study_id = f"{kind}{p:07d}"
                studies.append(
                    {
                        "study_id": study_id,
                        "participant_id": f"P{p:05d}",
                        "study_type": kind,
                        "url": f"http://localhost:5173/{study_id}",
                        "created_at": datetime.now(UTC),
                        "batch_id": "bench",
                    }
                )
                study_ids.append(study_id)
        db.studies().insert_many(studies)
        moment = datetime(2026, 1, 1, tzinfo=UTC)
        for index, study_id in enumerate(study_ids):
            for submission in battery_submissions(study_id, moment + timedelta(hours=index)):
                results.submit(json.dumps(submission).encode(), "application/json")
        stored = db.tests().count_documents({})
    db.client_of(app).close()
    print(
        f"seeded {len(study_ids)} studies, {stored} tests in {time.perf_counter() - started:.1f} s"
    )
    return study_ids


def post_latencies(port: int, study_ids: list[str], count: int) -> list[float]:
    """Post `count` new submissions (retakes: new time_started) and time each round trip."""
    latencies = []
    moment = datetime(2027, 1, 1, tzinfo=UTC)
    for index in range(count):
        study_id = study_ids[index % len(study_ids)]
        submission = battery_submissions(study_id, moment + timedelta(seconds=index))[index % 6]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/tests",
            data=json.dumps(submission).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            assert response.status == 200, response.status
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def export_zip(port: int) -> tuple[float, int]:
    """Download the all-tests ZIP; return (seconds, bytes)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/tests/zip-archive/download-file",
        data=f"password={PASSWORD}".encode(),
        method="POST",
    )
    started = time.perf_counter()
    size = 0
    with urllib.request.urlopen(request, timeout=600) as response:
        while chunk := response.read(1 << 16):
            size += len(chunk)
    return time.perf_counter() - started, size


def summarise(label: str, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    print(
        f"{label}: {len(ordered)} posts, p50 {statistics.median(ordered):.1f} ms, "
        f"p99 {percentile(ordered, 0.99):.1f} ms, mean {statistics.fmean(ordered):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--posts", type=int, default=300)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="intact-bench-") as data_dir:
        environ = embedded_settings(data_dir, PASSWORD)
        # Empty store first: one study to post to.
        empty_ids = seed(environ, 1)
        with Gunicorn(environ) as server:
            latencies = post_latencies(server.port, empty_ids, args.posts)
            summarise("POST /tests, store nearly empty", latencies)

        study_ids = seed(environ, args.participants, first=1)
        with Gunicorn(environ) as server:
            latencies = post_latencies(server.port, study_ids, args.posts)
            summarise(f"POST /tests, {args.participants * 12} tests stored", latencies)
            before = server.worker_memory_mb()
            seconds, size = export_zip(server.port)
            print(
                f"full ZIP export: {seconds:.1f} s, {size / 1e6:.1f} MB; worker peak RSS "
                f"{before:.0f} MB before, {server.worker_memory_mb():.0f} MB after"
            )


if __name__ == "__main__":
    main()
