"""REDCap-ready files: the derived scores as a longitudinal REDCap project's import, in a ZIP.

For REDCap's own CSV uploads (REDCap 13–15, the formats its Data Import Tool, Data Dictionary
and "Define My Events" pages read and write):

- `redcap_import.csv`: one row per study: `record_id` (the participant id, or pseudonym when
  de-identified), `redcap_event_name` (`baseline_arm_1`, `followup_<k>_arm_1` with the study's
  follow-up number), then every score, flag and change as a field; booleans 1/0 (`yesno`),
  date-times `YYYY-MM-DD HH:MM:SS` in UTC;
- `redcap_data_dictionary.csv`: the fields in REDCap's 18 data-dictionary columns (Variable /
  Field Name, Form Name, Section Header, Field Type, Field Label, …, Field Annotation), one
  instrument (form) for the study, one per test type, one for the change from baseline; text
  validation types and ranges from the codebook's types and units;
- `redcap_events.csv` and `redcap_instrument_event_mapping.csv`: the events (arm 1) and which
  instruments each event holds (the change instrument on follow-ups only).

Field names follow REDCap's rules: lower-case letters, digits and underscores, starting with a
letter, at most 26 characters (REDCap's recommended limit: longer ones are dropped by some of its
exports); our column names are kept where they fit, else shortened by a fixed table of
abbreviations (the Field Annotation keeps the original name). A participant has one baseline
event (the reference baseline of change.csv) and one event per follow-up number (the first
started study of that number, e.g. when a link was reissued): other studies are left out.
"""

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from intact import scoring, summaries
from intact.exports import archive
from intact.exports.selection import Selection
from intact.exports.tables import Column, Table, cell, csv_chunks

MAX_FIELD_NAME = 26
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
RECORD_ID = "record_id"
EVENT = "redcap_event_name"
ARM = 1
STUDY_FORM = "intact_study"
CHANGE_FORM = "change_from_baseline"
IMPORT_FILE = "redcap_import.csv"
DICTIONARY_FILE = "redcap_data_dictionary.csv"
EVENTS_FILE = "redcap_events.csv"
MAPPING_FILE = "redcap_instrument_event_mapping.csv"
README_FILE = "README.txt"
DICTIONARY_COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
# Shorter words for parts of our column names, applied in order only while a name is too long.
ABBREVIATIONS = (
    ("elapsed_inconsistent", "elapsed_incons"),
    ("implausible", "implaus"),
    ("correct", "corr"),
    ("median", "med"),
    ("submissions", "subm"),
    ("classification", "class"),
    ("change", "chg"),
    ("pseudonym", "psn"),
)
# Columns the events already say (or the record id holds): not fields of their own.
IN_THE_EVENT = {"participant_id", "participant_pseudonym", "study_type", "followup_number"}
# change.csv's columns that repeat the study's own (its id, start) or the event.
CHANGE_REPEATS = {
    "participant_id",
    "participant_pseudonym",
    "followup_study_id",
    "followup_study_pseudonym",
    "followup_number",
    "followup_started_at",
    "followup_started_at_days",
}
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def field_name(column: str, taken: set[str]) -> str:
    """A REDCap field name for one of our columns, not among `taken` (which it joins)."""
    name = re.sub(r"[^a-z0-9_]+", "_", column.lower())
    name = re.sub(r"_+", "_", name).strip("_")
    if not name or not name[0].isalpha():
        name = f"f_{name}"
    for long, short in ABBREVIATIONS:
        if len(name) <= MAX_FIELD_NAME:
            break
        name = name.replace(long, short)
    if len(name) > MAX_FIELD_NAME:
        name = name[:MAX_FIELD_NAME].rstrip("_")
    base, number = name, 2
    while name in taken:
        suffix = f"_{number}"
        name = base[: MAX_FIELD_NAME - len(suffix)].rstrip("_") + suffix
        number += 1
    taken.add(name)
    return name


def event_name(study_type: str, followup_number) -> str | None:
    """REDCap's unique event name of a study (arm 1); None for a follow-up without a number."""
    if study_type == "baseline":
        return f"baseline_arm_{ARM}"
    if study_type == "followup" and isinstance(followup_number, int):
        return f"followup_{followup_number}_arm_{ARM}"
    return None


def _event_label(unique: str) -> str:
    # REDCap makes the unique name from the label: lower case, spaces to "_", "-" removed.
    if unique.startswith("baseline"):
        return "Baseline"
    return f"Follow-up {unique.split('_')[1]}"


def _form_of(column: str, from_change: bool) -> str:
    if from_change:
        return CHANGE_FORM
    for test_type, prefix in scoring.PREFIXES.items():
        if column.startswith(f"{prefix}_"):
            return test_type
    return STUDY_FORM


class Project:
    """The import's fields (from the summary and change tables) and what they mean to REDCap."""

    def __init__(self, summary: tuple[Column, ...], change: tuple[Column, ...]):
        taken = {RECORD_ID, EVENT}
        self.record_column = next(c for c in summary if c.name in RECORD_SOURCES)
        self.fields: list[tuple[str, str, Column, str]] = []  # (field, form, column, source)
        for source, columns in (("summary", summary), ("change", change)):
            skipped = IN_THE_EVENT if source == "summary" else IN_THE_EVENT | CHANGE_REPEATS
            for column in columns:
                if column.name in skipped:
                    continue
                form = _form_of(column.name, source == "change")
                self.fields.append((field_name(column.name, taken), form, column, source))
        # REDCap wants the fields of one form in one block, in the order forms are listed.
        order = [STUDY_FORM, *scoring.PREFIXES, CHANGE_FORM]
        self.fields.sort(key=lambda found: order.index(found[1]))
        self.forms = [form for form in order if any(f[1] == form for f in self.fields)]

    @property
    def header(self) -> list[str]:
        """The import CSV's header."""
        return [RECORD_ID, EVENT, *(name for name, *_ in self.fields)]

    def row(self, record, event: str, summary: dict, change: dict | None) -> list:
        """One import row (REDCap's value formats) for a study and its change from baseline."""
        values = [_redcap_value(record), event]
        for _, _, column, source in self.fields:
            found = summary if source == "summary" else (change or {})
            values.append(_redcap_value(found.get(column.name)))
        return values

    def dictionary_rows(self) -> Iterator[list]:
        """The data dictionary, record_id first (REDCap: the first field of the first form)."""
        record = self.record_column
        yield _dictionary_row(
            {
                "Variable / Field Name": RECORD_ID,
                "Form Name": STUDY_FORM,
                "Field Type": "text",
                "Field Label": "Participant",
                "Field Note": record.description,
                "Identifier?": "y" if record.name == "participant_id" else "",
                "Field Annotation": f"INTACT column: {record.name}",
            }
        )
        for name, form, column, _ in self.fields:
            field_type, validation, low, high = _validation(column)
            yield _dictionary_row(
                {
                    "Variable / Field Name": name,
                    "Form Name": form,
                    "Field Type": field_type,
                    "Field Label": _label(column.name),
                    "Field Note": _note(column),
                    "Text Validation Type OR Show Slider Number": validation,
                    "Text Validation Min": low,
                    "Text Validation Max": high,
                    # Study ids are the participants' credentials.
                    "Identifier?": "y" if column.name.endswith("study_id") else "",
                    "Field Annotation": f"INTACT column: {column.name}",
                }
            )


# The summary column that becomes record_id: the participant, or their pseudonym.
RECORD_SOURCES = ("participant_id", "participant_pseudonym")


def _label(column: str) -> str:
    try:
        return scoring.score_label(column.removesuffix("_change")) + (
            " (change from baseline)" if column.endswith("_change") else ""
        )
    except KeyError:
        return column.replace("_", " ").capitalize()


def _note(column: Column) -> str:
    note = column.description.rstrip(".")
    return f"{note}. Unit: {column.unit}." if column.unit else f"{note}."


def _dictionary_row(values: dict) -> list:
    return [values.get(column, "") for column in DICTIONARY_COLUMNS]


def _validation(column: Column) -> tuple[str, str, str, str]:
    """(Field Type, Text Validation Type, Min, Max) from the codebook's type and allowed values."""
    kind = column.value_type.removesuffix(" or empty")
    low = high = ""
    bounds = re.match(r"^(-?[\d.]+) to (-?[\d.]+)$", column.values or "")
    if bounds:
        low, high = bounds[1], bounds[2]
    if kind == "boolean":
        return "yesno", "", "", ""
    if kind == "integer":
        return "text", "integer", low, high
    if kind == "number":
        return "text", "number", low, high
    if kind == "timestamp":
        return "text", "datetime_seconds_ymd", "", ""
    if kind == "date":
        return "text", "date_ymd", "", ""
    return "text", "", "", ""


def _redcap_value(value):
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime(DATETIME_FORMAT)
    return cell(value)


def _chosen_studies(participant: list[scoring.StudySummary]) -> dict[str, scoring.StudySummary]:
    """{event: study}: the reference baseline, and the first study of each follow-up number."""
    chosen = {}
    baseline = scoring.baseline_of(participant) or next(
        (study for study in participant if study.study_type == "baseline"), None
    )
    if baseline is not None:
        chosen[event_name("baseline", None)] = baseline
    for study in scoring.followups_of(participant):
        event = event_name(study.study_type, study.followup_number)
        if event is not None:
            chosen.setdefault(event, study)
    return chosen


def redcap_zip(selection: Selection | None = None) -> Iterator[bytes]:
    """The REDCap ZIP of the selection: import, data dictionary, events, mapping, README.

    One scores pass, participant by participant (constant memory); the dictionary, events and
    mapping follow the import, once it has shown which follow-up events occur.
    """
    selection = selection or Selection()
    scores = summaries.ScoresPass(selection, baseline_starts=selection.days_since_baseline)
    deidentifier = archive.deidentifier_for(selection, run_pass=False)
    summary_columns, summary_of = _shaper(deidentifier, summaries.summary_table(scores))
    change_columns, change_of = _shaper(deidentifier, summaries.change_table(scores))
    if deidentifier is not None:
        deidentifier.baseline_starts = scores.baseline_starts
    project = Project(summary_columns, change_columns)
    events: set[str] = set()

    def import_rows():
        for _, listed, changes in scores.participants():
            by_followup = {row["followup_study_id"]: row for row in changes}
            for event, study in _chosen_studies(listed).items():
                events.add(event)
                summary = summary_of(scoring.summary_row(study))
                change = by_followup.get(study.study_id)
                change = change_of(change) if change is not None else None
                record = summary[project.record_column.name]
                yield project.row(record, event, summary, change)

    return archive.zip_streams(
        [
            (IMPORT_FILE, lambda: csv_chunks(project.header, import_rows())),
            (DICTIONARY_FILE, lambda: csv_chunks(DICTIONARY_COLUMNS, project.dictionary_rows())),
            (EVENTS_FILE, lambda: csv_chunks(EVENT_COLUMNS, _event_rows(events))),
            (MAPPING_FILE, lambda: csv_chunks(MAPPING_COLUMNS, _mapping_rows(events, project))),
            (README_FILE, lambda: iter([HOW_TO_IMPORT.encode()])),
        ]
    )


def _shaper(deidentifier, table: Table):
    """(columns, convert a {column: value} row) of a table, de-identified when asked for."""
    if deidentifier is None:
        return table.columns, lambda row: row
    return deidentifier.converter(table)


EVENT_COLUMNS = ("event_name", "arm_num", "unique_event_name", "custom_event_label")
MAPPING_COLUMNS = ("arm_num", "unique_event_name", "form")


def _ordered(events: Iterable[str]) -> list[str]:
    def number(event: str) -> int:
        return 0 if event.startswith("baseline") else int(event.split("_")[1])

    return sorted(events, key=number)


def _event_rows(events: set[str]) -> Iterator[list]:
    # unique_event_name is left to REDCap, which makes it from the label (as the KB advises);
    # the import and the mapping use the names it makes: "Follow-up 2" -> followup_2_arm_1.
    for event in _ordered(events or {event_name("baseline", None)}):
        yield [_event_label(event), ARM, "", ""]


def _mapping_rows(events: set[str], project: Project) -> Iterator[list]:
    for event in _ordered(events or {event_name("baseline", None)}):
        for form in project.forms:
            if form != CHANGE_FORM or not event.startswith("baseline"):
                yield [ARM, event, form]


HOW_TO_IMPORT = """INTACT scores for REDCap (a longitudinal project, arm 1)

Files (REDCap's own CSV formats, as REDCap 13-15 upload and download them):
  redcap_data_dictionary.csv          the instruments and fields
  redcap_events.csv                   the events: Baseline, Follow-up 1, Follow-up 2, ...
  redcap_instrument_event_mapping.csv which instruments each event holds
  redcap_import.csv                   one row per study: record_id, redcap_event_name, the scores

Import, in this order (a new project, or one made from these files before):
  1. Project Setup > "Use longitudinal data collection" on.
  2. Project Setup > Data Dictionary > upload redcap_data_dictionary.csv.
  3. Project Setup > Define My Events > Upload events (CSV): redcap_events.csv.
  4. Designate Instruments for My Events > Upload instrument mappings (CSV):
     redcap_instrument_event_mapping.csv (it replaces the whole mapping).
  5. Applications > Data Import Tool > upload redcap_import.csv (format: rows are records,
     date format YYYY-MM-DD). Blank cells leave existing values as they are.
A later download adds only new follow-up events to the events file; upload it again first.
Date-times are UTC. Field Annotation names each field's INTACT column (codebook.csv).
"""
