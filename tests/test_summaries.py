"""Summary and change tables read from the database, summary.csv and the researchers' workbook."""

import csv
import io
import itertools
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
from conftest import load_sample

from intact import create_app, db, exports, scoring, summaries
from intact.exports import archive, tables

START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
_ids = itertools.count()


def insert_test(app, study, test_type, result, days=0, **fields):
    """Store a test document for `study` as the participant API does (docs/architecture.md).

    Tests of one day share their times: the one inserted first has the smaller test_id and counts.
    """
    number = next(_ids)
    document = {
        "test_id": f"test{number:04d}",
        "study_id": study["study_id"],
        "participant_id": study["participant_id"],
        "study_type": study["study_type"],
        "test_type": test_type,
        "time_started": START + timedelta(days=days),
        "time_elapsed_milliseconds": 41873,
        "device_info": "Mozilla/5.0",
        "notes": None,
        "result": result,
        "extra": {},
        "fingerprint": f"fp{number}",
        "received_at": START + timedelta(days=days, minutes=1),
        **fields,
    }
    with app.app_context():
        db.tests().insert_one(document)
    return document


def recall(score):
    return {"ir_score": score, "ir_rt_first": 7000, "ir_rt_second": None if score == 2 else 6000}


def crt_answers(correct, total, rt=400):
    return [
        {"crt_rt": rt, "crt_correct": n < correct, "crt_response": "left", "crt_dwell": 90}
        for n in range(total)
    ]


@pytest.fixture
def two_participants(app, make_study):
    """P002 has a baseline and a follow-up 90 days later; P001 a baseline only; P003 nothing."""
    p2_base = make_study("P002", "baseline", study_id="bbbbbbbb")
    p2_follow = make_study("P002", "followup", study_id="aaaaaaaa")
    p1_base = make_study("P001", "baseline", study_id="cccccccc")
    make_study("P003", "followup", study_id="dddddddd")
    insert_test(app, p2_base, "immediate_recall", recall(1))
    insert_test(app, p2_base, "choice_reaction_time", crt_answers(8, 10))
    insert_test(app, p2_follow, "immediate_recall", recall(2), days=90)
    insert_test(app, p2_follow, "choice_reaction_time", crt_answers(9, 10, rt=-5), days=90)
    insert_test(app, p1_base, "delayed_recall", {"dr_rt": 9000, "dr_score": 3})
    insert_test(app, p1_base, "delayed_recall", {"dr_rt": 9000, "dr_score": 5})
    insert_test(app, p1_base, "unclassified", [])


def read_csv(chunks):
    text = b"".join(chunks).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_summary_csv_has_one_row_per_study_in_participant_order(app, two_participants):
    with app.test_request_context():
        rows = read_csv(summaries.summary_csv())
    assert [(r["participant_id"], r["study_id"]) for r in rows] == [
        ("P001", "cccccccc"),
        ("P002", "aaaaaaaa"),
        ("P002", "bbbbbbbb"),
        ("P003", "dddddddd"),
    ]
    assert list(rows[0]) == list(scoring.SUMMARY_COLUMNS)
    p1, p2_follow, p2_base, p3 = rows
    assert p1["dr_score"] == "3"  # the first of two submissions counts
    assert p1["dr_submissions"] == "2"
    assert p1["dr_flag_duplicate"] == "true"
    assert p1["unclassified_submissions"] == "1"
    assert p1["flagged_tests"] == "3"
    assert p1["crt_accuracy"] == ""
    assert p2_base["crt_accuracy"] == "0.8"
    assert p2_base["crt_rt_median_correct"] == "400.0"
    assert p2_base["started_at"] == "2026-01-05T10:00:00.000Z"
    assert p2_follow["crt_flag_implausible_rt"] == "10"
    assert p2_follow["crt_rt_median_correct"] == ""
    assert p2_follow["crt_flag_elapsed_inconsistent"] == "false"
    assert p3["tests_submitted"] == "0"


def test_change_rows_from_the_database(app, two_participants):
    with app.test_request_context():
        rows = list(summaries.iter_change_rows())
    assert [(r["participant_id"], r["followup_study_id"]) for r in rows] == [
        ("P002", "aaaaaaaa"),
        ("P003", "dddddddd"),
    ]
    p2, p3 = rows
    assert p2["baseline_study_id"] == "bbbbbbbb"
    assert p2["ir_score_change"] == 1
    assert p2["crt_accuracy_change"] == 0.1
    assert p2["crt_rt_median_correct_change"] is None  # the follow-up's RTs are all implausible
    assert p2["days_since_baseline"] == 90.0
    assert p3["baseline_study_id"] is None


def test_one_participants_summaries(app, two_participants):
    with app.test_request_context():
        found = [s.study_id for s in summaries.iter_summaries("P002")]
        assert found == ["aaaaaaaa", "bbbbbbbb"]
        assert list(summaries.iter_summaries("nobody")) == []


def test_configured_thresholds_apply(app_config, make_study):
    app_config["RT_MIN_MS"] = "500"
    app = create_app(app_config)
    with app.app_context():
        study = {"study_id": "eeeeeeee", "participant_id": "P9", "study_type": "baseline"}
        db.studies().insert_one(dict(study, created_at=START))
    insert_test(app, study, "choice_reaction_time", crt_answers(10, 10, rt=450))
    with app.test_request_context():
        (row,) = summaries.iter_summary_rows()
    assert row["crt_flag_implausible_rt"] == 10


def test_summaries_read_in_order_on_every_store(store_config):
    app = create_app(store_config)
    studies = [
        {"study_id": sid, "participant_id": pid, "study_type": "baseline", "created_at": START}
        for pid, sid in [("P2", "aaaaaaaa"), ("P1", "zzzzzzzz"), ("P1", "bbbbbbbb")]
    ]
    with app.app_context():
        db.studies().insert_many([dict(s) for s in studies])
    for study in studies:
        insert_test(app, study, "delayed_recall", {"dr_rt": 9000, "dr_score": 2})
    with app.test_request_context():
        rows = list(summaries.iter_summary_rows())
    assert [(r["participant_id"], r["study_id"], r["dr_score"]) for r in rows] == [
        ("P1", "bbbbbbbb", 2),
        ("P1", "zzzzzzzz", 2),
        ("P2", "aaaaaaaa", 2),
    ]


def test_formula_like_participant_ids_are_neutralised_in_the_csv(app, make_study):
    make_study("=1+2", "baseline", study_id="ffffffff")
    with app.test_request_context():
        (row,) = read_csv(summaries.summary_csv())
    assert row["participant_id"] == "'=1+2"


def test_csv_streams_in_chunks(app, make_study, monkeypatch):
    # Every batch of rows is a chunk of its own, and every batch is one row.
    monkeypatch.setattr(tables, "CHUNK_CHARS", 1)
    monkeypatch.setattr(tables, "CSV_BATCH_ROWS", 1)
    for number in range(5):
        make_study(f"P{number}", "baseline", study_id=f"study{number}xx")
    with app.test_request_context():
        chunks = list(summaries.summary_csv())
    assert len(chunks) == 6  # header and first row, then a row each, then the (empty) rest
    assert len(read_csv(chunks)) == 5


def test_workbook_has_raw_summary_change_and_codebook_sheets(app, two_participants, tmp_path):
    path = tmp_path / "intact.xlsx"
    with app.test_request_context():
        archive.write_workbook(path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [
        "summary",
        "change",
        "reliable_change",
        "studies",
        *exports.EXPORTABLE_TEST_TYPES,
        "codebook",
    ]
    studies = list(book["studies"].iter_rows(values_only=True))
    assert studies[0] == exports.STUDY_COLUMNS
    assert len(studies) == 5
    crt = list(book["choice_reaction_time"].iter_rows(values_only=True))
    crt_rows = [dict(zip(crt[0], row, strict=True)) for row in crt[1:]]
    assert len(crt_rows) == 20  # two tests of ten answers, one row per answer
    assert crt_rows[0]["crt_rt"] == 400  # a number, not text
    assert {row["crt_rt"] for row in crt_rows[10:]} == {-5}  # raw values stay as sent
    summary = list(book["summary"].iter_rows(values_only=True))
    assert summary[0] == scoring.SUMMARY_COLUMNS
    p2_base = dict(zip(summary[0], summary[3], strict=True))
    assert p2_base["study_id"] == "bbbbbbbb"
    assert p2_base["crt_accuracy"] == 0.8
    assert p2_base["crt_flag_incomplete"] is False
    assert p2_base["started_at"] == START.replace(tzinfo=None)
    change = list(book["change"].iter_rows(values_only=True))
    assert change[0] == summaries.CHANGE_COLUMNS
    assert dict(zip(change[0], change[1], strict=True))["ir_score_change"] == 1
    codebook = list(book["codebook"].iter_rows(values_only=True))
    assert codebook[0] == archive.CODEBOOK_COLUMNS
    described = {(row[0], row[1]): row for row in codebook[1:]}
    assert described["summary.csv", "crt_rt_mean_correct"][2:4] == ("number or empty", "ms")
    assert described["change.csv", "crt_accuracy_change"][3] == "proportion"
    assert ("choice_reaction_time.csv", "crt_rt") in described
    summary_columns = [row[1] for row in codebook[1:] if row[0] == "summary.csv"]
    assert tuple(summary_columns) == scoring.SUMMARY_COLUMNS


def test_one_participants_workbook(app, two_participants, tmp_path):
    path = tmp_path / "P002.xlsx"
    with app.test_request_context():
        archive.write_workbook(path, exports.Selection("P002"))
    book = openpyxl.load_workbook(path)
    studies = [row[0] for row in book["studies"].iter_rows(min_row=2, values_only=True)]
    assert sorted(studies) == ["aaaaaaaa", "bbbbbbbb"]
    assert book["summary"].max_row == 3


def test_cli_writes_the_summary_csv_and_the_workbook(runner, two_participants, tmp_path):
    result = runner.invoke(args=["export-summary", str(tmp_path / "summary.csv")])
    assert result.exit_code == 0, result.output
    rows = read_csv([(tmp_path / "summary.csv").read_bytes()])
    assert [r["study_id"] for r in rows] == ["cccccccc", "aaaaaaaa", "bbbbbbbb", "dddddddd"]
    result = runner.invoke(args=["export-summary", str(tmp_path / "intact.xlsx")])
    assert result.exit_code == 0, result.output
    sheets = openpyxl.load_workbook(tmp_path / "intact.xlsx").sheetnames
    assert (sheets[:3], sheets[-1]) == (["summary", "change", "reliable_change"], "codebook")


def test_cli_names_the_formats_it_writes(runner, tmp_path):
    result = runner.invoke(args=["export-summary", str(tmp_path / "summary.txt")])
    assert result.exit_code != 0
    assert "name a .csv or an .xlsx file" in result.output


def test_participant_overview_puts_baseline_and_followups_side_by_side(app, two_participants):
    with app.app_context():
        overview = summaries.participant_overview("P002")
    assert [s.study_id for s in overview.studies] == ["bbbbbbbb", "aaaaaaaa"]
    assert overview.other_studies == []
    lines = {line.column: line for line in overview.lines}
    assert lines["ir_score"].values == [1, 2]
    assert lines["ir_score"].changes == [1]
    assert lines["ir_score"].label == "Immediate recall: score"
    assert lines["crt_accuracy"].values == [0.8, 0.9]
    assert lines["crt_accuracy"].changes == [0.1]
    assert lines["crt_rt_median_correct"].flags == [(), ("implausible_rt",)]
    assert lines["dr_score"].values == [None, None]
    assert [t.test_type for t in overview.flagged_tests] == ["choice_reaction_time"]


def test_participant_overview_of_an_unknown_participant(app):
    with app.app_context(), pytest.raises(summaries.ParticipantNotFound):
        summaries.participant_overview("nobody")


def test_participant_without_a_baseline_still_shows_their_followups(app, two_participants):
    with app.app_context():
        overview = summaries.participant_overview("P003")
    assert overview.baseline is None
    assert [s.study_id for s in overview.studies] == ["dddddddd"]


def test_score_distributions_split_baseline_and_followup(app, two_participants):
    with app.app_context():
        found = {d.column: d for d in summaries.score_distributions()}
    assert sorted(found["ir_score"].baseline) == [1]
    assert found["ir_score"].followup(1) == [2]
    assert found["ir_score"].change(1) == [1]
    assert found["dr_score"].baseline == [3]  # P001's first delayed recall
    crt = found["crt_accuracy"]
    assert [crt.median(values) for _, _, values in crt.rows] == [0.8, 0.9, 0.1]
    assert [label for label, _, _ in crt.rows] == [
        "Baseline",
        "Follow-up 1",
        "Change to follow-up 1",
    ]
    assert found["crt_rt_median_correct"].followup(1) == []  # only implausible RTs
    assert found["crt_accuracy"].chart.kind == "box"
    assert found["ir_score"].chart.kind == "bars"


def test_score_distributions_can_leave_flagged_tests_out(app, two_participants):
    with app.app_context():
        found = {d.column: d for d in summaries.score_distributions(exclude_flagged=True)}
    assert found["crt_accuracy"].baseline == [0.8]
    assert found["crt_accuracy"].followup(1) == []  # its RTs are all implausible
    assert found["crt_accuracy"].change(1) == []
    assert found["ir_score"].change(1) == [1]
    assert found["dr_score"].baseline == []  # a duplicate


def test_flagged_tests_list_every_flagged_submission(app, two_participants):
    with app.app_context():
        every = summaries.flagged_tests().items
        duplicates = summaries.flagged_tests("duplicate").items
    assert [(t.participant_id, t.test_type, t.raised_flags) for t in every] == [
        ("P001", "delayed_recall", ("duplicate",)),
        ("P001", "delayed_recall", ("duplicate",)),
        ("P001", "unclassified", ("unclassified",)),
        ("P002", "choice_reaction_time", ("implausible_rt",)),
    ]
    assert len(duplicates) == 2


def test_front_end_submissions_are_scored_end_to_end(app, client, make_study):
    """The contract samples posted to /tests show up in the summary with hand-computed scores."""
    study = make_study("P100", "baseline")
    samples = [
        "immediate_recall",
        "choice_reaction_time",
        "visual_paired_associates",
        "digit_symbol_matching",
        "spatial_memory_timed_out_no_answer",
        "delayed_recall",
    ]
    for name in samples:
        payload = load_sample(name, study["study_id"])
        assert client.post("/tests", json=payload).status_code == 200, name
    with app.app_context():
        (row,) = summaries.iter_summary_rows()
    assert row["tests_submitted"] == 6
    assert row["ir_score"] == 1
    assert row["ir_attempts"] == 2
    assert row["crt_answers"] == 2
    assert row["crt_accuracy"] == 0.5
    assert row["crt_rt_median_correct"] == 412.0  # the one correct answer
    assert row["crt_flag_incomplete"] is True
    assert row["vpa_accuracy"] == 0.6667
    assert row["dsm_rt_median"] == 1371.0
    assert row["sm_submissions"] == 0
    assert row["unclassified_submissions"] == 1  # the timed-out spatial memory test
    assert row["dr_score"] == 4
    assert row["flagged_tests"] == 4  # crt, vpa and dsm incomplete; the unclassified one
