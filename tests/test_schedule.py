"""The follow-up schedule: due dates, states at the window's edges, dates set by hand, the digest.

Every date below is computed by hand (180 days after 10 January 2026 is 9 July 2026: 21 days to the
end of January, then 28 + 31 + 30 + 31 + 30 = 150 to the end of June, then 9), so a mistake in the
code cannot hide in a test that computes the same way.
"""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from intact import audit, config, db, studies
from intact.participants import schedule
from intact.participants.schedule import DONE, DUE, NOT_YET_DUE, OVERDUE, UNSCHEDULED, Rules
from intact.testtypes import TEST_TYPES

RULES = Rules(schedule_days=(180, 365), window_days=14)
# 23:30 UTC on 10 January: already 11 January in Sydney, still the 10th for the schedule.
BASELINE_STARTED = datetime(2026, 1, 10, 23, 30, tzinfo=UTC)
FOLLOWUP_1_DUE = date(2026, 7, 9)
FOLLOWUP_2_DUE = date(2027, 1, 10)  # 2026 is not a leap year: 365 days is one calendar year


def baseline(started_at=BASELINE_STARTED, study_id="base0001", answers=True, **fields):
    submissions = {"immediate_recall": 1}
    return {
        "study_id": study_id,
        "participant_id": "P1",
        "study_type": "baseline",
        "started_at": started_at,
        "submissions": submissions,
        "empty_count": {} if answers else dict(submissions),
        **fields,
    }


def followup(number=1, study_id=None, complete=False, **fields):
    return {
        "study_id": study_id or f"follow0{number}",
        "participant_id": "P1",
        "study_type": "followup",
        "followup_number": number,
        "submissions": dict.fromkeys(TEST_TYPES, 1) if complete else {},
        **fields,
    }


def due_of(documents, today, rules=RULES, study_id="follow01"):
    return schedule.participant_schedule(documents, rules, today)[study_id]


# --- rules (no database) -------------------------------------------------------------------


def test_the_kth_followup_is_due_its_days_after_the_baselines_utc_start_date():
    found = schedule.participant_schedule(
        [baseline(), followup(1), followup(2)], RULES, date(2026, 1, 11)
    )
    assert found["follow01"].due_date == FOLLOWUP_1_DUE
    assert found["follow02"].due_date == FOLLOWUP_2_DUE
    assert not found["follow01"].set_by_hand
    assert "base0001" not in found  # baselines have no schedule state


def test_a_start_given_in_another_time_zone_counts_by_its_utc_date():
    # 08:30 on 11 January in UTC+10 is 22:30 on 10 January UTC.
    sydney = datetime(2026, 1, 11, 8, 30, tzinfo=timezone(timedelta(hours=10)))
    assert due_of([baseline(sydney), followup(1)], date(2026, 1, 11)).due_date == FOLLOWUP_1_DUE


@pytest.mark.parametrize(
    ("today", "state"),
    [
        (date(2026, 6, 24), NOT_YET_DUE),  # the day before the window opens (due − 15)
        (date(2026, 6, 25), DUE),  # the window opens: due − 14
        (FOLLOWUP_1_DUE, DUE),
        (date(2026, 7, 23), DUE),  # the window's last day: due + 14
        (date(2026, 7, 24), OVERDUE),  # the day after it closes
    ],
)
def test_states_at_the_windows_edges(today, state):
    due = due_of([baseline(), followup(1)], today)
    assert due.state == state
    assert due.days_left(today) == (FOLLOWUP_1_DUE - today).days


def test_days_left_counts_down_to_the_due_date_and_below_zero_after():
    due = due_of([baseline(), followup(1)], date(2026, 7, 24))
    assert due.days_left(date(2026, 7, 8)) == 1
    assert due.days_left(date(2026, 7, 9)) == 0
    assert due.days_left(date(2026, 7, 24)) == -15


def test_a_window_of_zero_days_is_the_due_date_alone():
    rules = Rules(schedule_days=(180,), window_days=0)
    states = [
        due_of([baseline(), followup(1)], FOLLOWUP_1_DUE + timedelta(days=offset), rules).state
        for offset in (-1, 0, 1)
    ]
    assert states == [NOT_YET_DUE, DUE, OVERDUE]


def test_a_complete_followup_is_done_whenever_it_was_done():
    for today in (date(2026, 2, 1), FOLLOWUP_1_DUE, date(2027, 6, 1)):
        assert due_of([baseline(), followup(1, complete=True)], today).state == DONE


def test_a_followup_that_is_only_started_after_its_window_is_overdue():
    started = followup(1, submissions={"immediate_recall": 1})
    assert due_of([baseline(), started], date(2026, 7, 24)).state == OVERDUE


def test_a_baseline_started_twice_counts_from_its_first_start():
    # A second baseline study started three weeks later (the first was abandoned, say).
    second = baseline(datetime(2026, 2, 1, 9, 0, tzinfo=UTC), study_id="base0002")
    documents = [second, baseline(), followup(1)]
    assert due_of(documents, date(2026, 2, 2)).due_date == FOLLOWUP_1_DUE


def test_a_baseline_with_only_empty_submissions_is_not_the_start():
    # As in change.csv (scoring.BASELINE_RULE): the baseline is the first with answers.
    empty = baseline(answers=False)
    real = baseline(datetime(2026, 2, 1, 9, 0, tzinfo=UTC), study_id="base0002")
    assert due_of([empty, real, followup(1)], date(2026, 2, 2)).due_date == date(2026, 7, 31)
    assert due_of([empty, followup(1)], date(2026, 2, 2)).state == UNSCHEDULED


def test_no_due_date_without_a_started_baseline_or_beyond_the_schedule():
    not_started = baseline(started_at=None)
    assert due_of([not_started, followup(1)], date(2026, 7, 9)).state == UNSCHEDULED
    third = due_of(
        [baseline(), followup(3, study_id="follow03")], date(2027, 9, 1), RULES, "follow03"
    )
    assert (third.due_date, third.state) == (None, UNSCHEDULED)
    assert due_of([baseline(), followup(1)], date(2027, 1, 1), Rules()).state == UNSCHEDULED


def test_withdrawn_participants_and_deactivated_links_are_out_of_the_schedule():
    withdrawn = followup(1, withdrawn_at=datetime(2026, 5, 1, tzinfo=UTC))
    assert schedule.participant_schedule([baseline(), withdrawn], RULES, FOLLOWUP_1_DUE) == {}
    # The reissued link has the same number: the same due date, in the deactivated one's place.
    old = followup(1, deactivated_at=datetime(2026, 5, 1, tzinfo=UTC))
    reissued = followup(1, study_id="reissued", replaces="follow01")
    found = schedule.participant_schedule([baseline(), old, reissued], RULES, FOLLOWUP_1_DUE)
    assert list(found) == ["reissued"]
    assert (found["reissued"].due_date, found["reissued"].state) == (FOLLOWUP_1_DUE, DUE)


def test_a_due_date_set_by_hand_wins_over_the_schedule():
    by_hand = followup(1, due_date=datetime(2026, 3, 1, tzinfo=UTC))
    due = due_of([baseline(), by_hand], date(2026, 3, 16))
    assert (due.due_date, due.state, due.set_by_hand) == (date(2026, 3, 1), OVERDUE, True)
    # Even without a baseline: a researcher may schedule a follow-up by hand.
    assert due_of([by_hand], date(2026, 3, 15)).state == DUE


def test_due_soon_means_window_open_or_due_within_seven_days():
    rules = Rules(schedule_days=(180,), window_days=3)
    soon = [
        schedule.is_due_soon(due_of([baseline(), followup(1)], today, rules), today)
        for today in (date(2026, 7, 1), date(2026, 7, 2), date(2026, 7, 12), date(2026, 7, 13))
    ]
    # 1 July: due in 8 days; 2 July: in 7; 12 July: window's last day; 13 July: overdue.
    assert soon == [False, True, True, False]


@pytest.mark.parametrize(
    ("text", "days"),
    [("", ()), ("180,365", (180, 365)), (" 90; 180  365 ", (90, 180, 365)), ("30,", (30,))],
)
def test_schedule_days_setting(text, days):
    settings = config.from_environ({"FOLLOWUP_SCHEDULE_DAYS": text, "LOCAL_MODE": "1"})
    assert settings["FOLLOWUP_SCHEDULE_DAYS"] == days


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("180,90", "must increase"),
        ("six months", "whole number"),
        ("0,180", "at least 1"),
        ("180,180", "must increase"),
        ("-5", "whole number"),
    ],
)
def test_a_bad_schedule_setting_stops_the_app_naming_the_problem(text, problem):
    with pytest.raises(config.ConfigError, match=problem) as raised:
        config.from_environ({"FOLLOWUP_SCHEDULE_DAYS": text, "LOCAL_MODE": "1"})
    assert "FOLLOWUP_SCHEDULE_DAYS" in str(raised.value)


def test_schedule_settings_parsed_once_read_the_same_again():
    settings = config.from_environ({"FOLLOWUP_SCHEDULE_DAYS": "180,365", "LOCAL_MODE": "1"})
    assert config.from_environ(settings)["FOLLOWUP_SCHEDULE_DAYS"] == (180, 365)
    assert config.from_environ({"FOLLOWUP_SCHEDULE_DAYS": ()})["FOLLOWUP_SCHEDULE_DAYS"] == ()
    with pytest.raises(config.ConfigError, match="must increase"):
        config.from_environ({"FOLLOWUP_SCHEDULE_DAYS": [365, 180]})


def test_schedule_settings_defaults():
    settings = config.from_environ({"LOCAL_MODE": "1"})
    assert settings["FOLLOWUP_SCHEDULE_DAYS"] == ()
    assert settings["FOLLOWUP_WINDOW_DAYS"] == 14


# --- the store: due list, digest, dates set by hand ----------------------------------------


@pytest.fixture
def app_config(app_config):
    return {**app_config, "FOLLOWUP_SCHEDULE_DAYS": "180,365", "FOLLOWUP_WINDOW_DAYS": "14"}


def test_the_digest_has_counts_and_participant_ids_but_no_study_ids(
    app, started_participant, make_test
):
    p1_followups = started_participant("P1", BASELINE_STARTED)
    started_participant(
        "P2", started=datetime(2026, 2, 1, 10, tzinfo=UTC)
    )  # follow-up 1 due 31 July
    p10_followups = started_participant("P10", BASELINE_STARTED)
    for test_type in TEST_TYPES:  # P10 did their first follow-up
        make_test(p10_followups[0], test_type)
    started_participant("P3", started=datetime(2025, 12, 1, tzinfo=UTC))  # due 30 May: overdue
    with app.app_context():
        digest = schedule.due_digest(date(2026, 7, 20))
    assert digest.today == date(2026, 7, 20)
    assert (digest.due_count, digest.overdue_count) == (2, 1)
    assert digest.due_participant_ids == ("P1", "P2")
    assert digest.overdue_participant_ids == ("P3",)
    assert [(e.followup_number, e.due_date, e.days_left) for e in digest.due] == [
        (1, FOLLOWUP_1_DUE, -11),
        (1, date(2026, 7, 31), 11),
    ]
    assert digest.overdue[0].due_date == date(2026, 5, 30)
    assert bool(digest)
    text = repr(digest)
    assert p1_followups[0]["study_id"] not in text and "http" not in text


def test_an_empty_digest_is_false(app, started_participant):
    started_participant("P1", BASELINE_STARTED)
    with app.app_context():
        digest = schedule.due_digest(date(2026, 2, 1))
    assert not digest and digest.due_count == digest.overdue_count == 0


def test_a_baseline_started_twice_in_one_study_counts_from_the_first_start(
    app, started_participant, make_test
):
    followups = started_participant("P1", started=datetime(2026, 2, 3, tzinfo=UTC))
    with app.app_context():
        the_baseline = db.studies().find_one({"study_id": "bxxxxxp1"}, {"_id": 0})
    # The battery was started again on 3 February; the first start (10 January) still counts.
    make_test(the_baseline, "choice_reaction_time", time_started=BASELINE_STARTED)
    with app.app_context():
        listed = schedule.due_studies(date(2026, 7, 9))
    assert [(s.study_id, s.due_date, s.days_left) for s in listed] == [
        (followups[0]["study_id"], FOLLOWUP_1_DUE, 0)
    ]


def test_the_due_list_carries_the_link_and_is_ordered_by_due_date(app, started_participant):
    started_participant("P1", BASELINE_STARTED)
    started_participant("P2", started=datetime(2025, 12, 1, tzinfo=UTC))
    with app.app_context():
        listed = schedule.due_studies(date(2026, 7, 9))
    assert [(s.participant_id, s.state, s.days_left) for s in listed] == [
        ("P2", OVERDUE, -40),
        ("P1", DUE, 0),
    ]
    assert listed[1].url.endswith("/" + listed[1].study_id)


def test_a_due_date_set_by_hand_is_stored_audited_and_cleared(app, started_participant):
    followups = started_participant("P1", BASELINE_STARTED)
    study_id = followups[1]["study_id"]
    with app.app_context():
        schedule.set_due_date(study_id.upper() + " ", date(2026, 3, 1))  # typed as a person would
        stored = db.studies().find_one({"study_id": study_id})
        assert schedule.as_date(stored["due_date"]) == date(2026, 3, 1)
        digest = schedule.due_digest(date(2026, 3, 2))
        assert [(e.followup_number, e.due_date) for e in digest.due] == [(2, date(2026, 3, 1))]
        schedule.clear_due_date(study_id)
        assert "due_date" not in db.studies().find_one({"study_id": study_id})
        schedule.clear_due_date(study_id)  # nothing left to clear: no second entry
        assert not schedule.due_digest(date(2026, 3, 2))
        entries = list(db.collection(audit.COLLECTION).find({}, {"_id": 0}).sort("time", 1))
    assert [e["action"] for e in entries] == [audit.DUE_DATE_SET, audit.DUE_DATE_CLEARED]
    assert entries[0]["details"] == {
        "study_id": study_id,
        "participant_id": "P1",
        "due_date": "2026-03-01",
        "previous": None,
    }
    assert entries[1]["details"]["previous"] == "2026-03-01"


def test_only_a_followup_of_an_existing_study_takes_a_due_date(app, started_participant):
    started_participant("P1", BASELINE_STARTED)
    with app.app_context():
        with pytest.raises(studies.StudyNotFound):
            schedule.set_due_date("nosuchid", date(2026, 3, 1))
        with pytest.raises(schedule.NotAFollowUp, match="baseline"):
            schedule.set_due_date("bxxxxxp1", date(2026, 3, 1))


def test_baseline_starts_are_each_participants_earliest_started_baseline(
    app, make_study, make_test
):
    # P2's two baselines were created apart, with P3's between them; P3 never started.
    p1 = make_study("P1", "baseline", study_id="bone")
    p2_first = make_study("P2", "baseline", study_id="btwoa")
    make_study("P3", "baseline", study_id="bthree")
    p2_second = make_study("P2", "baseline", study_id="btwob")
    make_study("P1", "followup", study_id="fone")
    make_test(p1, "immediate_recall", time_started=datetime(2026, 3, 1, 9, tzinfo=UTC))
    make_test(p2_first, "immediate_recall", time_started=datetime(2026, 2, 10, 9, tzinfo=UTC))
    make_test(p2_second, "immediate_recall", time_started=datetime(2026, 2, 1, 23, tzinfo=UTC))
    with app.app_context():
        assert schedule.baseline_starts() == {"P1": date(2026, 3, 1), "P2": date(2026, 2, 1)}
        assert schedule.baseline_starts("P2") == {"P2": date(2026, 2, 1)}
        assert schedule.baseline_starts("P3") == {}
