"""A fixed data set for the reliable change index, with every RCI worked out by hand.

Six participants, P1–P6, each with a baseline and follow-up 1; P1 also has follow-up 2.
Settings: RCI_MIN_PAIRS = 5, level 90 % (critical z = 1.6449), and a reference file that gives
both choice reaction time RT scores r = 0.75, SD1 = 100 ms, practice = −20 ms.

Delayed recall, dr_score (higher is better; no reference values, so estimated from the sample):

    participant  baseline X1  follow-up 1 X2  change   P6's follow-up has no delayed recall,
    P1           1            0               −1       so there are 5 pairs (= the minimum).
    P2           1            4               +3
    P3           2            2                0
    P4           3            5               +2
    P5           3            4               +1
    P6           4            (missing)

    mean X1 = 10 / 5 = 2, deviations −1 −1 0 +1 +1, sum of squares 4, SD1 = √(4 / 4) = 1
    mean X2 = 15 / 5 = 3, deviations −3 +1 −1 +2 +1, sum of squares 16
    co-deviation = 3 − 1 + 0 + 2 + 1 = 5, r = 5 / √(4 · 16) = 5 / 8 = 0.625
    practice = mean change = 3 − 2 = 1
    SEM = 1 · √(1 − 0.625) = √0.375 = 0.612372, SEdiff = √2 · 0.612372 = √0.75 = 0.866025
    RCI = (change − 1) / 0.866025:
      P1 −2 / 0.866025 = −2.309401 → decline        P2 +2 / 0.866025 = +2.309401 → improvement
      P3 −1 / 0.866025 = −1.154701 → no change      P4 +1 / 0.866025 = +1.154701 → no change
      P5  0                        → no change      P6 empty (no follow-up value), source sample
    Follow-up 2: only P1 has one (X2 = 1): 1 pair < 5 → too_few_pairs, RCI empty.

Choice reaction time, crt_rt_mean_correct and crt_rt_median_correct (one correct answer each, so
mean = median = its RT; a reaction time: a decline is an increase). Reference values:
    SEM = 100 · √(1 − 0.75) = 50 ms, SEdiff = √2 · 50 = 70.710678 ms,
    RCI = (change − (−20)) / 70.710678

    participant  X1   X2   change  RCI                          classification
    P1 (FU 1)    500  650  +150    170 / 70.710678 = +2.404163  decline (slower)
    P2           600  450  −150   −130 / 70.710678 = −1.838478  improvement (faster)
    P3           550  630   +80    100 / 70.710678 = +1.414214  no change
    P4           700  800  +100    120 / 70.710678 = +1.697056  decline (1.697 > 1.645)
    P5           520  496   −24     −4 / 70.710678 = −0.056569  no change
    P6           480  440   −40    −20 / 70.710678 = −0.282843  no change
    P1 (FU 2)    500  700  +200    220 / 70.710678 = +3.111270  decline
At a 95 % level (critical z 1.96) P4's +1.697 is no reliable change, and P2's −1.838 neither.

Every other score has no RCI, each for its own reason:
- crt_answers (1 answer each) and crt_accuracy (all 1.0): every baseline value is the same →
  no_baseline_variance (6 pairs at follow-up 1). crt_rt_sd_correct needs 2 answers: no values,
  so no pairs → too_few_pairs (0).
- ir_score: every baseline is 2, and ir_attempts every baseline 1 → no_baseline_variance.
- sm_correct_count, sm_rt_median: only P1–P4 took spatial memory at both visits → 4 pairs < 5 →
  too_few_pairs; P5 and P6 have no follow-up value, so no change either.
- visual paired associates and digit symbol matching were never taken: 0 pairs → too_few_pairs.

Latest follow-up with a reliable decline: P1 (follow-up 2: both CRT RT scores, +3.111) and P4
(follow-up 1: both CRT RT scores, +1.697). P1's delayed recall decline is at follow-up 1, not
the latest, so it is not listed.
"""

from datetime import UTC, datetime, timedelta

from conftest import stored_test

from intact import create_app, db

BASELINE_DAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MIN_PAIRS = 5

REFERENCE_CSV = """score,label,unit,r,sd_baseline,practice,source
ir_score,Immediate recall: score,points 0–2,,,,
crt_rt_mean_correct,Choice reaction time: mean RT,ms,0.75,100,−20,Test manual 2026
crt_rt_median_correct,Choice reaction time: median RT,ms,0.75,100,-20,Test manual 2026
"""

# participant: (dr_score X1, X2), (CRT RT X1, X2), (ir_score X1, X2), spatial memory at follow-up
DELAYED_RECALL = {
    "P1": (1, 0),
    "P2": (1, 4),
    "P3": (2, 2),
    "P4": (3, 5),
    "P5": (3, 4),
    "P6": (4, None),
}
REACTION_TIME = {
    "P1": (500, 650),
    "P2": (600, 450),
    "P3": (550, 630),
    "P4": (700, 800),
    "P5": (520, 496),
    "P6": (480, 440),
}
IMMEDIATE_RECALL = {
    "P1": (2, 2),
    "P2": (2, 1),
    "P3": (2, 2),
    "P4": (2, 0),
    "P5": (2, 2),
    "P6": (2, 1),
}
SPATIAL_MEMORY_AT_FOLLOWUP = {"P1", "P2", "P3", "P4"}
# P1's follow-up 2: delayed recall 1, reaction time 700 ms.
SECOND_FOLLOWUP = {"dr_score": 1, "rt": 700}


def settings(folder) -> dict:
    """What the app is configured with: the minimum pairs and the reference file (in `folder`)."""
    path = folder / "reference.csv"
    path.write_text(REFERENCE_CSV, encoding="utf-8")
    return {"RCI_MIN_PAIRS": str(MIN_PAIRS), "RCI_REFERENCE_FILE": str(path)}


def app_with_data(config: dict, folder, **changes):
    """An app built from a test's `config` plus these settings (and `changes`), data stored."""
    app = create_app({**config, **settings(folder), **changes})
    seed(app)
    return app


def _study(app, participant_id, study_id, followup_number=None):
    prefix = app.config["STUDY_URL_PREFIX"].rstrip("/")
    study = {
        "study_id": study_id,
        "participant_id": participant_id,
        "study_type": "baseline" if followup_number is None else "followup",
        "url": f"{prefix}/{study_id}",
        "created_at": BASELINE_DAY,
        "batch_id": "rci",
    }
    if followup_number is not None:
        study["followup_number"] = followup_number
    return study


def _crt(rt: int) -> list[dict]:
    return [{"crt_rt": rt, "crt_correct": True, "crt_response": "left", "crt_dwell": 90}]


def _spatial_memory() -> list[dict]:
    return [{"sm_rt": 1500 + 100 * index, "sm_correct": index % 2 == 0} for index in range(5)]


def _ir(score: int) -> dict:
    return {"ir_score": score, "ir_rt_first": 7000, "ir_rt_second": None if score == 2 else 4000}


def seed(app) -> None:
    """Store the data set: studies and tests, as the front-end would have sent them."""
    studies, tests = [], []

    def took(study, day, test_type, result):
        started = BASELINE_DAY + timedelta(days=day, minutes=len(tests) % 6)
        tests.append(
            stored_test(study, test_type, time_started=started, result=result, received_at=started)
        )

    for number, participant in enumerate(sorted(DELAYED_RECALL), start=1):
        baseline = _study(app, participant, f"rcibase{chr(96 + number)}")
        followup = _study(app, participant, f"rcifoll{chr(96 + number)}", followup_number=1)
        studies += [baseline, followup]
        (dr_before, dr_after) = DELAYED_RECALL[participant]
        (rt_before, rt_after) = REACTION_TIME[participant]
        (ir_before, ir_after) = IMMEDIATE_RECALL[participant]
        took(baseline, 0, "immediate_recall", _ir(ir_before))
        took(baseline, 0, "choice_reaction_time", _crt(rt_before))
        took(baseline, 0, "spatial_memory", _spatial_memory())
        took(baseline, 0, "delayed_recall", {"dr_rt": 9000, "dr_score": dr_before})
        took(followup, 180, "immediate_recall", _ir(ir_after))
        took(followup, 180, "choice_reaction_time", _crt(rt_after))
        if participant in SPATIAL_MEMORY_AT_FOLLOWUP:
            took(followup, 180, "spatial_memory", _spatial_memory())
        if dr_after is not None:
            took(followup, 180, "delayed_recall", {"dr_rt": 9000, "dr_score": dr_after})
    second = _study(app, "P1", "rcisecnd", followup_number=2)
    studies.append(second)
    took(second, 365, "choice_reaction_time", _crt(SECOND_FOLLOWUP["rt"]))
    took(second, 365, "delayed_recall", {"dr_rt": 9000, "dr_score": SECOND_FOLLOWUP["dr_score"]})
    with app.app_context():
        db.studies().insert_many(studies)
        db.tests().insert_many(tests)
