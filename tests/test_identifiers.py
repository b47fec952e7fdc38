"""Typed ids: one normalisation for participant ids and one for study ids, used everywhere."""

import csv
import html
import io
import json
import logging

import click
import pytest
from conftest import FORM_API_DOWNLOADS, TEST_PASSWORD

from intact import cli
from intact.identifiers import (
    ParticipantIdConverter,
    StudyIdConverter,
    normalise_participant_id,
    normalise_study_id,
    participant_id_problem,
)

DECOMPOSED = "Mu\u0308ller1"  # u + combining diaeresis: what macOS keyboards and file names give


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("P1", "P1"),
        ("  P1\t", "P1"),
        (DECOMPOSED, "Müller1"),
        ("Ｎ１", "N1"),
        ("\u3000P1\u3000", "P1"),  # ideographic spaces
        ("\u200bP1\ufeff", "P1"),  # zero-width space and BOM pasted from a document
        ("p1", "p1"),  # case is kept
        ("张伟1", "张伟1"),
    ],
)
def test_participant_ids_are_trimmed_and_folded_to_nfkc(typed, stored):
    assert normalise_participant_id(typed) == stored
    assert normalise_participant_id(stored) == stored


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("abcdefgh", "abcdefgh"), ("Abcdefgh ", "abcdefgh"), (" ABCDEFGH\n", "abcdefgh")],
)
def test_study_ids_are_trimmed_and_lower_cased(typed, stored):
    assert normalise_study_id(typed) == stored


@pytest.mark.parametrize("value", [None, 7, {"$ne": ""}, ["P1"]])
def test_non_text_is_left_for_the_caller_to_refuse(value):
    assert normalise_participant_id(value) is value
    assert normalise_study_id(value) is value


def test_every_url_variable_holding_an_id_uses_its_converter(app):
    """Routes added later are held to it: a participant or study id in a URL is normalised."""
    expected = {"participant_id": ParticipantIdConverter, "study_id": StudyIdConverter}
    seen = set()
    for rule in app.url_map.iter_rules():
        for name, converter in rule._converters.items():
            if name in expected:
                seen.add(name)
                assert isinstance(converter, expected[name]), (
                    f"{rule.rule}: write <{'participant' if name == 'participant_id' else 'study'}"
                    f":{name}> so the id is normalised"
                )
    assert seen == set(expected)


def test_every_cli_participant_option_normalises(app):
    for command in app.cli.list_commands(None):
        for param in app.cli.get_command(None, command).params:
            if param.name == "participant_id":
                assert param.type is cli.PARTICIPANT_ID, command


def test_routes_are_logged_as_their_plain_pattern(client, caplog):
    with caplog.at_level(logging.INFO, logger="intact.request"):
        client.get("/studies/zzzzzzzz")
    (record,) = [r for r in caplog.records if r.name == "intact.request"]
    assert record.fields["path"] == "/studies/<study_id>"


@pytest.mark.parametrize("value", [DECOMPOSED, "Müller1"])
def test_a_valid_id_has_no_problem_once_normalised(value):
    assert participant_id_problem(normalise_participant_id(value)) is None


# --- the same id found everywhere it is read ---------------------------------------------------


@pytest.fixture
def muller(make_study, make_test):
    study = make_study(participant_id="Müller1", study_id="abcdefgh")
    make_test(study, "choice_reaction_time")
    make_study(participant_id="P2", study_id="bcdefghi")
    return study


@pytest.mark.parametrize("typed", [DECOMPOSED, "Müller1", "%20M%C3%BCller1%20"])
@pytest.mark.parametrize("page", ["", "/scores", "/report"])
def test_dashboard_participant_urls_find_every_spelling(admin, muller, typed, page):
    response = admin.get(f"/admin/participants/{typed}{page}")
    assert response.status_code == 200
    assert "Müller1" in response.get_data(as_text=True)


@pytest.mark.parametrize("typed", [DECOMPOSED, "mu\u0308ller"])
def test_progress_search_finds_every_spelling(admin, muller, typed):
    response = admin.get("/admin/progress", query_string={"q": typed})
    page = response.get_data(as_text=True)
    assert "Müller1" in page
    assert "P2" not in page


@pytest.mark.parametrize("typed", [DECOMPOSED, " Müller1 "])
@pytest.mark.parametrize(
    "path",
    ["/studies/download-file", "/tests/summary/download-file"],
)
def test_download_filters_find_every_spelling(client, muller, typed, path):
    response = client.post(path, data={"password": TEST_PASSWORD, "participant_id": typed})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["participant_id"] for row in rows] == ["Müller1"]


def test_a_refused_filter_says_what_was_seen(client):
    response = client.post(
        "/studies/download-file", data={"password": TEST_PASSWORD, "participant_id": "P-1"}
    )
    assert response.status_code == 400
    assert '"P-1" has "-"' in response.json["message"]


def test_the_cli_filter_finds_every_spelling(runner, muller, tmp_path):
    target = tmp_path / "summary.csv"
    result = runner.invoke(args=["export-summary", str(target), "--participant-id", DECOMPOSED])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert [row["participant_id"] for row in rows] == ["Müller1"]


def test_the_cli_refuses_a_bad_id_saying_what_was_seen(runner, tmp_path):
    result = runner.invoke(
        args=["export-summary", str(tmp_path / "s.csv"), "--participant-id", "P 1"]
    )
    assert result.exit_code == click.UsageError.exit_code
    assert '"P 1" has a space' in result.output


def test_the_refused_list_filter_reads_a_typed_study_id(admin, app, muller):
    from intact import db

    with app.app_context():
        db.quarantine().insert_one(
            {"quarantine_id": "q1", "study_id": "abcdefgh", "received_at": None, "message": "x"}
        )
    page = admin.get("/admin/refused", query_string={"study_id": " Abcdefgh "})
    assert page.status_code == 200
    assert "1 refused submission for study <code>abcdefgh</code>" in page.get_data(as_text=True)


def test_a_typed_study_id_in_a_submission_body_and_in_the_api_agree(client, muller):
    body = json.dumps({"study_id": " ABCDEFGH"}).encode()
    response = client.post("/tests", data=body, content_type="application/json")
    # The study is found (the body is incomplete, so 422 naming the fields, not 400 unknown).
    assert response.status_code == 422


# --- a participant filter that matches nobody says so ---------------------------------------------


@pytest.mark.parametrize("path", FORM_API_DOWNLOADS)
@pytest.mark.parametrize("typed", ["P999", "müller1"])
def test_a_script_filtering_on_nobody_gets_a_404_naming_the_id(client, muller, path, typed):
    form = {"password": TEST_PASSWORD, "participant_id": typed, "test_type": "delayed_recall"}
    # In a window or de-identified too: every selection is checked the same way.
    for options in ({}, {"since": "2026-01-01", "deidentified": "true"}):
        response = client.post(path, data={**form, **options})
        assert response.status_code == 404
        expected = f'No study belongs to a participant with the id "{typed}".'
        assert response.json["message"] == expected


@pytest.mark.parametrize("kind", ["archive", "studies", "summary", "workbook", "redcap"])
def test_the_dashboard_says_beside_the_field_that_nobody_has_the_id(admin, muller, kind):
    from conftest import csrf_from

    token = csrf_from(admin.get("/admin/downloads"))
    response = admin.post(
        f"/admin/downloads/{kind}", data={"csrf_token": token, "participant_id": "P999"}
    )
    assert response.status_code == 404
    page = html.unescape(response.get_data(as_text=True))
    assert 'No study belongs to a participant with the id "P999".' in page
    assert 'aria-invalid="true"' in page


@pytest.mark.parametrize("command", [["export", "x.zip"], ["export-summary", "x.csv"]])
def test_the_cli_filtering_on_nobody_fails_and_writes_nothing(runner, muller, tmp_path, command):
    target = tmp_path / command[1]
    result = runner.invoke(args=[command[0], str(target), "--participant-id", "P999"])
    assert result.exit_code == 1
    assert 'No study belongs to a participant with the id "P999".' in result.output
    assert not target.exists()
