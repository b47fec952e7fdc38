"""datapackage.json: the ZIP's CSV files described for software, as a Frictionless Data Package.

Data Package v1 (https://specs.frictionlessdata.io/data-package/) with one Tabular Data Resource
per CSV file (https://specs.frictionlessdata.io/tabular-data-resource/), each with its Table
Schema (https://specs.frictionlessdata.io/table-schema/): field names, types, descriptions and
units from the codebook, the missing value (an empty cell), primary keys and foreign keys. R's
`frictionless::read_package()` and Python's `frictionless` then load every file with the right
types. Written by this module from the codebook's columns; the `frictionless` library only checks
real exports in the test suite.
"""

import json
import re
from collections.abc import Iterable

from intact import exports
from intact.spreadsheet_safety import neutralise

PROFILE = "tabular-data-package"
NAME = "intact-data"
TITLE = "INTACT cognitive test results"
FILE_NAME = "datapackage.json"
RESOURCE_PROFILE = "tabular-data-resource"
# How our CSV files are written (intact/exports: every field quoted, CRLF, UTF-8, no BOM).
DIALECT = {"delimiter": ",", "quoteChar": '"', "doubleQuote": True, "lineTerminator": "\r\n"}
MISSING_VALUES = [""]
# The codebook's value types -> Table Schema types.
TYPES = {
    "text": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "timestamp": "datetime",
    # A UTC calendar day, YYYY-MM-DD (a follow-up's due date): Table Schema's default date format.
    "date": "date",
    # JSON text (unclassified results, nested unknown fields) stays text: its shape is free.
    "JSON": "string",
}
_RANGE = re.compile(r"^(-?[\d.]+) to (-?[\d.]+)$")


def field(column: exports.Column) -> dict:
    """The Table Schema field descriptor of one codebook column."""
    value_type = column.value_type.removesuffix(" or empty")
    kind = TYPES[value_type]
    # Named as the CSV header names the column (a header cell that could start a formula gets
    # its leading quote there, intact/exports/tables.csv_chunks): the package must match its files.
    described = {"name": neutralise(column.name), "type": kind}
    if column.description:
        described["description"] = column.description
    if column.unit:
        # Table Schema allows further properties on a field; `unit` is the codebook's.
        described["unit"] = column.unit
    if kind == "boolean":
        described["trueValues"] = ["true"]
        described["falseValues"] = ["false"]
    if kind == "datetime":
        # ISO 8601 in UTC to the millisecond with Z (intact/timestamps.py).
        described["format"] = "%Y-%m-%dT%H:%M:%S.%fZ"
    constraints = _constraints(kind, column.values)
    if constraints:
        described["constraints"] = constraints
    return described


def _constraints(kind: str, values: str) -> dict:
    if not values or kind == "boolean":
        return {}
    bounds = _RANGE.match(values)
    if bounds and kind in {"integer", "number"}:
        convert = int if kind == "integer" else float
        return {"minimum": convert(bounds[1]), "maximum": convert(bounds[2])}
    choices = [choice.strip() for choice in values.split("|")]
    if kind == "integer":
        return {"enum": [int(choice) for choice in choices]}
    if kind == "string":
        return {"enum": choices}
    return {}


def resource(table: exports.Table) -> dict:
    """The Tabular Data Resource of one table's CSV file."""
    schema = {
        "fields": [field(column) for column in table.columns],
        "missingValues": MISSING_VALUES,
    }
    if table.primary_key:
        schema["primaryKey"] = list(table.primary_key)
    if table.foreign_keys:
        schema["foreignKeys"] = [
            {"fields": [column], "reference": {"resource": resource_name, "fields": [field_name]}}
            for column, resource_name, field_name in table.foreign_keys
        ]
    return {
        "name": table.name,
        "path": table.file_name,
        "profile": RESOURCE_PROFILE,
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "dialect": DIALECT,
        "schema": schema,
    }


def descriptor(tables: Iterable[exports.Table], *, created: str, notes=()) -> dict:
    """The whole datapackage.json, resources in the order of the tables.

    `notes` ((topic, text) pairs, as in the codebook) become the package's description.
    """
    return {
        "profile": PROFILE,
        "name": NAME,
        "title": TITLE,
        "description": " ".join(f"{topic}: {text}" for topic, text in notes),
        "created": created,
        "resources": [resource(table) for table in tables],
    }


def json_bytes(described: dict) -> bytes:
    """The descriptor as UTF-8 JSON text, indented for people."""
    return (json.dumps(described, ensure_ascii=False, indent=2) + "\n").encode()
