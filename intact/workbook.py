"""Write .xlsx workbooks in constant memory: one sheet per table, typed cells, no formulas."""

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import xlsxwriter

from intact import cooperative
from intact.spreadsheet_safety import neutralise

log = logging.getLogger(__name__)

EXCEL_MAX_ROWS = 1_048_576
# Excel stores numbers as doubles: larger whole numbers (absurd clock values) would be rounded,
# so they are written as text to keep the raw value exact.
EXACT_INTEGER_LIMIT = 2**53
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss.000"
MAX_COLUMN_WIDTH = 40


@dataclass(frozen=True)
class Sheet:
    """One table: its sheet name, its columns and its rows (mappings or sequences)."""

    name: str
    columns: Sequence[str]
    rows: Iterable


def write_workbook(output, sheets: Iterable[Sheet]) -> None:
    """Write the sheets, in order, to a path or binary file object.

    xlsxwriter's constant-memory mode flushes each row to disk as the next one starts, so a
    workbook of a million rows needs no more memory than one of ten.
    """
    workbook = xlsxwriter.Workbook(output, {"constant_memory": True})
    formats = {
        "header": workbook.add_format({"bold": True, "bottom": 1}),
        "datetime": workbook.add_format({"num_format": DATETIME_FORMAT}),
    }
    try:
        for sheet in sheets:
            _write_sheet(workbook, sheet, formats)
    finally:
        # Packing the sheets into the .xlsx ZIP takes seconds for a large workbook and needs
        # neither the database nor the request: a thread of its own, so other requests run.
        cooperative.in_thread(workbook.close)


def _write_sheet(workbook, sheet: Sheet, formats: dict) -> None:
    part = 1
    worksheet = _new_worksheet(workbook, sheet, sheet.name, formats)
    row_number = 1
    for row in sheet.rows:
        # Writing cells is the workbook's long loop (about 0.5 ms per row): a turn for others.
        cooperative.pause()
        if row_number == EXCEL_MAX_ROWS:
            # Past Excel's last row the table goes on in "name (2)", "name (3)", … with its header.
            part += 1
            worksheet = _new_worksheet(workbook, sheet, f"{sheet.name} ({part})", formats)
            row_number = 1
        values = [row.get(column) for column in sheet.columns] if isinstance(row, Mapping) else row
        for column_number, value in enumerate(values):
            _write_cell(worksheet, row_number, column_number, value, formats)
        row_number += 1
    if part > 1:
        log.info("sheet %s continued on %d sheets", sheet.name, part)


def _new_worksheet(workbook, sheet: Sheet, name: str, formats: dict):
    worksheet = workbook.add_worksheet(name)
    for column_number, column in enumerate(sheet.columns):
        width = min(max(len(column) + 2, 10), MAX_COLUMN_WIDTH)
        worksheet.set_column(column_number, column_number, width)
        worksheet.write_string(0, column_number, column, formats["header"])
    worksheet.freeze_panes(1, 0)
    return worksheet


def _write_cell(worksheet, row: int, column: int, value, formats: dict) -> None:
    # Every type is written with its own method: xlsxwriter's generic write() would turn text
    # starting with "=" into a formula and text that looks like a URL into a link.
    if value is None:
        return
    if isinstance(value, bool):
        worksheet.write_boolean(row, column, value)
    elif isinstance(value, int | float) and abs(value) < EXACT_INTEGER_LIMIT:
        worksheet.write_number(row, column, value)
    elif isinstance(value, int):
        worksheet.write_string(row, column, str(value))
    elif isinstance(value, datetime):
        worksheet.write_datetime(row, column, _naive_utc(value), formats["datetime"])
    elif isinstance(value, str):
        worksheet.write_string(row, column, neutralise(value))
    elif isinstance(value, dict | list):
        # As the CSV exports write nested values: JSON, non-ASCII kept readable.
        text = json.dumps(value, ensure_ascii=False, default=str)
        worksheet.write_string(row, column, neutralise(text))
    else:
        worksheet.write_string(row, column, neutralise(str(value)))


def _naive_utc(moment: datetime) -> datetime:
    # Excel has no time zones; every datetime in the data is UTC (docs/architecture.md).
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
