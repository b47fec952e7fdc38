"""Participant id lists as researchers paste or upload them: typed lines or a spreadsheet's CSV.

What spreadsheets save is read: one id per line, or CSV separated by commas, semicolons
(European locales) or tabs ("Unicode text"); UTF-8 with or without a BOM, or UTF-16 with its BOM.
A first line naming the id column (`participant_id`, `Participant ID`, `Subject`, `ID`,
`record_id`, …) is a header: the ids are then read from that column and other columns ignored.
Without a header every line holds one id (empty cells around it are fine).

Every id goes through `identifiers.normalise_participant_id`. A list is refused as a whole
(InvalidBatch, nothing created) when a line holds no valid id — the message says what was seen
there — or when one participant is named twice, which would silently give them two sets of
studies: the message names the lines.
"""

import csv
import re
from collections import defaultdict
from pathlib import PurePath

from intact.identifiers import (
    MAX_PARTICIPANT_ID_LENGTH,
    normalise_participant_id,
    participant_id_problem,
    shown,
)

FILE_TYPES = (".txt", ".csv", ".tsv")
DELIMITERS = (",", ";", "\t")
# Header names, compared without case, spaces or punctuation ("Participant ID" = participantid),
# in order of preference when a header names several.
HEADER_NAMES = (
    "participantid",
    "participant",
    "participantcode",
    "participantnumber",
    "participantno",
    "subjectid",
    "subject",
    "subjectcode",
    "subjectnumber",
    "recordid",  # REDCap's record id
    "pid",
    "id",
    "identifier",
)
LINES_NAMED = 20
PROBLEMS_DESCRIBED = 5
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
EXCEL_SEPARATOR_LINE = re.compile(r"sep=(.)", re.IGNORECASE)


class InvalidBatch(ValueError):
    """A batch of studies that cannot be created as asked; nothing was stored.

    `lines` lists the lines (or list positions) to check, for scripts.
    """

    def __init__(self, message: str, lines: list[int] | None = None):
        super().__init__(message)
        self.message = message
        self.lines = lines or []


def read_file(data: bytes, filename: str) -> list[str]:
    """Participant ids from an uploaded .txt, .csv or .tsv file; raise InvalidBatch."""
    suffix = PurePath(filename or "").suffix.lower()
    if suffix not in FILE_TYPES:
        raise InvalidBatch(
            f"The participant ids file must be a .txt, .csv or .tsv file, "
            f"got {filename or 'no name'!r}."
        )
    return decode(data)


def decode(data: bytes) -> list[str]:
    """Participant ids from a file's bytes (UTF-8, or UTF-16 with a BOM); raise InvalidBatch."""
    encoding = "utf-16" if data.startswith(UTF16_BOMS) else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        name = "UTF-16" if encoding == "utf-16" else "UTF-8"
        raise InvalidBatch(
            f"The participant ids are not {name} text (byte {error.start + 1} cannot be read): "
            "save the file as plain text or CSV in UTF-8."
        ) from None
    if "\x00" in text:
        raise InvalidBatch("The participant ids file holds binary data, not text.")
    return parse(text)


def parse(text: str) -> list[str]:
    """Participant ids from text, normalised, in order; raise InvalidBatch naming bad lines."""
    # Only real line breaks: str.splitlines would also split on form feeds and U+2028, which
    # would shift the line numbers the researcher is told to look at.
    lines = list(enumerate(re.split(r"\r\n|\r|\n", text.removeprefix("\ufeff")), start=1))
    declared = EXCEL_SEPARATOR_LINE.fullmatch(lines[0][1].strip())
    if declared:
        # Excel's "sep=;" first line says which separator the file uses.
        delimiter, lines = declared.group(1), lines[1:]
    else:
        delimiter = _delimiter(lines)
    rows = [(number, _cells(line, delimiter)) for number, line in lines]
    rows = [(number, cells) for number, cells in rows if any(cells)]
    column = _header_column(rows[0][1]) if rows else None
    if column is not None:
        rows = rows[1:]
    entries, unreadable = [], []
    for number, cells in rows:
        if column is not None:
            value = cells[column] if column < len(cells) else ""
            if not value:
                unreadable.append((number, "has no id in the participant id column"))
                continue
        else:
            filled = [cell for cell in cells if cell]
            if len(filled) > 1:
                unreadable.append((number, _several_cells(filled)))
                continue
            value = filled[0]
        entries.append((number, value))
    return check(entries, unreadable=unreadable, unit=("line", "lines"))


def check(entries, *, unreadable=(), unit=("entry", "entries")) -> list[str]:
    """The normalised ids of (number, value) entries; InvalidBatch naming every bad one.

    Bad: not a participant id (what was seen is described), or the same participant again.
    `unreadable` holds (number, description) of entries refused before they gave a value.
    """
    ids, problems = [], list(unreadable)
    positions = defaultdict(list)
    for number, value in entries:
        if not isinstance(value, str):
            problems.append((number, f"{value!r} is not text"))
            continue
        participant_id = normalise_participant_id(value)
        problem = participant_id_problem(participant_id)
        if problem:
            problems.append((number, f"{shown(value)} {problem}"))
            continue
        positions[participant_id].append(number)
        ids.append(participant_id)
    repeated = {pid: numbers for pid, numbers in positions.items() if len(numbers) > 1}
    if problems or repeated:
        raise _refusal(sorted(problems), repeated, unit)
    return ids


def _refusal(problems, repeated, unit) -> InvalidBatch:
    one, many = unit
    sentences = []
    if problems:
        numbers = [number for number, _ in problems]
        sentences.append(
            "Non-alphanumeric participant IDs are not allowed: each id must be 1 to "
            f"{MAX_PARTICIPANT_ID_LENGTH} letters or digits, one per line. "
            f"Check {many if len(numbers) > 1 else one} {_listed(numbers)}."
        )
        described = [
            f"{one.capitalize()} {number}: {what}."
            for number, what in problems[:PROBLEMS_DESCRIBED]
        ]
        sentences.extend(described)
    if repeated:
        named = [
            f"{shown(pid)} is on {many} {_listed(numbers, ' and ')}"
            for pid, numbers in list(repeated.items())[:PROBLEMS_DESCRIBED]
        ]
        more = len(repeated) - PROBLEMS_DESCRIBED
        sentences.append(
            "Each participant may appear once per list (the counts give every participant "
            f"more than one study): {'; '.join(named)}"
            + (f"; and {more} more participant{'s' if more > 1 else ''}" if more > 0 else "")
            + "."
        )
    lines = sorted({number for number, _ in problems} | {n for ns in repeated.values() for n in ns})
    return InvalidBatch(" ".join(sentences), lines=lines)


def _listed(numbers: list[int], last_separator: str = ", ") -> str:
    shown_numbers = [str(n) for n in numbers[:LINES_NAMED]]
    if len(numbers) > LINES_NAMED:
        return ", ".join(shown_numbers) + f" and {len(numbers) - LINES_NAMED} more"
    if len(shown_numbers) > 1:
        return ", ".join(shown_numbers[:-1]) + last_separator + shown_numbers[-1]
    return shown_numbers[0]


def _delimiter(lines) -> str | None:
    """The separator most lines use (comma, semicolon, tab); None when no line has one.

    Chosen once for the whole list, so that a line with a stray separator stands out.
    """
    counts = {d: sum(1 for _, line in lines if d in line) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else None


def _cells(line: str, delimiter: str | None) -> list[str]:
    """The line's cells, each stripped (a one-cell list without a delimiter)."""
    if delimiter is None:
        cells = next(csv.reader([line]), [""]) if line.startswith('"') else [line]
    else:
        cells = next(csv.reader([line], delimiter=delimiter), [])
    return [cell.strip() for cell in cells]


def _header_key(cell: str) -> str:
    return "".join(c for c in normalise_participant_id(cell).casefold() if c.isalnum())


def _header_column(cells: list[str]) -> int | None:
    """The index of the id column when these cells are a header row, else None."""
    keys = [_header_key(cell) for cell in cells]
    for name in HEADER_NAMES:
        if name in keys:
            return keys.index(name)
    return None


def _several_cells(filled: list[str]) -> str:
    cells = ", ".join(shown(cell) for cell in filled[:3]) + (", …" if len(filled) > 3 else "")
    return (
        f"has {len(filled)} cells ({cells}); one id per line, or name the id column in a "
        "first line such as participant_id and the other columns are ignored"
    )
