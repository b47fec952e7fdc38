"""Time and memory of the data ZIP and of creating 10,000 studies, on the embedded store.

    .venv/bin/python bench/exports.py [participants ...]     (default 2000)

For each size: participants × (baseline + follow-up) × the six tests with the real battery's
lengths (10 choice reaction time, 5 visual pairs, 10 digit symbol, 5 spatial memory answers:
2,000 participants are 24,000 tests and 128,000 answer rows). The ZIP is built in a fresh process
on the filled store, so its peak resident memory (VmHWM) is the export's own and not the
filling's; that process also reports the peak of Python allocations (tracemalloc) on a third
run. Tests are stored in arrival order (participants interleaved, bench/summaries.py). Then 10,000
studies
are created (5,000 participants × 2) in that store. Times are wall clock and, in brackets, CPU
time of the process: on a shared machine the second is the steadier figure.
"""

import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH_DIR.parent), str(BENCH_DIR)]

from summaries import START, embedded_app, fill  # noqa: E402 - bench/summaries.py: same data

from intact import db, exports, studies  # noqa: E402
from intact.exports import archive  # noqa: E402

# A ZIP of what is new: the tests that arrived in the bench's last 15 days (about a twelfth).
SINCE = START + timedelta(days=255)
VARIANTS = {"full": None, "since": SINCE}


def build_zip(variant: str) -> int:
    """Build the ZIP as the download does (derived scores, codebook), keep nothing: its size."""
    chosen = exports.Selection(window=exports.Window.up_to_now(VARIANTS[variant]))
    return sum(len(chunk) for chunk in archive.zip_archive(chosen))


def timed(work):
    """(result, wall seconds, CPU seconds) of work()."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def resident_peak_kib() -> int:
    """This process's peak resident memory, in KiB.

    VmHWM rather than ru_maxrss: on Linux ru_maxrss survives exec, so a child started by a parent
    that had just filled the store would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure_zip(folder: str) -> dict:
    """In this (fresh) process: time, resident peak and Python peak of the ZIP.

    The ZIP as downloaded (summary, change, reliable_change, studies, every test type, codebook,
    datapackage.json), then the ZIP
    of what arrived in the last 15 days (`since`). Each is built three times: timed, timed
    again, and under tracemalloc.
    """
    app, start_seconds, _ = timed(lambda: embedded_app(folder))
    figures = {"start_seconds": start_seconds}
    with app.app_context():
        figures["rss_start_kib"] = resident_peak_kib()
        # litemongo builds its in-memory hash indexes of a collection on the first indexed read
        # or insert (the first POST /tests after a start does it): build them before measuring
        # so that their memory is not counted as the export's.
        _, figures["index_seconds"], _ = timed(
            lambda: (db.tests().find_one({"test_id": ""}), db.studies().find_one({"study_id": ""}))
        )
        figures["rss_ready_kib"] = resident_peak_kib()
        for variant in VARIANTS:
            size, first, first_cpu = timed(lambda: build_zip(variant))  # noqa: B023 - run here
            _, again, again_cpu = timed(lambda: build_zip(variant))  # noqa: B023
            tracemalloc.start()
            build_zip(variant)
            python_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            figures[variant] = {
                "first": first,
                "first_cpu": first_cpu,
                "again": again,
                "again_cpu": again_cpu,
                "bytes": size,
                "rss_peak_kib": resident_peak_kib(),
                "python_peak_bytes": python_peak,
            }
    return figures


def create_ten_thousand(app) -> str:
    participant_ids = [f"N{number:05d}" for number in range(5000)]
    with app.test_request_context():
        created, seconds, cpu_seconds = timed(lambda: studies.create_studies(participant_ids))
        tracemalloc.start()
        studies.create_studies(participant_ids, baselines=1, followups=1)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return (
        f"create {len(created):,} studies: {seconds:.2f} s (CPU {cpu_seconds:.2f} s), "
        f"Python peak {peak / 2**20:.1f} MiB"
    )


def run(participants: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = embedded_app(folder)
        began = time.perf_counter()
        tests = fill(app, participants)
        print(
            f"{participants:,} participants, {2 * participants:,} studies, {tests:,} tests "
            f"(filled in {time.perf_counter() - began:.0f} s, embedded store)"
        )
        db.client_of(app).close()
        child = subprocess.run(
            [sys.executable, __file__, "--measure-zip", folder],
            check=True,
            capture_output=True,
            text=True,
        )
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        print(
            f"app start on the filled store: {figures['start_seconds']:.1f} s, resident "
            f"{figures['rss_start_kib'] / 1024:.0f} MiB; the store's in-memory indexes: "
            f"{figures['index_seconds']:.2f} s, "
            f"resident {figures['rss_ready_kib'] / 1024:.0f} MiB"
        )
        for variant, label in (("full", "ZIP as downloaded"), ("since", "ZIP since day 255")):
            zip_ = figures[variant]
            print(
                f"{label}: first {zip_['first']:.2f} s "
                f"(CPU {zip_['first_cpu']:.2f} s), again {zip_['again']:.2f} s "
                f"(CPU {zip_['again_cpu']:.2f} s), {zip_['bytes'] / 2**20:.1f} MiB; "
                f"Python peak {zip_['python_peak_bytes'] / 2**20:.1f} MiB, "
                f"resident peak so far {zip_['rss_peak_kib'] / 1024:.0f} MiB"
            )
        print(create_ten_thousand(embedded_app(folder)))


def main() -> None:
    if sys.argv[1:2] == ["--measure-zip"]:
        print(json.dumps(measure_zip(sys.argv[2])))
        return
    for participants in [int(arg) for arg in sys.argv[1:]] or [2000]:
        run(participants)


if __name__ == "__main__":
    main()
