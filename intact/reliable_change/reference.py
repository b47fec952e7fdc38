"""Reference values of r, SD1 and practice: the file that ships with the app, and typed values.

The file (`reference.csv` beside this module, or the CSV that `RCI_REFERENCE_FILE` names) has one
row per score: `score`, `label` and `unit` (for the person filling it in; not read), `r`,
`sd_baseline`, `practice` and `source` (the publication or normative sample the values come from).
It ships with every value empty, because published test–retest values for this battery depend on
the population and the interval: a study team fills it from the literature or a normative sample.
A row is either empty or complete; numbers are read by `read_values`, the same function that reads
what a researcher types on the dashboard.
"""

import csv
import math
from collections.abc import Mapping
from pathlib import Path

from intact import scoring
from intact.reliable_change.formula import REFERENCE, Parameters

DEFAULT_PATH = Path(__file__).with_name("reference.csv")
HEADER = ("score", "label", "unit", "r", "sd_baseline", "practice", "source")
VALUE_FIELDS = ("r", "sd_baseline", "practice")
MAX_SOURCE_CHARS = 500
# Copied from a PDF, a minus sign is often U+2212 and a space a no-break space.
_TYPED_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-", "\u00a0": " "})


class InvalidValues(ValueError):
    """Typed values that cannot be used; `problems` maps each field to a sentence."""

    def __init__(self, problems: Mapping[str, str]):
        self.problems = dict(problems)
        super().__init__("; ".join(f"{name}: {text}" for name, text in self.problems.items()))


class ReferenceFileError(ValueError):
    """The reference file cannot be read; the message names the file, line and field."""


def _number(text) -> float | None:
    """A typed number: '0.85', ' -1.2 ', '−1.2' (a typographic minus) → float; '' → None.

    Raises ValueError with a sentence for anything else, a decimal comma included (is '1,250'
    one thousand two hundred and fifty, or one and a quarter?).
    """
    cleaned = str(text if text is not None else "").translate(_TYPED_MINUS).strip()
    if not cleaned:
        return None
    if "," in cleaned:
        raise ValueError("use a dot as the decimal mark, without thousands separators")
    try:
        value = float(cleaned)
    except ValueError:
        raise ValueError(f"{cleaned!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def read_values(r, sd_baseline, practice, citation, source: str) -> Parameters | None:
    """The parameters typed for one score, or None when r, SD1 and practice are all empty.

    All three values and a citation are needed together; 0 ≤ r < 1 (r = 1 would mean no
    measurement error, making every change reliable), SD1 > 0, practice any number (0 for the
    Jacobson–Truax index without practice adjustment). Raises InvalidValues naming each field.
    """
    problems: dict[str, str] = {}
    values: dict[str, float | None] = {}
    for name, text in zip(VALUE_FIELDS, (r, sd_baseline, practice), strict=True):
        try:
            values[name] = _number(text)
        except ValueError as error:
            problems[name] = str(error)
    citation = " ".join(str(citation or "").split())
    if not problems and all(value is None for value in values.values()) and not citation:
        return None
    for name, value in values.items():
        if value is None and name not in problems:
            problems[name] = "needed together with the other two values"
    if values.get("r") is not None and not 0 <= values["r"] < 1:
        problems["r"] = "a test–retest reliability from 0 up to (not including) 1"
    if values.get("sd_baseline") is not None and values["sd_baseline"] <= 0:
        problems["sd_baseline"] = "a standard deviation above 0, in the score's unit"
    if not citation:
        problems["source"] = "say where the values come from (publication or normative sample)"
    elif len(citation) > MAX_SOURCE_CHARS:
        problems["source"] = f"at most {MAX_SOURCE_CHARS} characters"
    if problems:
        raise InvalidValues(problems)
    return Parameters(
        r=values["r"],
        sd_baseline=values["sd_baseline"],
        practice=values["practice"],
        source=source,
        citation=citation,
    )


def load(path: Path | str = DEFAULT_PATH, source: str = REFERENCE) -> dict[str, Parameters]:
    """The filled rows of a reference file: score column → Parameters.

    Raises ReferenceFileError for a missing file, a missing column, an unknown or repeated score,
    or a row that `read_values` refuses.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return _parse(path, csv.DictReader(handle), source)
    except OSError as error:
        raise ReferenceFileError(f"{path}: cannot be read ({error.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise ReferenceFileError(f"{path}: not a UTF-8 CSV file ({error})") from None


def _parse(path: Path, reader: csv.DictReader, source: str) -> dict[str, Parameters]:
    missing = [
        name for name in ("score", *VALUE_FIELDS, "source") if name not in (reader.fieldnames or ())
    ]
    if missing:
        raise ReferenceFileError(f"{path}: missing column(s) {', '.join(missing)}")
    found: dict[str, Parameters] = {}
    seen: set[str] = set()
    for row in reader:
        where = f"{path}, line {reader.line_num}"
        score = (row.get("score") or "").strip()
        if score not in scoring.ALL_SCORE_COLUMNS:
            raise ReferenceFileError(
                f"{where}: unknown score {score!r}; the scores are "
                + ", ".join(scoring.ALL_SCORE_COLUMNS)
            )
        if score in seen:
            raise ReferenceFileError(f"{where}: {score} appears twice")
        seen.add(score)
        try:
            values = read_values(
                row.get("r"), row.get("sd_baseline"), row.get("practice"), row.get("source"), source
            )
        except InvalidValues as error:
            raise ReferenceFileError(f"{where} ({score}): {error}") from None
        if values is not None:
            found[score] = values
    return found
