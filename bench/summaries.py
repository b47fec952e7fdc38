"""Time and memory of summary.csv and the .xlsx workbook on the embedded store.

    PYTHONPATH=. .venv/bin/python bench/summaries.py [participants]   (default 2000: 4000 studies,
    24000 tests; run from the project folder: PYTHONPATH=. lets it import the app)

Each participant has a baseline and a follow-up with the six tests of the battery. Time is one
plain run; memory is the peak of Python allocations (tracemalloc) during a second run.
"""

import random
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from intact import create_app, db, summaries
from intact.exports import archive

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def battery(rng: random.Random) -> dict:
    """Results of one battery, shaped as the front-end sends them."""

    def answers(prefix, count, extra):
        return [
            {
                f"{prefix}_rt": rng.randint(250, 2500),
                f"{prefix}_correct": rng.random() < 0.8,
                **extra,
            }
            for _ in range(count)
        ]

    return {
        "immediate_recall": {
            "ir_score": rng.choice([0, 1, 2]),
            "ir_rt_first": 8000,
            "ir_rt_second": 6000,
        },
        "choice_reaction_time": answers("crt", 10, {"crt_response": "left", "crt_dwell": 90}),
        "visual_paired_associates": answers("vpa", 5, {"vpa_response": "bar3.jpg"}),
        "digit_symbol_matching": answers("dsm", 10, {"dsm_response": 2}),
        "spatial_memory": answers("sm", 5, {}),
        "delayed_recall": {"dr_rt": 9000, "dr_score": rng.randint(0, 5)},
    }


def fill(app, participants: int) -> int:
    """Store participants × (baseline + follow-up) × the six tests, in the order they would arrive.

    Studies are created in one batch, participant after participant. Each participant starts
    their baseline on a day of the first 90 and their follow-up 180 days later, so the tests of a
    participant are stored far apart, among everyone else's, as a real study's are.
    """
    rng = random.Random(7)
    studies, tests = [], []
    for number in range(participants):
        first_day = rng.randrange(90)
        for kind, days in (("baseline", first_day), ("followup", first_day + 180)):
            study_id = f"{kind[0]}{number:07d}"
            study = {"study_id": study_id, "participant_id": f"P{number:05d}", "study_type": kind}
            studies.append({**study, "created_at": START, "batch_id": "bench"})
            arrival = START + timedelta(days=days, minutes=rng.randrange(24 * 60))
            for position, (test_type, result) in enumerate(battery(rng).items()):
                started = arrival + timedelta(minutes=3 * position)
                tests.append(
                    {
                        **study,
                        "test_id": f"{study_id}-{position}",
                        "fingerprint": f"{study_id}-{position}",
                        "test_type": test_type,
                        "time_started": started,
                        "time_elapsed_milliseconds": 60_000,
                        "device_info": "Mozilla/5.0 (bench)",
                        "notes": None,
                        "result": result,
                        "extra": {},
                        "received_at": started + timedelta(minutes=1),
                    }
                )
    tests.sort(key=lambda test: test["received_at"])
    with app.app_context():
        db.studies().insert_many(studies)
        db.tests().insert_many(tests)
    return len(tests)


def measure(label, produce):
    """Run twice: once timed, once under tracemalloc (which slows it down) for the peak."""
    began = time.perf_counter()
    result = produce()
    seconds = time.perf_counter() - began
    tracemalloc.start()
    produce()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{label}: {seconds:.2f} s, peak {peak / 2**20:.1f} MiB, {result}")


def embedded_app(folder: str):
    """An app on a fresh embedded store in `folder`, logging warnings only."""
    return create_app(
        {
            "DB_CONNECTION_STR": "",
            "DATA_DIR": folder,
            "ADMIN_PASSWORD": "bench-password",
            "SECRET_KEY": "bench",
            "LOG_LEVEL": "WARNING",
        }
    )


def main() -> None:
    participants = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as folder:
        app = embedded_app(folder)
        tests = fill(app, participants)
        print(f"{participants} participants, {2 * participants} studies, {tests} tests (embedded)")
        with app.test_request_context():
            measure(
                "summary.csv",
                lambda: f"{sum(len(chunk) for chunk in summaries.summary_csv()) / 2**20:.1f} MiB",
            )
            workbook = Path(folder) / "intact.xlsx"

            def write():
                archive.write_workbook(workbook)
                return f"{workbook.stat().st_size / 2**20:.1f} MiB"

            measure("workbook (raw sheets, summary, change, codebook)", write)


if __name__ == "__main__":
    main()
