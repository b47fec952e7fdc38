"""Per-study counters: kept with every submission, idempotent, never overwritten by stale ones."""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from conftest import load_sample

from intact import create_app, db
from intact.participants import counters, migrations
from intact.testtypes import TEST_TYPES


def stored_study(app, study_id):
    with app.app_context():
        return db.studies().find_one({"study_id": study_id}, {"_id": 0})


def post(client, study_id, sample, time_started, **changes):
    body = load_sample(sample, study_id)
    body["time_started"] = time_started
    body.update(changes)
    return client.post("/tests", json=body)


@pytest.fixture
def study(make_study):
    return make_study("P1", "baseline", study_id="abcdefgh")


def test_each_submission_updates_its_studys_counts_and_dates(app, client, study):
    assert (
        post(client, "abcdefgh", "immediate_recall", "2026-03-02T09:05:00.000Z").status_code == 200
    )
    post(client, "abcdefgh", "choice_reaction_time", "2026-03-02T09:01:00.000Z")
    # An empty answer list: stored, counted as empty and unclassified.
    post(client, "abcdefgh", "spatial_memory_timed_out_no_answer", "2026-03-02T09:10:00.000Z")
    # An identical re-submission is stored once and counted once.
    post(client, "abcdefgh", "immediate_recall", "2026-03-02T09:05:00.000Z")
    found = stored_study(app, "abcdefgh")
    assert found["tests_count"] == 3
    assert found["submissions"] == {
        "immediate_recall": 1,
        "choice_reaction_time": 1,
        "unclassified": 1,
    }
    assert found["empty_count"] == {"unclassified": 1}
    assert found["started_at"] == datetime(2026, 3, 2, 9, 1, tzinfo=UTC)
    assert found["last_received_at"] is not None
    assert found["last_seen_at"] >= found["last_received_at"]
    assert found.get("completed_at") is None


def test_completed_at_is_when_the_sixth_test_type_first_arrived(app, study, make_test):
    times = {
        name: datetime(2026, 3, 2, 9, minute, tzinfo=UTC) for minute, name in enumerate(TEST_TYPES)
    }
    for name, moment in reversed(times.items()):
        make_test(study, name, received_at=moment)
    # A repeat of the first test, later, does not move the moment of completion.
    make_test(study, "immediate_recall", received_at=datetime(2026, 3, 9, tzinfo=UTC))
    assert stored_study(app, "abcdefgh")["completed_at"] == max(times.values())


def test_a_typed_empty_list_is_counted_as_an_empty_submission_of_its_type(app, client, study):
    post(
        client,
        "abcdefgh",
        "spatial_memory",
        "2026-03-02T09:00:00.000Z",
        result=[],
        test_type="spatial_memory",
    )
    found = stored_study(app, "abcdefgh")
    assert found["submissions"] == {"spatial_memory": 1}
    assert found["empty_count"] == {"spatial_memory": 1}


def test_a_test_is_counted_once_and_a_recount_gives_the_same(app, study, make_test):
    first = make_test(study, "immediate_recall")
    make_test(study, "delayed_recall")
    with app.app_context():
        before = stored_study(app, "abcdefgh")
        # Counted again (a retry): nothing changes but the moment of activity.
        counters.count_test(first, seen_at=datetime(2030, 1, 1, tzinfo=UTC))
        after = stored_study(app, "abcdefgh")
        assert after["tests_count"] == 2
        assert after["submissions"] == before["submissions"]
        assert after["last_seen_at"] == datetime(2030, 1, 1, tzinfo=UTC)
        # Rebuilt from the tests: the same counters.
        counters.recount("abcdefgh")
        rebuilt = stored_study(app, "abcdefgh")
    for name in ("tests_count", "submissions", "empty_count", "started_at", "last_received_at"):
        assert rebuilt[name] == before.get(name, {}), name
    assert sorted(rebuilt["counted_tests"]) == sorted(before["counted_tests"])


def test_tests_of_one_study_counted_at_once_are_all_counted(store_config):
    """Two phones (or two worker processes) storing tests of one study together lose none."""
    if not store_config["DB_CONNECTION_STR"]:
        pytest.skip("the embedded store runs one worker thread: its requests never overlap")
    app = create_app(store_config)
    with app.app_context():
        db.studies().insert_one({"study_id": "abcdefgh", "participant_id": "P1"})
    tests = [
        {
            "test_id": f"t{n}",
            "study_id": "abcdefgh",
            "test_type": name,
            "result": {"x": 1},
            "received_at": datetime(2026, 1, 1, n, tzinfo=UTC),
        }
        for n, name in enumerate(TEST_TYPES)
    ]

    with app.app_context():
        db.tests().insert_many([dict(test, fingerprint=test["test_id"]) for test in tests])

    def count(test):
        with app.app_context():
            counters.count_test(test)

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(count, tests + tests))
    found = stored_study(app, "abcdefgh")
    assert found["tests_count"] == 6
    assert found["submissions"] == dict.fromkeys(TEST_TYPES, 1)
    assert found["completed_at"] == datetime(2026, 1, 1, 5, tzinfo=UTC)


def test_a_refused_submission_of_a_known_study_is_counted_on_it(app, client, study):
    body = load_sample("delayed_recall", "abcdefgh")
    body["result"]["dr_score"] = "four"
    assert (
        client.post("/tests", data=json.dumps(body), content_type="application/json").status_code
        == 422
    )
    found = stored_study(app, "abcdefgh")
    assert (found["refused_count"], found["refused_total"]) == (1, 1)
    assert found["last_refused_at"] is not None
    assert found.get("tests_count", 0) == 0


def test_start_up_counts_the_tests_of_studies_stored_before_counters(app_config):
    app_config["DB_CONNECTION_STR"] = ""
    old = create_app(app_config)
    with old.app_context():
        db.studies().insert_many(
            [
                {"study_id": "abcdefgh", "participant_id": "P1", "study_type": "baseline"},
                {"study_id": "qwertyui", "participant_id": "P2", "study_type": "baseline"},
            ]
        )
        db.tests().insert_many(
            [
                {
                    "test_id": f"t{n}",
                    "study_id": "abcdefgh",
                    "test_type": name,
                    "result": {"x": 1},
                    "fingerprint": f"f{n}",
                    "received_at": datetime(2026, 1, 1, n, tzinfo=UTC),
                }
                for n, name in enumerate(("immediate_recall", "delayed_recall"))
            ]
        )
        db.quarantine().insert_one({"quarantine_id": "q", "study_id": "qwertyui"})
    restarted = create_app(app_config)
    counted = stored_study(restarted, "abcdefgh")
    assert counted["tests_count"] == 2
    assert counted["submissions"] == {"immediate_recall": 1, "delayed_recall": 1}
    assert counted["last_received_at"] == datetime(2026, 1, 1, 1, tzinfo=UTC)
    nothing = stored_study(restarted, "qwertyui")
    assert (nothing["tests_count"], nothing["refused_count"]) == (0, 1)
    with restarted.app_context():
        assert migrations.run()["per-study counters"] == 0


def test_the_grid_shows_empty_and_refused_submissions_as_such(app, admin, client, study):
    post(client, "abcdefgh", "spatial_memory_timed_out_no_answer", "2026-03-02T09:00:00.000Z")
    post(
        client,
        "abcdefgh",
        "digit_symbol_matching",
        "2026-03-02T09:00:00.000Z",
        result=[],
        test_type="digit_symbol_matching",
    )
    refused = load_sample("delayed_recall", "abcdefgh")
    refused["result"]["dr_score"] = 9
    client.post("/tests", json=refused)
    page = admin.get("/admin/progress").get_data(as_text=True)
    assert "1 empty</span>" in page
    assert 'href="/admin/refused?study_id=abcdefgh"' in page and "1 refused</a>" in page
    assert 'title="Digit symbol matching: received with no answers">∅</td>' in page
    # Not received: still a dash, not an empty or refused mark.
    assert 'title="Delayed recall: not received yet">–</td>' in page


def test_the_overview_adds_up_the_counters(app, admin, make_study, make_test):
    one = make_study("P1", "baseline")
    two = make_study("P2", "followup")
    make_test(one, "immediate_recall")
    make_test(two, "immediate_recall")
    make_test(two, "unclassified")
    page = admin.get("/admin/").get_data(as_text=True)
    assert '<p class="card__number">3</p>\n    <p class="card__label">tests received</p>' in page


def test_a_study_recounted_before_its_first_test_still_counts_it(store_config):
    """A recount stores no null dates: MongoDB's $min would keep a null for ever."""
    app = create_app(store_config)
    with app.app_context():
        db.studies().insert_one({"study_id": "abcdefgh", "participant_id": "P1"})
        counters.recount("abcdefgh")
    body = load_sample("delayed_recall", "abcdefgh")
    assert app.test_client().post("/tests", json=body).status_code == 200
    found = stored_study(app, "abcdefgh")
    assert found["tests_count"] == 1
    assert found["started_at"] == datetime.fromisoformat(body["time_started"])
    assert found["last_received_at"] is not None
