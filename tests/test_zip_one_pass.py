"""The ZIP reads each test once: its result tables and its reliable change estimates come from the
scores pass, and hold exactly what the separate downloads and the estimating pass would."""

import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
import rci_dataset
from conftest import stored_test

from intact import db, exports, scoring, summaries
from intact.exports import archive
from intact.reliable_change import method, sources

UNTIL = datetime(2030, 1, 1, tzinfo=UTC)
SINCE = UNTIL - timedelta(days=2)


def zip_members(selection) -> dict[str, list[list[str]]]:
    """{CSV member name: its rows, header first} of the ZIP of this selection."""
    data = b"".join(archive.zip_archive(selection))
    with zipfile.ZipFile(io.BytesIO(data)) as files:
        return {
            name: list(csv.reader(io.StringIO(files.read(name).decode(), newline="")))
            for name in files.namelist()
            if name.endswith(".csv")
        }


def own_download(test_type, selection) -> list[list[str]]:
    """The rows of a test type's own download (`test_type_csv`), de-identified like the ZIP's."""
    deidentifier = archive.deidentifier_for(selection)
    table = exports.result_table(test_type, selection)
    if deidentifier is not None:
        table = deidentifier.table(table)
    text = b"".join(table.csv()).decode()
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.fixture
def varied_results(app, make_study, make_test):
    """Tests of every kind, some in the last two days before UNTIL and some earlier.

    P1: every type at baseline (long ago) and at follow-up (recent); P2: answers holding a NUL
    character, text that looks like a formula, CSV quotes; P3: a test whose study is gone
    (its participant has no study); P4: a test of an unknown type, and one with a submission's
    extra field (so that table has one more column and is read again).
    """
    long_ago, recent = UNTIL - timedelta(days=30), UNTIL - timedelta(days=1)
    baseline = make_study("P1", "baseline", study_id="bone")
    followup = make_study("P1", "followup", study_id="fone")
    for test_type in exports.EXPORTABLE_TEST_TYPES:
        make_test(baseline, test_type, received_at=long_ago)
        make_test(followup, test_type, received_at=recent)
    odd = make_study("P2", "baseline", study_id="btwo")
    answers = [
        {"dsm_rt": 900, "dsm_correct": True, "dsm_response": "a\x00b"},
        {"dsm_rt": 800, "dsm_correct": False, "dsm_response": '"\x00"'},
        {"dsm_rt": 700, "dsm_correct": True, "dsm_response": '=HYPERLINK("x")'},
    ]
    make_test(odd, "digit_symbol_matching", received_at=recent, result=answers)
    make_test(odd, "spatial_memory", received_at=recent, device_info='@SUM(1;2) "quoted"')
    make_test({**odd, "study_id": "gone", "participant_id": "P3"}, "immediate_recall")
    other = make_study("P4", "baseline", study_id="bfour")
    unknown = stored_test(other, "unclassified", received_at=recent)
    with app.app_context():
        db.tests().insert_one({**unknown, "test_type": "a_future_test"})
    make_test(other, "delayed_recall", received_at=recent, extra={"app_version": "3.0"})


SELECTIONS = {
    "everything": dict(window=exports.Window(None, UNTIL)),
    "since": dict(window=exports.Window(SINCE, UNTIL)),
    "de-identified, in days": dict(
        window=exports.Window(None, UNTIL), deidentified=True, days_since_baseline=True
    ),
    "one participant": dict(window=exports.Window(None, UNTIL), participant_id="P2"),
}


@pytest.mark.parametrize("options", SELECTIONS.values(), ids=SELECTIONS.keys())
def test_every_result_table_holds_what_its_own_download_does(app, varied_results, options):
    app.config["PSEUDONYM_KEY"] = "a key for this test"
    selection = exports.Selection(**options)
    with app.test_request_context():
        members = zip_members(selection)
        for test_type in exports.EXPORTABLE_TEST_TYPES:
            header, *rows = members[f"{test_type}.csv"]
            own_header, *own_rows = own_download(test_type, selection)
            assert header == own_header, test_type
            # The same rows; the ZIP's come grouped by participant.
            assert sorted(rows) == sorted(own_rows), test_type
    assert any(
        "a\x00b" in cell for row in members["digit_symbol_matching.csv"] for cell in row
    ) or selection.participant_id not in (None, "P2")


def test_answer_rows_repeat_their_tests_own_columns(app, varied_results):
    with app.test_request_context():
        header, *rows = zip_members(exports.Selection(window=exports.Window(None, UNTIL)))[
            "digit_symbol_matching.csv"
        ]
    own = header.index("question_number")
    by_test = {}
    for row in rows:
        by_test.setdefault(row[header.index("test_id")], []).append(row)
    for test_rows in by_test.values():
        assert [row[own] for row in test_rows] == [str(n) for n in range(1, len(test_rows) + 1)]
        assert len({tuple(row[:own]) for row in test_rows}) == 1


def test_the_zip_reads_the_tests_once_and_again_only_for_extra_columns(
    app, varied_results, monkeypatch
):
    reads = []
    stream = db.stream

    def counted(name, *args, **kwargs):
        if name == "tests":
            reads.append(kwargs.get("by"))
        return stream(name, *args, **kwargs)

    monkeypatch.setattr(db, "stream", counted)
    with app.test_request_context():
        zip_members(exports.Selection(window=exports.Window(None, UNTIL)))
        # The scores pass, then delayed_recall (a submission's extra field: one more column).
        assert reads == ["participant_id", None]
        db.tests().delete_many({"extra.app_version": {"$exists": True}})
        reads.clear()
        zip_members(exports.Selection(window=exports.Window(None, UNTIL)))
        assert reads == ["participant_id"]


def test_the_de_identified_zip_counts_days_from_each_participants_own_baseline(app, varied_results):
    selection = exports.Selection(**SELECTIONS["de-identified, in days"])
    with app.test_request_context():
        header, *rows = zip_members(selection)["choice_reaction_time.csv"]
    days = {row[header.index("time_started_days")] for row in rows}
    # P1's baseline and follow-up tests started at the same moment (the contract sample's).
    assert days == {"0.0"}


@pytest.fixture
def rci_app(app_config, tmp_path):
    return rci_dataset.app_with_data(app_config, tmp_path)


def every_participant():
    """Every participant's summaries, read and scored on their own (the estimating pass)."""
    return scoring.by_participant(summaries.iter_summaries())


def fresh_estimates():
    """What the estimating pass finds."""
    missing = method.columns_without_values(sources.researcher_values(), sources.reference_values())
    return method.estimate(every_participant(), missing, rci_dataset.MIN_PAIRS)


def refuse_to_read():
    raise AssertionError("the estimates should have been kept by the ZIP's pass")


def test_the_zip_keeps_the_estimates_its_pass_gathered(rci_app):
    with rci_app.test_request_context():
        zip_members(exports.Selection())
        kept = sources.current_method(refuse_to_read)
        assert kept.sample == fresh_estimates()
        assert kept.parameters("dr_score", 1).pairs == 5


def test_the_estimates_kept_are_every_participants_whatever_the_zip_holds(rci_app):
    with rci_app.test_request_context():
        zip_members(exports.Selection(participant_id="P1"))
        assert sources.current_method(refuse_to_read).sample == fresh_estimates()
        # A test the window leaves out (received after its end): the pass did not read every
        # test, so its own gathering is not kept; the estimates count that test too.
        followup = db.studies().find_one({"participant_id": "P6", "study_type": "followup"})
        late = stored_test(followup, "delayed_recall", result={"dr_rt": 1, "dr_score": 4})
        late["received_at"] = datetime.now(UTC) + timedelta(days=1)
        db.tests().insert_one(late)
        zip_members(exports.Selection())
        kept = sources.current_method(refuse_to_read)
        assert kept.parameters("dr_score", 1).pairs == 6
        assert kept.sample == fresh_estimates()
