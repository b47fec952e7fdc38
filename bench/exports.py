"""Time and memory of the data ZIP and of creating 10,000 studies, on the embedded store.

    .venv/bin/python bench/exports.py [participants ...]     (default 2000)

For each size: participants × (baseline + follow-up) × the six tests with the real battery's
lengths (10 choice reaction time, 5 visual pairs, 10 digit symbol, 5 spatial memory answers:
2,000 participants are 24,000 tests and 128,000 answer rows). The ZIP is built in a fresh process
on the filled store, so its peak resident memory (VmHWM) is the export's own and not the
filling's; that process also reports the peak of Python allocations (tracemalloc) on a second run,
and the time of the first pass alone (field names for the extra columns). Then 10,000 studies
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
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH_DIR.parent), str(BENCH_DIR)]

from summaries import fill  # noqa: E402 - bench/summaries.py: the same battery, same documents

from intact import create_app, exports, studies  # noqa: E402


def make_app(folder: str):
    return create_app(
        {
            "DB_CONNECTION_STR": "",
            "DATA_DIR": folder,
            "ADMIN_PASSWORD": "bench-password",
            "SECRET_KEY": "bench",
            "LOG_LEVEL": "WARNING",
        }
    )


def build_zip() -> int:
    """Build the whole ZIP as the download does, keep nothing: its size in bytes."""
    return sum(len(chunk) for chunk in exports.zip_archive())


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
    """In this (fresh) process: time, resident peak and Python peak of one ZIP."""
    app, start_seconds, _ = timed(lambda: make_app(folder))
    with app.app_context():
        before = resident_peak_kib()
        # The first export after a start also builds the store's in-memory index (litemongo).
        size, seconds, cpu_seconds = timed(build_zip)
        rss_peak = resident_peak_kib()
        _, warm_seconds, warm_cpu_seconds = timed(build_zip)
        began = time.perf_counter()
        exports.scan_fields()
        scan_seconds = time.perf_counter() - began
        tracemalloc.start()
        build_zip()
        python_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return {
        "start_seconds": start_seconds,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "warm_seconds": warm_seconds,
        "warm_cpu_seconds": warm_cpu_seconds,
        "zip_bytes": size,
        "scan_seconds": scan_seconds,
        "rss_before_kib": before,
        "rss_peak_kib": rss_peak,
        "python_peak_bytes": python_peak,
    }


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
        app = make_app(folder)
        began = time.perf_counter()
        tests = fill(app, participants)
        print(
            f"{participants:,} participants, {2 * participants:,} studies, {tests:,} tests "
            f"(filled in {time.perf_counter() - began:.0f} s, embedded store)"
        )
        app.extensions["intact_db_client"].close()
        child = subprocess.run(
            [sys.executable, __file__, "--measure-zip", folder],
            check=True,
            capture_output=True,
            text=True,
        )
        zip_figures = json.loads(child.stdout.strip().splitlines()[-1])
        print(
            f"app start on the filled store: {zip_figures['start_seconds']:.1f} s; "
            f"ZIP: {zip_figures['seconds']:.2f} s (CPU {zip_figures['cpu_seconds']:.2f} s), "
            f"again {zip_figures['warm_seconds']:.2f} s "
            f"(CPU {zip_figures['warm_cpu_seconds']:.2f} s), "
            f"{zip_figures['zip_bytes'] / 2**20:.1f} MiB; "
            f"first pass (field names) {zip_figures['scan_seconds']:.2f} s; "
            f"resident peak {zip_figures['rss_peak_kib'] / 1024:.0f} MiB "
            f"(app started: {zip_figures['rss_before_kib'] / 1024:.0f} MiB); "
            f"Python peak {zip_figures['python_peak_bytes'] / 2**20:.1f} MiB"
        )
        print(create_ten_thousand(make_app(folder)))


def main() -> None:
    if sys.argv[1:2] == ["--measure-zip"]:
        print(json.dumps(measure_zip(sys.argv[2])))
        return
    for participants in [int(arg) for arg in sys.argv[1:]] or [2000]:
        run(participants)


if __name__ == "__main__":
    main()
