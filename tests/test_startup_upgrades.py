"""The start-up upgrades write in batches and give the documents the one-at-a-time upgrade gave.

`migrations.run()` numbers follow-ups and fills per-study counters in one streamed pass per
collection, written by `db.update_each` (one SQLite transaction or one bulk_write per batch).
Here a store holding studies, tests and refused submissions as an earlier version stored them is
upgraded twice: by `migrations.run()`, and by the previous release's way (one update per study,
`update_many` for its copies, `counters.recount` per study), on every store. Both must leave
exactly the same documents, and a second run must change nothing.
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from intact import create_app, db
from intact.participants import counters, followups, migrations
from intact.testtypes import TEST_TYPES

DAY = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
COLLECTIONS = ("studies", "tests", "quarantine")


def legacy_documents(participants: int) -> dict[str, list[dict]]:
    """Documents as stored before follow-up numbers and counters, with the awkward cases."""
    studies, tests, refused = [], [], []
    for n in range(participants):
        pid = f"P{n:03d}"
        plan = [("baseline", DAY), ("followup", DAY + timedelta(days=90))]
        if n % 3 == 0:  # a batch made two follow-ups at one time: numbered in listed order
            plan += [("followup", DAY + timedelta(days=90)), ("followup", DAY + timedelta(days=9))]
        if n % 4 == 0:  # a naive creation time, as the oldest versions stored them
            plan.append(("followup", datetime(2025, 1, 1, 8, 0)))  # noqa: DTZ001
        for k, (study_type, created) in enumerate(plan):
            study_id = f"s{n:03d}x{k}"
            study = {
                "study_id": study_id,
                "participant_id": pid,
                "study_type": study_type,
                "created_at": created,
                "batch_id": f"b{k}",
            }
            if n % 5 == 0 and k == 1:  # numbered already (a later version created it)
                study["followup_number"] = 1
            if n % 7 == 0 and k == 0:  # counted already: left as it is
                study.update(tests_count=0, submissions={}, counted_tests=[])
            studies.append(study)
            for t, test_type in enumerate([*TEST_TYPES, "unknown_type"][: (n + k) % 8]):
                test = {
                    "test_id": f"{study_id}t{t}",
                    "study_id": study_id,
                    "participant_id": pid,
                    "study_type": study_type,
                    "test_type": test_type,
                    "time_started": created + timedelta(hours=1, minutes=t),
                    "received_at": created + timedelta(hours=2, minutes=(t * 7) % 5),
                    "result": {} if t == 2 else {"x": t},
                    "fingerprint": f"{study_id}f{t}",
                }
                if t % 2:
                    test["followup_number"] = None  # stored as null before the study had one
                tests.append(test)
            if (n + k) % 3 == 0:
                entry = {
                    "quarantine_id": f"{study_id}q",
                    "study_id": study_id,
                    "received_at": created + timedelta(hours=3),
                }
                if n % 2:
                    entry["accepted_test_id"] = f"{study_id}t0"
                refused.append(entry)
    return {"studies": studies, "tests": tests, "quarantine": refused}


def upgrade_one_document_at_a_time() -> None:
    """The previous release's start-up: an update per study, its copies, then a recount each."""
    unnumbered = db.studies().find({"study_type": "followup", "followup_number": None})
    waiting = defaultdict(list)
    for position, study in enumerate(unnumbered.sort("_id", 1)):
        waiting[study["participant_id"]].append((position, study))
    highest = followups.highest_numbers(waiting)
    for pid, found in waiting.items():
        found.sort(key=lambda item: (followups._aware(item[1]["created_at"]), item[0]))
        number = highest.get(pid, 0)
        for _, study in found:
            number += 1
            copied = {"study_id": study["study_id"], "followup_number": None}
            for name in ("tests", "quarantine"):
                db.collection(name).update_many(copied, {"$set": {"followup_number": number}})
            db.studies().update_one(copied, {"$set": {"followup_number": number}})
    for study in db.studies().find({"tests_count": {"$exists": False}}).sort("_id", 1):
        counters.recount(study["study_id"])


def stored() -> dict[str, list[dict]]:
    return {name: list(db.collection(name).find().sort("_id", 1)) for name in COLLECTIONS}


def replace_everything(documents: dict[str, list[dict]]) -> None:
    for name, listed in documents.items():
        db.collection(name).delete_many({})
        if listed:
            db.collection(name).insert_many([dict(d) for d in listed])


@pytest.mark.parametrize("participants", [1, 12])
def test_the_batched_upgrade_stores_what_one_update_at_a_time_stored(
    store_config, monkeypatch, participants
):
    # Batches of 7: every collection's writes are cut into several transactions / bulk writes.
    monkeypatch.setattr(db, "UPDATE_BATCH_SIZE", 7)
    # The one-at-a-time reference makes hundreds of round trips: room for a busy shared machine.
    store_config["DB_TIMEOUT_MS"] = 10_000
    app = create_app(store_config)
    with app.app_context():
        replace_everything(legacy_documents(participants))
        legacy = stored()

        changed = migrations.run()
        batched = stored()

        replace_everything(legacy)
        upgrade_one_document_at_a_time()
        one_at_a_time = stored()

        assert batched == one_at_a_time
        unnumbered = [
            s
            for s in legacy["studies"]
            if s["study_type"] == "followup" and not s.get("followup_number")
        ]
        uncounted = [s for s in legacy["studies"] if "tests_count" not in s]
        assert changed == {
            "followup numbers": len(unnumbered),
            "per-study counters": len(uncounted),
        }
        numbered = [s for s in batched["studies"] if s["study_type"] == "followup"]
        assert all(isinstance(s["followup_number"], int) for s in numbered)
        # Tests and refused submissions carry the number their study got.
        number_of = {s["study_id"]: s["followup_number"] for s in numbered}
        given = {s["study_id"] for s in unnumbered}
        copies = [c for c in batched["tests"] + batched["quarantine"] if c["study_id"] in given]
        assert copies
        assert all(c["followup_number"] == number_of[c["study_id"]] for c in copies)

        # The next start (or another worker) finds nothing to do and changes nothing.
        replace_everything(batched)
        assert migrations.run() == {"followup numbers": 0, "per-study counters": 0}
        assert stored() == batched


def test_a_run_cut_short_between_batches_is_finished_by_the_next(app_config, monkeypatch):
    """A worker killed after some batches (gunicorn's timeout, a deploy): the next run completes
    the same numbers, and follow-ups numbered in the first run keep theirs."""
    app_config["DB_CONNECTION_STR"] = ""
    monkeypatch.setattr(db, "UPDATE_BATCH_SIZE", 5)
    app = create_app(app_config)
    real_write = db._update_embedded
    writes = []

    def dies_after_three_batches(target, batch):
        if len(writes) == 3:
            raise SystemExit("worker killed")
        writes.append(target.name)
        return real_write(target, batch)

    with app.app_context():
        replace_everything(legacy_documents(12))
        legacy = stored()
        upgrade_one_document_at_a_time()
        expected = stored()
        replace_everything(legacy)

        monkeypatch.setattr(db, "_update_embedded", dies_after_three_batches)
        with pytest.raises(SystemExit):
            migrations.run()
        monkeypatch.setattr(db, "_update_embedded", real_write)
        migrations.run()
        assert stored() == expected
