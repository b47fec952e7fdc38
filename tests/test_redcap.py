"""REDCap-ready files: REDCap's field-name rules, every column in the dictionary, every event
mapped, one row per study with the right event."""

import pytest
from conftest import TEST_PASSWORD, csrf_from, zip_csv_files

from intact import scoring
from intact.exports import redcap

URL = "/tests/redcap/download-file"


def download(client, **form):
    return zip_csv_files(client.post(URL, data={"password": TEST_PASSWORD, **form}))


@pytest.mark.parametrize("form", [{}, {"deidentified": "true"}])
def test_field_names_follow_redcaps_rules(client, every_kind_of_result, form):
    files = download(client, **form)
    dictionary = files[redcap.DICTIONARY_FILE]
    names = [row["Variable / Field Name"] for row in dictionary]
    assert names[0] == "record_id"
    assert len(names) == len(set(names))
    for name in names:
        assert redcap.FIELD_NAME.match(name), name  # lower case, digits, _, starts with a letter
        assert len(name) <= redcap.MAX_FIELD_NAME, name
    # Every form's fields are one block (REDCap refuses interleaved forms).
    forms = [row["Form Name"] for row in dictionary]
    blocks = [form for number, form in enumerate(forms) if number == 0 or forms[number - 1] != form]
    assert len(blocks) == len(set(blocks))


def test_every_data_column_is_in_the_dictionary_and_every_event_in_the_mapping(
    client, every_kind_of_result
):
    files = download(client)
    imported = files[redcap.IMPORT_FILE]
    header = list(imported[0])
    names = {row["Variable / Field Name"] for row in files[redcap.DICTIONARY_FILE]}
    assert set(header) - {"redcap_event_name"} <= names
    assert header[:2] == ["record_id", "redcap_event_name"]
    mapping = files[redcap.MAPPING_FILE]
    mapped = {(row["unique_event_name"], row["form"]) for row in mapping}
    form_of = {
        row["Variable / Field Name"]: row["Form Name"] for row in files[redcap.DICTIONARY_FILE]
    }
    for row in imported:
        assert row["redcap_event_name"] in {event for event, _ in mapped}
        for field, value in row.items():
            if value and field not in {"record_id", "redcap_event_name"}:
                assert (row["redcap_event_name"], form_of[field]) in mapped, field
    events = [row["event_name"] for row in files[redcap.EVENTS_FILE]]
    assert events == ["Baseline", "Follow-up 1"]
    # One row per study: P1's baseline and follow-up 1, P2's baseline.
    assert sorted((row["record_id"], row["redcap_event_name"]) for row in imported) == [
        ("P1", "baseline_arm_1"),
        ("P1", "followup_1_arm_1"),
        ("P2", "baseline_arm_1"),
    ]
    # The change from baseline goes to follow-ups only.
    followup = next(row for row in imported if row["redcap_event_name"] == "followup_1_arm_1")
    assert followup["ir_score_change"] != ""
    assert ("baseline_arm_1", redcap.CHANGE_FORM) not in mapped
    assert ("followup_1_arm_1", redcap.CHANGE_FORM) in mapped


def test_values_are_in_redcaps_formats_and_ranges_come_from_the_codebook(
    client, every_kind_of_result
):
    files = download(client)
    dictionary = {row["Variable / Field Name"]: row for row in files[redcap.DICTIONARY_FILE]}
    assert dictionary["crt_accuracy"]["Text Validation Type OR Show Slider Number"] == "number"
    assert (
        dictionary["crt_accuracy"]["Text Validation Min"],
        dictionary["crt_accuracy"]["Text Validation Max"],
    ) == ("0", "1")
    assert dictionary["crt_answers"]["Text Validation Type OR Show Slider Number"] == "integer"
    assert dictionary["started_at"]["Text Validation Type OR Show Slider Number"] == (
        "datetime_seconds_ymd"
    )
    flag = next(name for name in dictionary if name.startswith("crt_flag_dup"))
    assert dictionary[flag]["Field Type"] == "yesno"
    assert dictionary["study_id"]["Identifier?"] == "y"
    assert "Unit: ms." in dictionary["crt_rt_median_correct"]["Field Note"]
    row = files[redcap.IMPORT_FILE][0]
    assert row[flag] in {"0", "1"}
    assert len(row["started_at"]) == len("2026-11-20 14:03:07")


def test_a_deidentified_redcap_zip_names_records_by_pseudonym(client, every_kind_of_result):
    files = download(client, deidentified="true")
    records = {row["record_id"] for row in files[redcap.IMPORT_FILE]}
    assert all(record.startswith("p") and len(record) == 21 for record in records)
    names = {row["Variable / Field Name"] for row in files[redcap.DICTIONARY_FILE]}
    assert "study_id" not in names
    text = "".join(str(row) for rows in files.values() for row in rows)
    assert "pbaseone" not in text


@pytest.mark.parametrize(
    "column",
    [
        *scoring.SUMMARY_COLUMNS,
        *scoring.CHANGE_COLUMNS,
        "crt_rt_median_correct_change_rci_classification",
        "9lives",
        "Ünïcode-Column",
    ],
)
def test_every_name_we_could_make_fits_the_rules(column):
    taken = set()
    name = redcap.field_name(column, taken)
    assert redcap.FIELD_NAME.match(name)
    assert len(name) <= redcap.MAX_FIELD_NAME
    assert redcap.field_name(column, taken) != name  # a second one gets its own name


def test_the_dashboard_offers_the_zip_csv_files(admin, every_kind_of_result):
    token = csrf_from(admin.get("/admin/downloads"))
    response = admin.post("/admin/downloads/redcap", data={"csrf_token": token})
    assert redcap.DICTIONARY_FILE in zip_csv_files(response)
    assert "intact-redcap-" in response.headers["Content-Disposition"]
