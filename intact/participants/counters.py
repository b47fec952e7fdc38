"""Per-study counts and dates, kept on the study document so pages read one document per study.

The overview, the progress grid, the due list and the reminder digest need, for every study, what
has arrived (how many submissions of each test type, empty ones, refused ones) and when. Reading
every test for that took 0.52 s at 2,000 participants and grew with the number of tests. Instead,
every stored submission refreshes its study's counters (`refresh_tests`), and every refused one
its refused counters (`refresh_refused`):

- A refresh recomputes the counters from the study's own tests (an indexed read of a handful of
  documents), so it is idempotent: running it twice, or after a crash between storing the test
  and counting it, gives the same values.
- Two refreshes of one study can race (two tests of one battery arriving together). Tests are
  never deleted, so the number counted only grows: the write is conditional on the stored count
  being smaller, and a refresh that read fewer tests than another already wrote changes nothing.
- Studies stored before counters existed get them once at start-up (`fill_missing`).

Fields (docs/architecture.md): `submissions` {test type or "unclassified": count}, `tests_count`,
`empty_count` {test type or "unclassified": submissions with no answers}, `started_at`
(earliest time_started), `last_received_at`, `completed_at` (when the sixth test type first
arrived), `refused_count`, `refused_total`, `last_refused_at`.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime

from intact import db
from intact.testtypes import TEST_TYPES, UNCLASSIFIED

log = logging.getLogger(__name__)

TESTS_COUNT = "tests_count"
REFUSED_TOTAL = "refused_total"
# What a refresh reads of each test: no answers beyond whether there are any.
_TEST_FIELDS = ("study_id", "test_type", "time_started", "received_at", "result")


def counters_of(tests: Iterable[Mapping]) -> dict:
    """The test counters of one study from its tests (documents with _TEST_FIELDS)."""
    submissions: dict[str, int] = defaultdict(int)
    empty: dict[str, int] = defaultdict(int)
    first_of_type: dict[str, datetime] = {}
    started = last = None
    count = 0
    for test in tests:
        count += 1
        test_type = test.get("test_type") if test.get("test_type") in TEST_TYPES else UNCLASSIFIED
        submissions[test_type] += 1
        if not test.get("result"):
            empty[test_type] += 1
        received = test.get("received_at")
        if isinstance(received, datetime):
            last = received if last is None else max(last, received)
            if test_type in TEST_TYPES:
                first = first_of_type.get(test_type)
                first_of_type[test_type] = received if first is None else min(first, received)
        time_started = test.get("time_started")
        if isinstance(time_started, datetime):
            started = time_started if started is None else min(started, time_started)
    complete = len(first_of_type) == len(TEST_TYPES)
    return {
        TESTS_COUNT: count,
        "submissions": dict(submissions),
        "empty_count": dict(empty),
        "started_at": started,
        "last_received_at": last,
        "completed_at": max(first_of_type.values()) if complete else None,
    }


def refresh_tests(study_id: str, seen_at: datetime | None = None) -> None:
    """Recount the study's tests onto its document (idempotent; a stale count never wins).

    `seen_at`: also the study's last activity (`last_seen_at`), in the same write when it can be.
    """
    found = counters_of(db.tests().find({"study_id": study_id}, _projection(_TEST_FIELDS)))
    latest = {"last_seen_at": seen_at} if seen_at else None
    if not _write_if_more(study_id, TESTS_COUNT, found, latest=latest) and latest:
        # A later refresh counted already; the moment is still this study's latest activity.
        db.studies().update_one({"study_id": study_id}, {"$max": latest})


def refresh_refused(study_id: str) -> None:
    """Recount the study's refused submissions onto its document (idempotent, as above).

    `refused_count` leaves out the ones a researcher has accepted into the data since.
    """
    total, still_refused, last = 0, 0, None
    for entry in db.quarantine().find(
        {"study_id": study_id}, _projection(("received_at", "accepted_test_id"))
    ):
        total += 1
        if not entry.get("accepted_test_id"):
            still_refused += 1
        received = entry.get("received_at")
        if isinstance(received, datetime):
            last = received if last is None else max(last, received)
    found = {REFUSED_TOTAL: total, "refused_count": still_refused, "last_refused_at": last}
    _write_if_more(study_id, REFUSED_TOTAL, found, even_if_equal=True)


def _write_if_more(
    study_id: str, guard: str, found: dict, *, even_if_equal=False, latest=None
) -> bool:
    """$set `found` unless the study holds a larger `guard` count (a later refresh); True if set.

    `latest`: fields to raise to these values ($max) in the same write.
    """
    bound = "$lte" if even_if_equal else "$lt"
    update = {"$set": found}
    if latest:
        update["$max"] = latest
    written = db.studies().update_one(
        {
            "study_id": study_id,
            "$or": [{guard: {bound: found[guard]}}, {guard: {"$exists": False}}],
        },
        update,
    )
    return written.matched_count > 0


def fill_missing() -> int:
    """Give every study without counters its counters, read in one pass over the tests."""
    if db.studies().find_one({TESTS_COUNT: {"$exists": False}}, {"_id": 1}) is None:
        return 0
    tests_by_study = defaultdict(list)
    for test in db.stream("tests", None, _TEST_FIELDS):
        # Only what counters_of reads, and no answers: a few hundred bytes per test.
        test["result"] = bool(test.get("result"))
        tests_by_study[test.get("study_id")].append(test)
    waiting = [
        study["study_id"]
        for study in db.stream("studies", {TESTS_COUNT: {"$exists": False}}, ("study_id",))
    ]
    for study_id in waiting:
        _write_if_more(study_id, TESTS_COUNT, counters_of(tests_by_study.pop(study_id, [])))
        refresh_refused(study_id)
    log.info("counted the tests of %d studies stored before per-study counters", len(waiting))
    return len(waiting)


def _projection(fields: tuple[str, ...]) -> dict:
    return {"_id": 0, **dict.fromkeys(fields, 1)}
