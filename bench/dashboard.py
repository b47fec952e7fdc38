"""How long the dashboard's pages take as the study grows, on the embedded store (the default).

    PYTHONPATH=. .venv/bin/python bench/dashboard.py [participants[xREPEATS] ...]

For each size (default 200, 2000 and 2000x3 participants), a fresh embedded store gets that many
participants with one baseline and one follow-up each; every baseline has all six tests and
every follow-up the first three (the real battery's answer counts). `x3` stores every test three
times (as a participant who retakes each test would): the same studies, three times the tests,
to show the overview and grid do not grow with the number of tests. The follow-up schedule is
180,365 days: every follow-up (due on 4 July 2026, three of six tests) is overdue from 19 July
2026 on, so the Due page lists one row per participant, its worst case, and the grid filtered
by "overdue" shows everyone. The studies' counters are
filled as the app's start-up fills them for stored data (intact/participants/counters.py), which
gives the same documents as submissions would. Then each page is requested through the test
client nine times after a warm-up; the median wall-clock and CPU times are printed. The overview
the grid and the Due page read one document per study (see intact/progress.py and
intact/participants/schedule.py).
"""

import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from intact import create_app, db
from intact.participants import migrations
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


def seed(app, participants: int, repeats: int = 1) -> int:
    """Store the studies and tests (each test `repeats` times); return how many tests."""
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
                    **({"followup_number": 1} if study_type == "followup" else {}),
                }
            )
            for position, test_type in enumerate(test_types * repeats):
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
        migrations.run()
    return len(tests)


def first_time(client, path: str) -> float:
    """Wall-clock seconds of the first request: the embedded store loads the collection and
    every study is decoded (later reads decode only the studies that changed)."""
    started = time.perf_counter()
    assert client.get(path).status_code == 200
    return time.perf_counter() - started


def median_times(client, path: str, repeats: int = 9) -> tuple[float, float]:
    """Median wall-clock and CPU seconds of a request (CPU: this process's own work, which other
    programs on a shared machine do not inflate)."""
    client.get(path)  # warm-up: the embedded store loads a collection on first use
    wall, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(wall), statistics.median(cpu)


def log_in(client) -> None:
    """The dashboard's login form, as a researcher fills it."""
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/admin/login", data={"password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 303, answer.status_code


def main(sizes: list[tuple[int, int]]) -> None:
    print("wall-clock ms (CPU ms), median of 9 requests; first: the first request after start-up")
    print(
        "participants   tests   first progress   overview     progress     "
        "progress+search  participant  progress+overdue  due page"
    )
    for participants, repeats in sizes:
        with tempfile.TemporaryDirectory() as data_dir:
            app = create_app(
                {
                    "DB_CONNECTION_STR": "",
                    "DATA_DIR": data_dir,
                    "ADMIN_PASSWORD": PASSWORD,
                    "SECRET_KEY": "bench",
                    "LOG_LEVEL": "WARNING",
                    "FOLLOWUP_SCHEDULE_DAYS": "180,365",
                }
            )
            tests = seed(app, participants, repeats)
            client = app.test_client()
            log_in(client)
            first = first_time(client, "/admin/progress")
            row = [
                median_times(client, "/admin/"),
                median_times(client, "/admin/progress"),
                median_times(client, "/admin/progress?q=P00042"),
                median_times(client, "/admin/participants/P00042"),
                median_times(client, "/admin/progress?schedule=overdue"),
                median_times(client, "/admin/due"),
            ]
            print(
                f"{participants:>12,}  {tests:>6,}  {first * 1000:>10.0f}       "
                + "  ".join(f"{wall * 1000:>5.0f} ({cpu * 1000:>3.0f})" for wall, cpu in row)
            )


def parse_size(text: str) -> tuple[int, int]:
    participants, _, repeats = text.partition("x")
    return int(participants), int(repeats or 1)


if __name__ == "__main__":
    main([parse_size(size) for size in sys.argv[1:]] or [(200, 1), (2000, 1), (2000, 3)])
