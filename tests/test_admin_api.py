"""The admin API researchers' scripts call: paths, form fields, answers and errors."""

import io
import zipfile

import pytest
from conftest import TEST_PASSWORD, start_session

from intact import create_app, db

ENDPOINTS = {
    "/studies": {"participant_ids": "P1"},
    "/studies/download-file": {},
    "/tests/single-test-type/download-file": {"test_type": "spatial_memory"},
    "/tests/zip-archive/download-file": {},
}
UPLOAD = "/studies/upload-file"


def upload_form(content: bytes = b"P1\nP2\n", filename: str = "ids.txt", **fields):
    return {"participant_ids_file": (io.BytesIO(content), filename), **fields}


def every_endpoint():
    for path, form in ENDPOINTS.items():
        for variant in (path, path + "/"):
            yield variant, form
    yield UPLOAD, None
    yield UPLOAD + "/", None


def form_for(form, password):
    data = upload_form() if form is None else dict(form)
    if password is not None:
        data["password"] = password
    return data


@pytest.mark.parametrize(("path", "form"), list(every_endpoint()))
def test_every_endpoint_answers_with_and_without_trailing_slash(client, path, form):
    response = client.post(path, data=form_for(form, TEST_PASSWORD))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "Location" not in response.headers
    assert response.data


@pytest.mark.parametrize(("path", "form"), list(every_endpoint()))
@pytest.mark.parametrize("password", [None, "", "wrong", TEST_PASSWORD + " "])
def test_every_endpoint_refuses_a_wrong_or_missing_password(app, client, path, form, password):
    response = client.post(path, data=form_for(form, password))
    assert response.status_code == 401
    assert response.json["message"] == "Wrong admin password"
    with app.app_context():
        assert db.studies().count_documents({}) == 0


def test_a_dashboard_session_with_its_csrf_token_is_accepted(app, client):
    token = start_session(app, client)
    form = {"participant_ids": "P1"}
    assert client.post("/studies", data=form).status_code == 403
    response = client.post("/studies", data=form, headers={"X-CSRF-Token": token})
    assert response.status_code == 200


# --- creating studies --------------------------------------------------------------------------


def test_create_studies_answers_the_original_shape(app, client):
    app.config["STUDY_URL_PREFIX"] = "https://intact.example.org/"
    response = client.post(
        "/studies", data={"password": TEST_PASSWORD, "participant_ids": "P1\r\nP2\r\n"}
    )
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    studies = response.json
    # The original's four keys, in its order; follow-ups add their number.
    original = ["study_id", "participant_id", "url", "study_type"]
    assert [list(s) for s in studies] == [original, [*original, "followup_number"]] * 2
    assert [(s["participant_id"], s["study_type"], s.get("followup_number")) for s in studies] == [
        ("P1", "baseline", None),
        ("P1", "followup", 1),
        ("P2", "baseline", None),
        ("P2", "followup", 1),
    ]
    assert all(s["url"] == f"https://intact.example.org/{s['study_id']}" for s in studies)
    with app.app_context():
        assert db.studies().count_documents({}) == 4


def test_counts_are_read_from_the_form(client):
    response = client.post(
        "/studies",
        data={
            "password": TEST_PASSWORD,
            "participant_ids": "P1",
            "baselines_per_participant": "2",
            "followups_per_participant": "3",
        },
    )
    assert [s["study_type"] for s in response.json] == ["baseline"] * 2 + ["followup"] * 3


def test_blank_counts_mean_the_defaults(client):
    response = client.post(
        "/studies",
        data={
            "password": TEST_PASSWORD,
            "participant_ids": "P1",
            "baselines_per_participant": "",
            "followups_per_participant": " ",
        },
    )
    assert [s["study_type"] for s in response.json] == ["baseline", "followup"]


@pytest.mark.parametrize(
    ("form", "complaint"),
    [
        ({"participant_ids": "P1\nP-2\n\nP 4"}, "Check lines 2, 4."),
        ({"participant_ids": ""}, "Received empty participant list"),
        ({}, "Received empty participant list"),
        ({"participant_ids": "\n \n"}, "Received empty participant list"),
        (
            {"participant_ids": "P1", "baselines_per_participant": "-1"},
            "must be nonnegative",
        ),
        (
            {
                "participant_ids": "P1",
                "baselines_per_participant": "0",
                "followups_per_participant": "0",
            },
            "must be nonzero",
        ),
        (
            {"participant_ids": "P1", "followups_per_participant": "two"},
            "followups_per_participant: Not a valid integer.",
        ),
        (
            {"participant_ids": "P1", "baselines_per_participant": "1.5"},
            "baselines_per_participant: Not a valid integer.",
        ),
        (
            {"participant_ids": "P1\nP2\nP3\nP4"},
            "This would create 8 studies; at most 6",
        ),
        ({"participant_ids": "P1\nP2\nP1"}, '"P1" is on lines 1 and 3'),
        ({"participant_ids": "N1\nＮ1"}, '"N1" is on lines 1 and 2'),
    ],
    ids=[
        "bad-ids",
        "empty",
        "missing",
        "blank-lines-only",
        "negative",
        "both-zero",
        "text-count",
        "fractional-count",
        "over-the-limit",
        "repeated",
        "repeated-full-width",
    ],
)
def test_bad_requests_are_400_and_create_nothing(app, client, form, complaint):
    app.config["MAX_STUDIES_PER_REQUEST"] = 6
    response = client.post("/studies", data={"password": TEST_PASSWORD, **form})
    assert response.status_code == 400
    assert complaint in response.json["message"]
    with app.app_context():
        assert db.studies().count_documents({}) == 0


def test_bad_lines_are_also_listed_for_scripts(client):
    response = client.post(
        "/studies", data={"password": TEST_PASSWORD, "participant_ids": "ok1\nno-2\nok3\nno 4"}
    )
    assert response.json["errors"] == {"lines": [2, 4]}
    repeated = client.post(
        "/studies", data={"password": TEST_PASSWORD, "participant_ids": "P1\nP2\nP1\nP3"}
    )
    assert repeated.json["errors"] == {"lines": [1, 3]}


@pytest.mark.parametrize(
    ("content", "filename"),
    [
        (b"P1\nP2", "ids.txt"),
        (b"\xef\xbb\xbfparticipant_id\r\nP1\r\nP2\r\n", "ids.csv"),
        (b"participant_id,\nP1,\n\nP2,\n", "export.CSV"),
        (b"\xef\xbb\xbfParticipantID;\r\nP1;\r\nP2;\r\n", "europe.csv"),
        ("Subject\tAge\r\nP1\t34\r\nP2\t51\r\n".encode("utf-16"), "unicode-text.txt"),
        (b"ID\nP1\nP2\n", "ids.tsv"),
    ],
    ids=["txt", "csv-bom-crlf-header", "spreadsheet-csv", "semicolon", "utf16-tabs", "id-header"],
)
def test_upload_file_creates_studies(client, content, filename):
    response = client.post(
        UPLOAD,
        data=upload_form(content, filename, password=TEST_PASSWORD, followups_per_participant="0"),
    )
    assert response.status_code == 200
    assert [(s["participant_id"], s["study_type"]) for s in response.json] == [
        ("P1", "baseline"),
        ("P2", "baseline"),
    ]


@pytest.mark.parametrize(
    ("form", "complaint"),
    [
        (upload_form(b"P1\n", "ids.xlsx"), "must be a .txt, .csv or .tsv file"),
        (upload_form(b"P1\n\xff\xfe", "ids.txt"), "not UTF-8 text"),
        (upload_form(b"P1\nP#2\n", "ids.csv"), "Check line 2."),
        (upload_form(b"", "ids.txt"), "Received empty participant list"),
        (upload_form(baselines_per_participant="-2"), "must be nonnegative"),
        ({"participant_ids": "P1"}, "participant_ids_file: Missing data for required field."),
    ],
    ids=["wrong-type", "undecodable", "bad-id", "empty-file", "negative", "no-file"],
)
def test_bad_uploads_are_400_and_create_nothing(app, client, form, complaint):
    response = client.post(UPLOAD, data={"password": TEST_PASSWORD, **form})
    assert response.status_code == 400
    assert complaint in response.json["message"]
    with app.app_context():
        assert db.studies().count_documents({}) == 0


def test_uploads_over_the_size_limit_are_413(app_config):
    app_config["MAX_CONTENT_LENGTH"] = "2048"
    client = create_app(app_config).test_client()
    big = b"P1\n" * 2000
    response = client.post(UPLOAD, data=upload_form(big, password=TEST_PASSWORD))
    assert response.status_code == 413
    assert response.is_json


# --- downloads ---------------------------------------------------------------------------------


def test_downloads_name_their_file_and_stream(client):
    studies = client.post(
        "/studies/download-file", data={"password": TEST_PASSWORD}, buffered=False
    )
    assert studies.is_streamed
    assert studies.headers["Content-Disposition"] == "attachment; filename=studies.csv"
    assert studies.mimetype == "text/csv"
    assert studies.headers["Cache-Control"] == "no-store"
    assert studies.get_data(as_text=True).startswith('"study_id","participant_id"')

    one_type = client.post(
        "/tests/single-test-type/download-file",
        data={"password": TEST_PASSWORD, "test_type": "delayed_recall"},
    )
    assert one_type.headers["Content-Disposition"] == "attachment; filename=delayed_recall.csv"
    assert one_type.get_data(as_text=True).startswith('"participant_id","study_id"')

    archive = client.post("/tests/zip-archive/download-file", data={"password": TEST_PASSWORD})
    assert archive.mimetype == "application/zip"
    disposition = archive.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=intact-data-")
    assert disposition.endswith("Z.zip")
    zipfile.ZipFile(io.BytesIO(archive.data)).testzip()


@pytest.mark.parametrize(
    ("form", "complaint"),
    [
        ({"test_type": "reaction_time"}, "test_type: Must be one of:"),
        ({}, "test_type: Missing data for required field."),
        ({"test_type": "spatial_memory", "participant_id": "P-1"}, "participant_id: A participant"),
    ],
    ids=["unknown-type", "no-type", "bad-participant"],
)
def test_bad_download_requests_are_400(client, form, complaint):
    response = client.post(
        "/tests/single-test-type/download-file", data={"password": TEST_PASSWORD, **form}
    )
    assert response.status_code == 400
    assert complaint in response.json["message"]


def test_an_empty_participant_filter_means_everyone(client, make_study):
    make_study(participant_id="P1")
    make_study(participant_id="P2")
    response = client.post(
        "/studies/download-file", data={"password": TEST_PASSWORD, "participant_id": ""}
    )
    assert response.get_data(as_text=True).count("\r\n") == 3


def test_an_unreachable_database_is_a_503_not_a_broken_download(app_config):
    app_config.update(DB_CONNECTION_STR="mongodb://127.0.0.1:9/", DB_TIMEOUT_MS="1000")
    client = create_app(app_config).test_client()
    response = client.post("/tests/zip-archive/download-file", data={"password": TEST_PASSWORD})
    assert response.status_code == 503
    assert "database" in response.json["message"]


# --- OpenAPI -----------------------------------------------------------------------------------


def test_the_admin_endpoints_are_documented(client):
    spec = client.get("/openapi.json").json
    schemas = spec["components"]["schemas"]
    for path in [*ENDPOINTS, UPLOAD]:
        operation = spec["paths"][path]["post"]
        assert {"200", "400", "401"} <= set(operation["responses"]), path
        assert operation["summary"]
        (content_type,) = operation["requestBody"]["content"]
        ref = operation["requestBody"]["content"][content_type]["schema"]["$ref"]
        assert "password" in schemas[ref.rsplit("/", 1)[1]]["properties"]
    upload = spec["paths"][UPLOAD]["post"]["requestBody"]["content"]["multipart/form-data"]
    fields = schemas[upload["schema"]["$ref"].rsplit("/", 1)[1]]["properties"]
    assert fields["participant_ids_file"] == {
        "type": "string",
        "format": "binary",
        "description": fields["participant_ids_file"]["description"],
    }
    assert {"baselines_per_participant", "followups_per_participant"} <= set(fields)
    zip_download = spec["paths"]["/tests/zip-archive/download-file"]["post"]["responses"]["200"]
    assert "application/zip" in zip_download["content"]
    assert "Content-Disposition" in zip_download["headers"]
