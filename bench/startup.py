"""How long the app takes to start on an embedded store written by an earlier version.

    PYTHONPATH=. .venv/bin/python bench/startup.py [participants ...]

For each size (default 1,000, 2,000 and 20,000 participants), a fresh embedded store (a temporary
DATA_DIR) gets that many participants as the version before follow-up numbers and per-study
counters stored them: a baseline with all six tests and a follow-up with the first three, no
`followup_number` on the follow-ups or their tests, no counter fields on the studies, and one
refused submission for every tenth participant's follow-up. Then `create_app` is timed as a
gunicorn worker runs it at boot (the data upgrades of intact/participants/migrations.py run in
it), and once more on the upgraded store, where there is nothing left to do. Each worker must be
up well within GUNICORN_TIMEOUT (120 s): gunicorn kills a worker that boots for longer.
"""

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from summaries import embedded_app  # bench/summaries.py: the same embedded app

from intact import db
from intact.testtypes import TEST_TYPES

BATTERY = list(TEST_TYPES)
CREATED = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def legacy_documents(participants: int) -> tuple[list, list, list]:
    """Studies, tests and refused submissions as stored before the upgrades existed."""
    studies, tests, refused = [], [], []
    for number in range(participants):
        participant_id = f"P{number:05d}"
        for study_type, test_types in (("baseline", BATTERY), ("followup", BATTERY[:3])):
            study_id = f"{study_type[:1]}{number:07d}"
            created = CREATED + timedelta(days=180 if study_type == "followup" else 0)
            studies.append(
                {
                    "study_id": study_id,
                    "participant_id": participant_id,
                    "study_type": study_type,
                    "url": f"https://intact.example.org/{study_id}",
                    "created_at": created,
                    "batch_id": "bench",
                }
            )
            for position, test_type in enumerate(test_types):
                received = created + timedelta(days=1, minutes=3 * position)
                tests.append(
                    {
                        "test_id": f"{study_id}-{position}",
                        "study_id": study_id,
                        "participant_id": participant_id,
                        "study_type": study_type,
                        "test_type": test_type,
                        "time_started": received - timedelta(minutes=2),
                        "result": {"score": position},
                        "fingerprint": f"{study_id}-{position}",
                        "received_at": received,
                    }
                )
            if study_type == "followup" and number % 10 == 0:
                refused.append(
                    {
                        "quarantine_id": f"q{number:07d}",
                        "study_id": study_id,
                        "participant_id": participant_id,
                        "study_type": study_type,
                        "received_at": created + timedelta(days=2),
                        "errors": {"result": ["bench"]},
                    }
                )
    return studies, tests, refused


def seed(data_dir: str, participants: int) -> int:
    """Write the legacy documents; return how many."""
    app = embedded_app(data_dir)
    studies, tests, refused = legacy_documents(participants)
    with app.app_context():
        db.studies().insert_many(studies)
        db.tests().insert_many(tests)
        db.quarantine().insert_many(refused)
    db.client_of(app).close()
    return len(studies) + len(tests) + len(refused)


def timed_start(data_dir: str) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one start (CPU: this process's own work, which other
    programs on a shared machine do not inflate)."""
    started, started_cpu = time.perf_counter(), time.process_time()
    app = embedded_app(data_dir)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    db.client_of(app).close()
    return elapsed, cpu


def check_upgraded(data_dir: str, participants: int) -> None:
    """Every follow-up numbered and every study counted, or the timing means nothing."""
    app = embedded_app(data_dir)
    with app.app_context():
        studies = list(db.stream("studies", None, ("study_type", "followup_number", "tests_count")))
    db.client_of(app).close()
    assert len(studies) == 2 * participants
    assert all("tests_count" in s for s in studies)
    assert all(s.get("followup_number") == 1 for s in studies if s["study_type"] == "followup")


def main(sizes: list[int]) -> None:
    print("seconds, wall-clock (CPU)")
    print("participants  documents  seed     first start    second start")
    for participants in sizes:
        with tempfile.TemporaryDirectory() as data_dir:
            started = time.perf_counter()
            documents = seed(data_dir, participants)
            seeded = time.perf_counter() - started
            first = timed_start(data_dir)
            second = timed_start(data_dir)
            check_upgraded(data_dir, participants)
            print(
                f"{participants:>12,}  {documents:>9,}  {seeded:>5.1f}  "
                + "  ".join(f"{wall:>7.2f} ({cpu:>5.2f})" for wall, cpu in (first, second)),
                flush=True,
            )


if __name__ == "__main__":
    main([int(size) for size in sys.argv[1:]] or [1000, 2000, 20000])
