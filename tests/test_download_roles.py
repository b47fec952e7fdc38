"""Who gets which downloads: an analyst de-identified files only; "new since" per person."""

import html
import re

import pytest
from conftest import (
    FORM_API_DOWNLOADS,
    bearer,
    make_account,
    make_token,
    start_session,
    zip_csv_files,
)


@pytest.fixture
def analyst(app):
    return make_account(app, "analyst@example.org", "analyst")


@pytest.mark.parametrize("path", FORM_API_DOWNLOADS)
def test_an_analysts_token_gets_deidentified_downloads_only(
    app, client, analyst, every_kind_of_result, path
):
    headers = bearer(make_token(app, analyst))
    form = {"test_type": "delayed_recall"}
    refused = client.post(path, data=form, headers=headers)
    assert refused.status_code == 403
    assert "de-identified data only" in refused.json["message"]
    assert "deidentified=true" in refused.json["message"]
    given = client.post(path, data={**form, "deidentified": "true"}, headers=headers)
    assert given.status_code == 200, given.get_data(as_text=True)
    for study_id in ("pbaseone", "pfollone", "pbasetwo"):
        assert study_id.encode() not in given.data


def test_a_researchers_token_still_gets_identifiable_files(app, client, researcher, make_study):
    make_study("P1", "baseline", study_id="pbaseone")
    headers = bearer(make_token(app, researcher))
    response = client.post("/studies/download-file", data={}, headers=headers)
    assert response.status_code == 200
    assert b"pbaseone" in response.data


def test_the_analysts_downloads_page_offers_deidentified_files_only(
    app, analyst, every_kind_of_result
):
    client = app.test_client()
    token = start_session(app, client, analyst)
    page = client.get("/admin/downloads").get_data(as_text=True)
    assert "your role downloads de-identified data only" in page
    forms = re.findall(r"<form method=\"post\".*?</form>", page, flags=re.DOTALL)
    assert forms and all('name="deidentified" value="true"' in form for form in forms)
    files = zip_csv_files(
        client.post("/admin/downloads/archive", data={"csrf_token": token, "deidentified": "true"})
    )
    assert "participant_pseudonym" in files["studies.csv"][0]
    refused = client.post("/admin/downloads/summary", data={"csrf_token": token})
    assert refused.status_code == 403
    assert "de-identified data only" in html.unescape(refused.get_data(as_text=True))


def test_new_since_follows_each_persons_own_last_download(
    app, researcher, make_study, make_test, tmp_path
):
    make_test(make_study("P1", "baseline", study_id="pbaseone"), "delayed_recall")
    other = make_account(app, "other@example.org", "researcher")
    mine, theirs = app.test_client(), app.test_client()
    token = start_session(app, mine, researcher)
    start_session(app, theirs, other)
    assert mine.post("/admin/downloads/archive", data={"csrf_token": token}).status_code == 200
    offer = "Download what is new since"
    assert offer in mine.get("/admin/downloads").get_data(as_text=True)
    assert offer not in theirs.get("/admin/downloads").get_data(as_text=True)
    # The command line moves nobody's mark.
    exported = app.test_cli_runner().invoke(args=["export", str(tmp_path / "x.zip")])
    assert exported.exit_code == 0, exported.output
    assert offer not in theirs.get("/admin/downloads").get_data(as_text=True)
