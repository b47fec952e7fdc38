"""Participant id lists as researchers paste or upload them (intact/participant_lists.py)."""

import pytest

from intact.participant_lists import InvalidBatch, check, decode, parse, read_file


@pytest.mark.parametrize(
    "text",
    [
        "P1\nP2",
        "P1\r\nP2\r\n",
        "\ufeffP1\nP2\n",
        "  P1  \n\n\t\nP2\t\n\n",
        "P1\rP2",
        "participant_id\nP1\nP2",
        "\ufeffParticipant_ID\r\nP1\r\nP2\r\n",
        '"participant_id"\n"P1"\n"P2"',
        "\nparticipant_id,,\nP1,\nP2,,",
        # A European-locale spreadsheet's one-column CSV: every line ends with ";".
        "participant_id;\r\nP1;\r\nP2;\r\n",
        "P1;\nP2;",
        "P1;;\nP2;;",
        # "Unicode text" / TSV: tab-separated.
        "participant_id\t\nP1\t\nP2\t",
        # Excel's separator line.
        "sep=;\nP1;\nP2;",
        # Empty cells before the id (a spreadsheet's empty first column).
        ";P1\n;P2",
    ],
    ids=[
        "lf",
        "crlf",
        "bom",
        "blank-lines",
        "cr",
        "header",
        "bom-header",
        "quoted",
        "comma-trailing",
        "semicolon-header",
        "semicolon",
        "semicolons",
        "tab",
        "excel-sep-line",
        "empty-first-column",
    ],
)
def test_participant_id_lists_in_every_usual_shape(text):
    assert parse(text) == ["P1", "P2"]


@pytest.mark.parametrize(
    "header",
    [
        "participant_id",
        "ParticipantID",
        "Participant ID",
        "participant-id",
        "Participant",
        "ID",
        "id",
        "Subject",
        "Subject ID",
        "subject_id",
        "record_id",
        "PID",
        "Ｉ Ｄ",
    ],
)
def test_common_header_names_are_recognised_not_made_participants(header):
    assert parse(f"{header}\nP1\nP2") == ["P1", "P2"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Subject,Age,Group\nS01,34,A\nS02,51,B", ["S01", "S02"]),
        ("Name;Participant ID;Notes\nAnna;P1;x\nBen;P2;", ["P1", "P2"]),
        ("record_id\tredcap_event_name\n7\tbaseline_arm_1\n8\tbaseline_arm_1", ["7", "8"]),
    ],
    ids=["comma", "semicolon", "tab-redcap"],
)
def test_a_named_id_column_is_read_and_the_other_columns_ignored(text, expected):
    assert parse(text) == expected


def test_a_header_column_left_empty_on_a_line_is_named():
    with pytest.raises(InvalidBatch) as caught:
        parse("Name,participant_id\nAnna,P1\nBen,\n")
    assert caught.value.lines == [3]
    assert "Line 3: has no id in the participant id column." in caught.value.message


@pytest.mark.parametrize(
    ("text", "bad_lines"),
    [
        ("P1\nP-2\nP3", [2]),
        ("P1\nP 2", [2]),
        ("P1\n\nP_3\nP4", [3]),
        ("P1,P2", [1]),
        ("x" * 65, [1]),
        ("P1\nparticipant_id", [2]),
        ("=HYPERLINK(1)", [1]),
        ("P1\x0bP2\nP3\u2028P4\n\fP5", [1, 2]),
        ("Full Name\nP1", [1]),
    ],
    ids=[
        "dash",
        "space",
        "underscore",
        "two-columns",
        "too-long",
        "header-not-first",
        "formula",
        "odd-line-breaks",
        "unknown-header",
    ],
)
def test_invalid_participant_ids_are_refused_naming_their_lines(text, bad_lines):
    with pytest.raises(InvalidBatch) as caught:
        parse(text)
    assert caught.value.lines == bad_lines
    assert "Non-alphanumeric" in caught.value.message
    expected = "line " if len(bad_lines) == 1 else "lines "
    assert expected + ", ".join(map(str, bad_lines)) in caught.value.message


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("P1\nP-2", 'Line 2: "P-2" has "-".'),
        ("P1\nAnna Smith", 'Line 2: "Anna Smith" has a space.'),
        ("P1\nP\u200b2", 'Line 2: "P\\u200b2" has U+200B (ZERO WIDTH SPACE).'),
        ("x" * 70, "has 70 characters (at most 64)."),
        ("P1,P2", 'Line 1: has 2 cells ("P1", "P2"); one id per line'),
        ("P1;\nP2,x;\nP3;", 'Line 2: "P2,x" has ",".'),
    ],
    ids=["dash", "space", "invisible", "too-long", "two-cells", "stray-separator"],
)
def test_a_refusal_says_what_was_seen(text, said):
    with pytest.raises(InvalidBatch) as caught:
        parse(text)
    assert said in caught.value.message


def test_a_long_list_of_bad_lines_is_summarised():
    with pytest.raises(InvalidBatch) as caught:
        parse("\n".join(["bad-id"] * 50))
    assert caught.value.lines == list(range(1, 51))
    assert "Check lines 1, 2, 3," in caught.value.message
    assert "and 30 more." in caught.value.message
    # Five lines are described; the rest are only numbered.
    assert caught.value.message.count('"bad-id" has "-"') == 5


@pytest.mark.parametrize(
    ("text", "lines", "said"),
    [
        ("P1\nP2\nP1", [1, 3], '"P1" is on lines 1 and 3'),
        ("participant_id\nN1\nＮ1", [2, 3], '"N1" is on lines 2 and 3'),
        ("Müller1\nMu\u0308ller1", [1, 2], '"Müller1" is on lines 1 and 2'),
        (" P7 \nP7\nP7", [1, 2, 3], '"P7" is on lines 1, 2 and 3'),
    ],
    ids=["same", "full-width", "decomposed", "three-times"],
)
def test_a_participant_named_twice_is_refused_naming_the_lines(text, lines, said):
    with pytest.raises(InvalidBatch) as caught:
        parse(text)
    assert caught.value.lines == lines
    assert said in caught.value.message
    assert "Each participant may appear once per list" in caught.value.message


def test_bad_ids_and_repeats_are_reported_together():
    with pytest.raises(InvalidBatch) as caught:
        parse("P1\nP-2\nP1")
    assert caught.value.lines == [1, 2, 3]
    assert 'Line 2: "P-2" has "-".' in caught.value.message
    assert '"P1" is on lines 1 and 3' in caught.value.message


def test_case_is_kept_so_p1_and_P1_are_two_participants():
    assert parse("p1\nP1") == ["p1", "P1"]


def test_ids_in_any_script_are_accepted_and_folded_to_one_form():
    decomposed = "Mu\u0308ller1"  # u + combining diaeresis, as some keyboards type it
    assert parse(f"{decomposed}\nИван7\n张伟1\nＮ２") == ["Müller1", "Иван7", "张伟1", "N2"]


def test_programmatic_lists_get_the_same_rules_numbered_by_entry():
    assert check(enumerate([" Ｐ1", "P2"], start=1)) == ["P1", "P2"]
    with pytest.raises(InvalidBatch) as caught:
        check(enumerate(["P1", "P-2", 3, "P1"], start=1))
    assert caught.value.lines == [1, 2, 3, 4]
    assert "Check entries 2, 3." in caught.value.message
    assert "Entry 3: 3 is not text." in caught.value.message
    assert '"P1" is on entries 1 and 4' in caught.value.message


@pytest.mark.parametrize("filename", ["ids.txt", "ids.csv", "IDS.TXT", "list.v2.Csv", "export.tsv"])
def test_txt_csv_and_tsv_files_are_read(filename):
    data = "\ufeffparticipant_id\r\nP1\r\nP2\r\n".encode()
    assert read_file(data, filename) == ["P1", "P2"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_a_bom_is_read_as_excel_unicode_text_saves_it(encoding):
    text = "participant_id\tname\r\nP1\tAnna\r\nMüller1\tBen\r\n"
    data = text.encode(encoding)
    if encoding != "utf-16":
        data = "\ufeff".encode(encoding) + data
    assert decode(data) == ["P1", "Müller1"]


@pytest.mark.parametrize(
    ("data", "filename", "complaint"),
    [
        (b"P1\n", "ids.xlsx", "must be a .txt, .csv or .tsv file"),
        (b"P1\n", "", "must be a .txt, .csv or .tsv file"),
        (b"P1\n", "csv", "must be a .txt, .csv or .tsv file"),
        (b"P1\n\xe9\n", "ids.csv", "byte 4 cannot be read"),
        (b"P1\x00\x00\n", "ids.txt", "binary data"),
    ],
    ids=["xlsx", "no-name", "no-suffix", "latin-1", "binary"],
)
def test_unreadable_files_are_refused(data, filename, complaint):
    with pytest.raises(InvalidBatch, match=complaint):
        read_file(data, filename)
