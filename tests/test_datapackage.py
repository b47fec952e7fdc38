"""datapackage.json: real exports validate as Frictionless Data Packages, with the right types."""

import io
import json
import zipfile

import pytest
from conftest import TEST_PASSWORD
from frictionless import Package, validate

ZIP_URL = "/tests/zip-archive/download-file"


def unpacked(client, tmp_path, **form):
    """The downloaded ZIP, unpacked into tmp_path: the path of its datapackage.json."""
    response = client.post(ZIP_URL, data={"password": TEST_PASSWORD, **form})
    assert response.status_code == 200, response.get_data(as_text=True)
    with zipfile.ZipFile(io.BytesIO(response.data)) as files:
        files.extractall(tmp_path)
        names = files.namelist()
    assert names[-1] == "datapackage.json"
    return tmp_path / "datapackage.json"


def assert_valid(descriptor_path):
    report = validate(str(descriptor_path))
    problems = [
        (task.name, error.type, error.note) for task in report.tasks for error in task.errors
    ] + [(None, error.type, error.note) for error in report.errors]
    assert report.valid, problems


@pytest.fixture
def unicode_participant(client, make_study):
    """A participant whose id is outside Latin-1, with one test."""
    study = make_study("张伟1", "baseline", study_id="zhangwei")
    submission = {
        "study_id": study["study_id"],
        "time_started": "2026-11-20T14:03:07.512Z",
        "time_elapsed_milliseconds": 60000,
        "device_info": "Mozilla/5.0 (Linux; Android 14) Chrome/120.0 Mobile",
        "result": {"dr_rt": 9000, "dr_score": 3},
    }
    assert client.post("/tests", json=submission).status_code == 200


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"deidentified": "true"},
        {"deidentified": "true", "days_since_baseline": "true"},
        {"participant_id": "P2"},
        {"since": "2000-01-01"},
    ],
)
def test_every_export_is_a_valid_data_package(
    client, tmp_path, every_kind_of_result, unicode_participant, form
):
    assert_valid(unpacked(client, tmp_path, **form))


def test_an_export_without_data_is_a_valid_data_package_of_empty_files(client, tmp_path):
    path = unpacked(client, tmp_path)
    assert_valid(path)
    package = Package(str(path))
    # Every data file is empty; the codebook and the reliable change method describe themselves.
    described = {"codebook", "reliable_change"}
    data = [resource for resource in package.resources if resource.name not in described]
    assert all(resource.read_rows() == [] for resource in data)


def test_the_package_describes_every_csv_with_types_units_and_keys(
    client, tmp_path, every_kind_of_result
):
    path = unpacked(client, tmp_path)
    described = json.loads(path.read_text())
    names = sorted(resource["path"] for resource in described["resources"])
    assert names == sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".csv")
    resources = {resource["name"]: resource for resource in described["resources"]}
    crt = resources["choice_reaction_time"]["schema"]
    fields = {field["name"]: field for field in crt["fields"]}
    assert fields["crt_rt"]["type"] == "integer"
    assert fields["crt_rt"]["unit"] == "ms"
    assert fields["crt_correct"]["type"] == "boolean"
    assert fields["crt_response"]["constraints"] == {"enum": ["left", "right"]}
    assert fields["time_started"]["type"] == "datetime"
    assert crt["primaryKey"] == ["test_id", "question_number"]
    assert crt["foreignKeys"] == [
        {"fields": ["study_id"], "reference": {"resource": "studies", "fields": ["study_id"]}}
    ]
    assert crt["missingValues"] == [""]
    summary = {f["name"]: f for f in resources["summary"]["schema"]["fields"]}
    assert summary["crt_accuracy"]["type"] == "number"
    assert summary["crt_accuracy"]["constraints"] == {"minimum": 0.0, "maximum": 1.0}
    assert "mean" in summary["crt_rt_mean_correct"]["description"]
    # Typed reading: the numbers come back as numbers, the booleans as booleans.
    rows = Package(str(path)).get_resource("choice_reaction_time").read_rows()
    assert isinstance(rows[0]["crt_rt"], int)
    assert isinstance(rows[0]["crt_correct"], bool)


def test_the_validation_catches_a_file_that_breaks_its_description(
    client, tmp_path, every_kind_of_result
):
    path = unpacked(client, tmp_path)
    crt = tmp_path / "choice_reaction_time.csv"
    text = crt.read_text()
    # A reaction time that is not a number, and a study that studies.csv does not list.
    crt.write_text(text.replace('"pbaseone"', '"nosuchst"', 1).replace(',"400",', ',"fast",', 1))
    report = validate(str(path))
    assert not report.valid
    found = {error.type for task in report.tasks for error in task.errors}
    assert "foreign-key" in found


def test_columns_named_like_formulas_are_described_as_their_header_says(
    client, tmp_path, make_study
):
    """A field a submission sends names a column; its header cell is neutralised ("'=2+5"), and
    datapackage.json names the field the same way, or the package would not validate."""
    from conftest import load_sample

    study = make_study("P1", "baseline", study_id="formulas")
    submission = load_sample("spatial_memory", study["study_id"])
    for answer in submission["result"]:
        answer["=2+5"] = "x"
    submission["@SUM(1;2)"] = 1
    assert client.post("/tests", json=submission).status_code == 200
    path = unpacked(client, tmp_path)
    assert_valid(path)
    described = json.loads(path.read_text())
    spatial = next(r for r in described["resources"] if r["name"] == "spatial_memory")
    names = {field["name"] for field in spatial["schema"]["fields"]}
    assert {"'=2+5", "'@SUM(1;2)"} <= names
