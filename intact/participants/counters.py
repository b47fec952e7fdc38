"""Per-study counts and dates, kept on the study document so pages read one document per study.

The overview, the progress grid, the due list and the reminder digest need, for every study, what
has arrived (how many submissions of each test type, empty ones, refused ones) and when. Reading
every test for that took 0.52 s at 2,000 participants and grew with the number of tests. Instead:

- Every stored test is added to its study's counters by `count_test`: one atomic update of the
  study document ($inc, $min, $max) guarded by the test's id (`counted_tests`), so counting a test
  twice (an identical re-submission, a retry) changes nothing, and two tests of one battery
  arriving together are both counted. It costs the submission no extra read.
- Every kept refusal adds to `refused_count` / `refused_total` (`count_refused`), and accepting a
  refused submission into the data takes it off `refused_count`.
- `recount` rebuilds one study's counters from its tests and refused submissions; start-up
  (`fill_missing`) does it for studies stored before counters existed, and `flask studies
  recount` for every study (after a crash between storing a test and counting it, say).

Fields (docs/architecture.md): `tests_count`, `submissions` {test type or "unclassified": count},
`empty_count` (the same, for submissions with no answers), `started_at` (earliest time_started),
`last_received_at`, `completed_at` (when the sixth test type first arrived), `counted_tests`,
`refused_count`, `refused_total`, `last_refused_at`.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime

from pymongo import ReturnDocument

from intact import db
from intact.testtypes import TEST_TYPES, UNCLASSIFIED

log = logging.getLogger(__name__)

TESTS_COUNT = "tests_count"
COUNTED = "counted_tests"
# What counting reads of each test: no answers beyond whether there are any.
_TEST_FIELDS = ("test_id", "study_id", "test_type", "time_started", "received_at", "result")


def _kind(test: Mapping) -> str:
    return test.get("test_type") if test.get("test_type") in TEST_TYPES else UNCLASSIFIED


def count_test(test: Mapping, seen_at: datetime | None = None) -> None:
    """Add one stored test to its study's counters, once; `seen_at` also becomes last activity."""
    kind = _kind(test)
    increments = {TESTS_COUNT: 1, f"submissions.{kind}": 1}
    if not test.get("result"):
        increments[f"empty_count.{kind}"] = 1
    update = {"$inc": increments, "$addToSet": {COUNTED: test["test_id"]}}
    if isinstance(test.get("time_started"), datetime):
        update["$min"] = {"started_at": test["time_started"]}
    latest = {"last_seen_at": seen_at} if seen_at else {}
    if isinstance(test.get("received_at"), datetime):
        latest["last_received_at"] = test["received_at"]
    if latest:
        update["$max"] = latest
    after = db.studies().find_one_and_update(
        {"study_id": test["study_id"], COUNTED: {"$ne": test["test_id"]}},
        update,
        # No projection: mongomock (the embedded store's engine) then neither updates nor answers.
        return_document=ReturnDocument.AFTER,
    )
    if after is None:
        # Counted already (or no such study): the moment is still the study's latest activity.
        if seen_at:
            db.studies().update_one(
                {"study_id": test["study_id"]}, {"$max": {"last_seen_at": seen_at}}
            )
        return
    submissions = after.get("submissions") or {}
    first_of_its_type = submissions.get(kind) == 1
    if kind in TEST_TYPES and first_of_its_type and all(submissions.get(t) for t in TEST_TYPES):
        # This test brought the sixth type. Once per study: when did each type first arrive?
        firsts = {}
        for found in db.tests().find(
            {"study_id": test["study_id"]}, _projection(("test_type", "received_at"))
        ):
            received, kind_found = found.get("received_at"), found.get("test_type")
            if kind_found in TEST_TYPES and isinstance(received, datetime):
                firsts[kind_found] = min(firsts.get(kind_found, received), received)
        if len(firsts) == len(TEST_TYPES):
            db.studies().update_one(
                {"study_id": test["study_id"]}, {"$set": {"completed_at": max(firsts.values())}}
            )


def count_refused(study_id: str, received_at: datetime, accepted: bool = False) -> None:
    """Add one kept refusal to its study's counters (`accepted`: take one off, it was accepted)."""
    if accepted:
        db.studies().update_one({"study_id": study_id}, {"$inc": {"refused_count": -1}})
        return
    db.studies().update_one(
        {"study_id": study_id},
        {
            "$inc": {"refused_count": 1, "refused_total": 1},
            "$max": {"last_refused_at": received_at},
        },
    )


def counters_of(tests: Iterable[Mapping]) -> dict:
    """The test counters of one study from all its tests (documents with _TEST_FIELDS)."""
    submissions: dict[str, int] = defaultdict(int)
    empty: dict[str, int] = defaultdict(int)
    first_of_type: dict[str, datetime] = {}
    counted, started, last = [], None, None
    for test in tests:
        counted.append(test.get("test_id"))
        kind = _kind(test)
        submissions[kind] += 1
        if not test.get("result"):
            empty[kind] += 1
        received = test.get("received_at")
        if isinstance(received, datetime):
            last = received if last is None else max(last, received)
            if kind in TEST_TYPES:
                first = first_of_type.get(kind)
                first_of_type[kind] = received if first is None else min(first, received)
        time_started = test.get("time_started")
        if isinstance(time_started, datetime):
            started = time_started if started is None else min(started, time_started)
    complete = len(first_of_type) == len(TEST_TYPES)
    return {
        TESTS_COUNT: len(counted),
        COUNTED: counted,
        "submissions": dict(submissions),
        "empty_count": dict(empty),
        "started_at": started,
        "last_received_at": last,
        "completed_at": max(first_of_type.values()) if complete else None,
    }


def refused_counters_of(entries: Iterable[Mapping]) -> dict:
    """The refused counters of one study from its kept refusals."""
    total, still_refused, last = 0, 0, None
    for entry in entries:
        total += 1
        if not entry.get("accepted_test_id"):
            still_refused += 1
        received = entry.get("received_at")
        if isinstance(received, datetime):
            last = received if last is None else max(last, received)
    return {"refused_total": total, "refused_count": still_refused, "last_refused_at": last}


def recount(study_id: str) -> None:
    """Rebuild one study's counters from its tests and refused submissions."""
    tests = db.tests().find({"study_id": study_id}, _projection(_TEST_FIELDS))
    refused = db.quarantine().find(
        {"study_id": study_id}, _projection(("received_at", "accepted_test_id"))
    )
    found = {**counters_of(tests), **refused_counters_of(refused)}
    db.studies().update_one({"study_id": study_id}, _set_or_unset(found))


def recount_all(only_missing: bool = False) -> int:
    """Recount every study (or those without counters); return how many.

    One pass over the tests and one over the refused submissions, keeping only what counting
    needs (no answers), then the studies are written in batches (`db.update_each`). With
    `only_missing`, a study counted meanwhile (by another process) is left alone.
    """
    query = {TESTS_COUNT: {"$exists": False}} if only_missing else {}
    if only_missing and next(db.stream("studies", query, ("study_id",)), None) is None:
        return 0
    tests_by_study = defaultdict(list)
    for test in db.stream("tests", None, _TEST_FIELDS):
        test["result"] = bool(test.get("result"))
        tests_by_study[test.get("study_id")].append(test)
    refused_by_study = defaultdict(list)
    for entry in db.stream("quarantine", None, ("study_id", "received_at", "accepted_test_id")):
        refused_by_study[entry.get("study_id")].append(entry)
    recounted = 0

    def updates():
        nonlocal recounted
        for study in db.stream("studies", query, ("_id", "study_id")):
            recounted += 1
            found = {
                **counters_of(tests_by_study.pop(study["study_id"], [])),
                **refused_counters_of(refused_by_study.pop(study["study_id"], [])),
            }
            yield study["_id"], query, _set_or_unset(found)

    db.update_each("studies", updates())
    return recounted


def _set_or_unset(found: dict) -> dict:
    """$set the values, $unset the missing dates: a stored null would win every later $min."""
    update = {"$set": {k: v for k, v in found.items() if v is not None}}
    missing = [k for k, v in found.items() if v is None]
    if missing:
        update["$unset"] = dict.fromkeys(missing, "")
    return update


def fill_missing() -> int:
    """Give every study stored before counters existed its counters; return how many."""
    counted = recount_all(only_missing=True)
    if counted:
        log.info("counted the tests of %d studies stored before per-study counters", counted)
    return counted


def _projection(fields: tuple[str, ...]) -> dict:
    return {"_id": 0, **dict.fromkeys(fields, 1)}
