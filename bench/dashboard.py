"""How long the dashboard's pages take as the study grows, on the embedded store (the default).

    PYTHONPATH=. .venv/bin/python bench/dashboard.py [participants ...]

For each size (default 200 and 2000 participants), a fresh embedded store gets that many
participants with one baseline and one follow-up each; every baseline has all six tests and
every follow-up the first three (the real battery's answer counts). Then each page is requested
through the test client five times after a warm-up; the median is printed. Every page scans the
whole `studies` and `tests` collections once (see intact/progress.py).
"""

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from intact import create_app, db
from intact.accounts import guard, sessions
from intact.testtypes import TEST_TYPES

PASSWORD = "bench-password-1234"
BATTERY = list(TEST_TYPES)
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ANSWERS = {
    "immediate_recall": {"ir_rt_first": 8421, "ir_rt_second": None, "ir_score": 2},
    "choice_reaction_time": [
        {"crt_rt": 400 + i, "crt_correct": i % 4 != 0, "crt_response": "left", "crt_dwell": 90}
        for i in range(10)
    ],
    "visual_paired_associates": [
        {"vpa_rt": 2000 + i, "vpa_correct": True, "vpa_response": "bar3.jpg"} for i in range(5)
    ],
    "digit_symbol_matching": [
        {"dsm_rt": 1300 + i, "dsm_correct": True, "dsm_response": 1 + i % 3} for i in range(10)
    ],
    "spatial_memory": [{"sm_rt": 5000 + i, "sm_correct": i % 2 == 0} for i in range(5)],
    "delayed_recall": {"dr_rt": 9000, "dr_score": 4},
}


def seed(app, participants: int) -> int:
    """Store the studies and tests; return how many tests."""
    studies, tests = [], []
    for number in range(participants):
        participant_id = f"P{number:05d}"
        for study_type, test_types in (("baseline", BATTERY), ("followup", BATTERY[:3])):
            study_id = f"{study_type[:1]}{number:07d}"
            opened = START + timedelta(minutes=number)
            studies.append(
                {
                    "study_id": study_id,
                    "participant_id": participant_id,
                    "study_type": study_type,
                    "url": f"https://intact.example.org/{study_id}",
                    "created_at": START,
                    "batch_id": "bench",
                    "first_opened_at": opened,
                    "last_seen_at": opened,
                }
            )
            for position, test_type in enumerate(test_types):
                received = opened + timedelta(minutes=position * 3)
                tests.append(
                    {
                        "test_id": f"{study_id}-{position}",
                        "study_id": study_id,
                        "participant_id": participant_id,
                        "study_type": study_type,
                        "test_type": test_type,
                        "time_started": received - timedelta(minutes=2),
                        "time_elapsed_milliseconds": 120_000,
                        "device_info": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0",
                        "notes": None,
                        "result": ANSWERS[test_type],
                        "extra": {},
                        "fingerprint": f"{study_id}-{position}",
                        "received_at": received,
                    }
                )
    with app.app_context():
        db.studies().insert_many(studies)
        db.tests().insert_many(tests)
    return len(tests)


def median_seconds(client, path: str, repeats: int = 5) -> float:
    client.get(path)  # warm-up: the embedded store loads a collection on first use
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(times)


def main(sizes: list[int]) -> None:
    print("participants  tests   overview  progress  progress+search  participant")
    for participants in sizes:
        with tempfile.TemporaryDirectory() as data_dir:
            app = create_app(
                {
                    "DB_CONNECTION_STR": "",
                    "DATA_DIR": data_dir,
                    "ADMIN_PASSWORD": PASSWORD,
                    "SECRET_KEY": "bench",
                    "LOG_LEVEL": "WARNING",
                }
            )
            tests = seed(app, participants)
            client = app.test_client()
            with app.app_context():
                session_id = sessions.start(None)  # the built-in admin, as after a login
            with client.session_transaction() as session:
                session[guard.SESSION_ID_KEY] = session_id
            row = [
                median_seconds(client, "/admin/"),
                median_seconds(client, "/admin/progress"),
                median_seconds(client, "/admin/progress?q=P00042"),
                median_seconds(client, "/admin/participants/P00042"),
            ]
            print(
                f"{participants:>12,}  {tests:>6,}  "
                + "  ".join(f"{seconds:>7.2f}s" for seconds in row)
            )


if __name__ == "__main__":
    main([int(size) for size in sys.argv[1:]] or [200, 2000])
