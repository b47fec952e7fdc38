"""The developer commands: flask create-studies and flask export."""

import csv
import io
import zipfile

import pytest

from intact import db


def stored_count(app) -> int:
    with app.app_context():
        return db.studies().count_documents({})


def test_create_studies_reads_stdin_and_prints_csv(app, runner):
    result = runner.invoke(args=["create-studies", "-b", "1", "-f", "2"], input="P1\r\nP2\r\n")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["participant_id"], r["study_type"]) for r in rows] == [
        ("P1", "baseline"),
        ("P1", "followup"),
        ("P1", "followup"),
        ("P2", "baseline"),
        ("P2", "followup"),
        ("P2", "followup"),
    ]
    assert all(r["url"].endswith("/" + r["study_id"]) for r in rows)
    assert "Created 6 studies for 2 participants" in result.stderr
    assert stored_count(app) == 6


def test_create_studies_reads_a_file_and_writes_the_csv(app, runner, tmp_path):
    ids = tmp_path / "ids.csv"
    ids.write_text("participant_id\nP1\n", encoding="utf-8-sig")
    output = tmp_path / "new-studies.csv"
    result = runner.invoke(args=["create-studies", str(ids), "--output", str(output)])
    assert result.exit_code == 0, result.output
    header, *rows = list(csv.reader(output.open(encoding="utf-8")))
    assert header[:5] == ["study_id", "participant_id", "study_type", "followup_number", "url"]
    assert [row[2:4] for row in rows] == [["baseline", ""], ["followup", "1"]]
    assert stored_count(app) == 2


@pytest.mark.parametrize(
    ("args", "stdin", "complaint"),
    [
        ([], "P1\nP_2\n", "Check line 2."),
        ([], "", "Received empty participant list"),
        (["-b", "0", "-f", "0"], "P1\n", "must be nonzero"),
        (["-b", "-1"], "P1\n", "must be nonnegative"),
        ([], b"P1\n\xe9\n", "not UTF-8 text"),
        ([], "P1\nP2\nP1\n", '"P1" is on lines 1 and 3'),
    ],
    ids=["bad-id", "empty", "both-zero", "negative", "latin-1", "repeated"],
)
def test_create_studies_refuses_bad_input_and_creates_nothing(
    app, runner, tmp_path, args, stdin, complaint
):
    output = tmp_path / "out.csv"
    result = runner.invoke(args=["create-studies", *args, "--output", str(output)], input=stdin)
    assert result.exit_code == 1
    assert complaint in result.stderr
    assert stored_count(app) == 0
    assert not output.exists()


@pytest.mark.parametrize(
    ("name", "complaint"),
    [("ids.xlsx", "must be a .txt, .csv or .tsv file"), ("missing.txt", "Cannot read")],
)
def test_create_studies_refuses_unusable_files(app, runner, tmp_path, name, complaint):
    path = tmp_path / name
    if name.endswith(".xlsx"):
        path.write_bytes(b"P1\n")
    result = runner.invoke(args=["create-studies", str(path)])
    assert result.exit_code == 1
    assert complaint in result.stderr
    assert stored_count(app) == 0


def test_export_writes_the_zip(runner, tmp_path, make_study):
    make_study(participant_id="P1")
    make_study(participant_id="P2")
    target = tmp_path / "export.zip"
    result = runner.invoke(args=["export", str(target)])
    assert result.exit_code == 0, result.output
    assert f"Wrote {target}" in result.output
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None
        studies = archive.read("studies.csv").decode().splitlines()
    assert len(studies) == 3


def test_export_filters_by_participant(runner, tmp_path, make_study):
    make_study(participant_id="P1")
    make_study(participant_id="P2")
    target = tmp_path / "p2.zip"
    result = runner.invoke(args=["export", str(target), "--participant-id", "P2"])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(target) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("studies.csv").decode())))
    assert [row["participant_id"] for row in rows] == ["P2"]


def test_export_refuses_a_bad_participant_id(runner, tmp_path):
    result = runner.invoke(args=["export", str(tmp_path / "x.zip"), "--participant-id", "a b"])
    assert result.exit_code == 2
    assert '"a b" has a space' in result.stderr
    assert not (tmp_path / "x.zip").exists()


def test_a_failed_export_leaves_no_file(runner, tmp_path, monkeypatch):
    from intact.exports import archive

    def broken(participant_id=None):
        yield b"PK partial"
        raise RuntimeError("database went away")

    monkeypatch.setattr(archive, "zip_archive", broken)
    target = tmp_path / "broken.zip"
    result = runner.invoke(args=["export", str(target)])
    assert result.exit_code == 1
    assert isinstance(result.exception, RuntimeError)
    assert not target.exists()


def test_commands_are_audited_as_from_the_command_line(app, runner, tmp_path):
    from intact import audit

    runner.invoke(args=["create-studies"], input="P1\n")
    runner.invoke(args=["export", str(tmp_path / "all.zip")])
    with app.app_context():
        (created,) = audit.find_entries(action=audit.STUDIES_CREATED).items
        (download,) = audit.find_entries(action=audit.DOWNLOAD).items
    assert (created["client"], created["count"]) == ("command line", 2)
    assert created["details"]["via"] == "command line"
    assert download["client"] == "command line"
    assert download["details"]["file"].endswith("all.zip")


# --- the download options, as every form takes them ---------------------------------------------


def _zip_files(path) -> dict[str, list[dict]]:
    with zipfile.ZipFile(path) as archive:
        return {
            name: list(csv.DictReader(io.StringIO(archive.read(name).decode(), newline="")))
            for name in archive.namelist()
            if name.endswith(".csv")
        }


def test_export_since_holds_what_arrived_from_then_and_says_so(runner, tmp_path, make_study):
    from datetime import UTC, datetime

    from conftest import stored_test

    study = make_study(participant_id="P1")
    early = stored_test(study, "delayed_recall", datetime(2026, 1, 5, tzinfo=UTC), test_id="old")
    late = stored_test(study, "delayed_recall", datetime(2026, 3, 5, tzinfo=UTC), test_id="new")
    with runner.app.app_context():
        db.tests().insert_many([early, late])
    target = tmp_path / "new.zip"
    result = runner.invoke(args=["export", str(target), "--since", "2026-03-01"])
    assert result.exit_code == 0, result.output
    files = _zip_files(target)
    assert [row["test_id"] for row in files["delayed_recall.csv"]] == ["new"]
    window = next(row for row in files["codebook.csv"] if row["column"] == "window")
    assert "from 2026-03-01T00:00:00.000Z" in window["description"]


def test_export_deidentified_and_the_redcap_zip(runner, tmp_path, every_kind_of_result):
    target = tmp_path / "shared.zip"
    result = runner.invoke(args=["export", str(target), "--deidentified", "--days-since-baseline"])
    assert result.exit_code == 0, result.output
    studies = _zip_files(target)["studies.csv"]
    assert {row["participant_pseudonym"][0] for row in studies} == {"p"}
    assert "participant_id" not in studies[0] and "created_at_days" in studies[0]
    redcap = tmp_path / "redcap.zip"
    result = runner.invoke(args=["export", str(redcap), "--redcap", "--deidentified"])
    assert result.exit_code == 0, result.output
    imported = _zip_files(redcap)["redcap_import.csv"]
    assert {row["redcap_event_name"] for row in imported} == {"baseline_arm_1", "followup_1_arm_1"}
    assert all(row["record_id"].startswith("p") for row in imported)


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        (["--since", "last week"], "--since: 'last week' is not an ISO 8601 date"),
        (["--days-since-baseline"], "--days-since-baseline: Days since baseline replace dates"),
    ],
)
def test_export_options_that_cannot_be_used_write_nothing(runner, tmp_path, options, complaint):
    for command, name in (("export", "x.zip"), ("export-summary", "x.csv")):
        target = tmp_path / name
        result = runner.invoke(args=[command, str(target), *options])
        assert result.exit_code == 2, result.output
        assert complaint in result.stderr
        assert not target.exists()


def test_a_deidentified_export_without_a_pseudonym_key_says_what_is_missing(app, runner, tmp_path):
    app.config["PSEUDONYM_KEY"] = ""
    target = tmp_path / "x.csv"
    result = runner.invoke(args=["export-summary", str(target), "--deidentified"])
    assert result.exit_code == 1
    assert "PSEUDONYM_KEY" in result.output
    assert not target.exists()
