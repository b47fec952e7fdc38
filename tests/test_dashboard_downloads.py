"""The dashboard's downloads: its own routes, login, CSRF token, HTML errors and audit entries."""

import html
import io
import re
import zipfile

import pytest
from conftest import TEST_PASSWORD, csrf_from

from intact import audit

DOWNLOAD_FORMS = {
    "/admin/downloads/archive": {},
    "/admin/downloads/test-type": {"test_type": "spatial_memory"},
    "/admin/downloads/studies": {},
    "/admin/downloads/summary": {},
    "/admin/downloads/workbook": {},
}


def test_downloads_page_posts_to_the_dashboards_own_routes_with_the_token(admin):
    text = admin.get("/admin/downloads").get_data(as_text=True)
    token = csrf_from(admin.get("/admin/downloads"))
    for action in DOWNLOAD_FORMS:
        assert f'action="{action}"' in text
    assert "download-file" not in text  # nothing posts to the scripts' API
    assert text.count(f'name="csrf_token" value="{token}"') >= len(DOWNLOAD_FORMS)
    assert '<option value="unclassified">Empty result (no answers)</option>' in text


def test_the_session_downloads_the_zip_and_a_test_type(admin, make_study, make_test):
    make_test(make_study("P1"), "spatial_memory")
    token = csrf_from(admin.get("/admin/downloads"))
    archive = admin.post("/admin/downloads/archive", data={"csrf_token": token})
    assert archive.status_code == 200
    assert archive.headers["Content-Disposition"].startswith("attachment; filename=intact-data-")
    with zipfile.ZipFile(io.BytesIO(archive.data)) as opened:
        assert "spatial_memory.csv" in opened.namelist()
    one = admin.post(
        "/admin/downloads/test-type",
        data={"csrf_token": token, "test_type": "spatial_memory", "participant_id": "P1"},
    )
    assert one.status_code == 200
    assert one.headers["Content-Disposition"] == "attachment; filename=spatial_memory.csv"
    assert "sm_rt" in one.get_data(as_text=True)


@pytest.mark.parametrize(("path", "form"), DOWNLOAD_FORMS.items())
def test_every_dashboard_download_is_a_recorded_attachment(app, admin, make_study, path, form):
    make_study("P1")
    token = csrf_from(admin.get("/admin/downloads"))
    response = admin.post(path, data={"csrf_token": token, "participant_id": "P1", **form})
    body = response.get_data()  # the audit entry is written when the last byte has gone
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Cache-Control"] == "no-store"
    with app.app_context():
        (entry,) = audit.find_entries(action=audit.DOWNLOAD).items
    assert entry["count"] == len(body)
    assert entry["details"]["completed"] is True
    assert entry["details"]["participant_id"] == "P1"
    assert entry["details"]["file"] in response.headers["Content-Disposition"]


@pytest.mark.parametrize("path", DOWNLOAD_FORMS)
def test_a_dashboard_download_needs_the_csrf_token(admin, path):
    response = admin.post(path, data={"csrf_token": "forged", **DOWNLOAD_FORMS[path]})
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert "This form has expired" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("referrer", "login"),
    [
        ("http://localhost/admin/downloads", "/admin/login?next=%2Fadmin%2Fdownloads"),
        ("https://evil.example/admin/downloads", "/admin/login"),  # never the way back
        (None, "/admin/login"),
    ],
)
def test_a_logged_out_download_goes_to_the_login_page_and_back(client, referrer, login):
    headers = {"Referer": referrer} if referrer else {}
    response = client.post(
        "/admin/downloads/archive", data={"csrf_token": "from-a-page-left-open"}, headers=headers
    )
    assert response.status_code == 303
    assert response.headers["Location"] == login


@pytest.mark.parametrize(
    ("path", "form", "form_id", "field", "message"),
    [
        (
            "/admin/downloads/archive",
            {"participant_id": "P 12"},
            "archive",
            "participant_id",
            'A participant id is 1 to 64 letters or digits; "P 12" has a space.',
        ),
        (
            "/admin/downloads/summary",
            {"participant_id": "P-1"},
            "summary",
            "participant_id",
            'A participant id is 1 to 64 letters or digits; "P-1" has "-".',
        ),
        (
            "/admin/downloads/test-type",
            {"test_type": "$where", "participant_id": "P1"},
            "test-type",
            "test_type",
            "Choose a test from the list.",
        ),
        (
            "/admin/downloads/test-type",
            {},
            "test-type",
            "test_type",
            "Choose a test from the list.",
        ),
    ],
)
def test_a_mistyped_download_form_comes_back_with_the_problem_beside_the_field(
    app, admin, path, form, form_id, field, message
):
    token = csrf_from(admin.get("/admin/downloads"))
    response = admin.post(path, data={"csrf_token": token, **form})
    text = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    assert "<h1>Downloads</h1>" in text
    assert re.search(
        rf'id="{form_id}-{field}-error" class="field-error" role="alert">{re.escape(message)}',
        text,
    )
    assert f'aria-describedby="{form_id}-{field}-error"' in text
    if "participant_id" in form:  # what was typed is still there, to be corrected
        assert f'value="{form["participant_id"]}"' in text
    with app.app_context():
        assert audit.find_entries(action=audit.DOWNLOAD).total == 0


def test_scripts_keep_the_json_api_and_its_json_errors(client):
    response = client.post(
        "/studies/download-file", data={"password": TEST_PASSWORD, "participant_id": "P 12"}
    )
    assert response.status_code == 400
    assert response.json["message"] == (
        'participant_id: A participant id is 1 to 64 letters or digits; "P 12" has a space.'
    )


def test_participant_page_offers_that_participants_zip(admin, make_study):
    make_study("P1")
    text = admin.get("/admin/participants/P1").get_data(as_text=True)
    assert '<input type="hidden" name="participant_id" value="P1">' in text
    assert 'action="/admin/downloads/archive"' in text
