"""This app's reliable change method: its settings, its reference file, its researchers' values.

- `RCI_CONFIDENCE_LEVEL` (percent, default 90) and `RCI_MIN_PAIRS` (default 30) come from the
  settings (intact/config.py).
- The reference file (`RCI_REFERENCE_FILE`, default the one beside this module) is validated when
  the settings are read and loaded once per app.
- A researcher's values live in the `reliable_change_values` collection, one document per score
  (`score`, `r`, `sd_baseline`, `practice`, `citation`, `updated_at`); setting and clearing them
  is audited with the values before and after.
"""

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from flask import current_app

from intact import audit, db, scoring
from intact.reliable_change import method, reference
from intact.reliable_change.formula import RESEARCHER, Parameters

COLLECTION = "reliable_change_values"
_REFERENCE_KEY = "intact_rci_reference"
_SAMPLE_KEY = "intact_rci_sample"


class UnknownScore(LookupError):
    """No derived score has this column name."""


def reference_path(config) -> str:
    """The reference file this app reads: RCI_REFERENCE_FILE, or the one shipped with the app."""
    return config.get("RCI_REFERENCE_FILE") or str(reference.DEFAULT_PATH)


def reference_values() -> dict[str, Parameters]:
    """The reference file's filled rows, read once per app (restart to read an edited file)."""
    extensions = current_app.extensions
    if _REFERENCE_KEY not in extensions:
        extensions[_REFERENCE_KEY] = reference.load(reference_path(current_app.config))
    return extensions[_REFERENCE_KEY]


def researcher_values() -> dict[str, Parameters]:
    """The values researchers entered, by score column."""
    return {
        document["score"]: _parameters(document)
        for document in db.collection(COLLECTION).find({}, {"_id": 0})
        if document.get("score") in scoring.ALL_SCORE_COLUMNS
    }


def _parameters(document) -> Parameters:
    return Parameters(
        r=document["r"],
        sd_baseline=document["sd_baseline"],
        practice=document["practice"],
        source=RESEARCHER,
        citation=document.get("citation") or "",
    )


def _check_score(column: str) -> None:
    if column not in scoring.ALL_SCORE_COLUMNS:
        raise UnknownScore(column)


def set_values(column: str, r, sd_baseline, practice, citation) -> Parameters:
    """Store a researcher's values for one score, as typed; audited.

    Raises UnknownScore, or reference.InvalidValues naming each field that cannot be used
    (all four are required here: clearing is `clear_values`).
    """
    _check_score(column)
    values = reference.read_values(r, sd_baseline, practice, citation, RESEARCHER)
    if values is None:
        raise reference.InvalidValues({"r": "enter r, SD1, practice and their source"})
    before = researcher_values().get(column)
    db.collection(COLLECTION).update_one(
        {"score": column},
        {
            "$set": {
                "score": column,
                "r": values.r,
                "sd_baseline": values.sd_baseline,
                "practice": values.practice,
                "citation": values.citation,
                "updated_at": datetime.now(UTC),
            }
        },
        upsert=True,
    )
    audit.record(
        audit.RCI_VALUES_SET,
        score=column,
        values=_audited(values),
        replaced=_audited(before) if before else None,
    )
    return values


def clear_values(column: str) -> bool:
    """Remove a researcher's values for one score (the reference or sample applies again).

    Audited when something was removed; False when there was nothing to remove.
    """
    _check_score(column)
    before = researcher_values().get(column)
    if before is None:
        return False
    db.collection(COLLECTION).delete_one({"score": column})
    audit.record(audit.RCI_VALUES_CLEARED, score=column, removed=_audited(before))
    return True


def _audited(values: Parameters) -> dict:
    return {
        "r": values.r,
        "sd_baseline": values.sd_baseline,
        "practice": values.practice,
        "citation": values.citation,
    }


def current_method(
    read_participants: Callable[[], Iterable[list[scoring.StudySummary]]] | None,
) -> method.Method:
    """The method in force: settings, researcher and reference values, sample estimates.

    `read_participants()` yields every participant's summaries (all of them: the estimates are
    kept for the data as it is now); it is called, for one pass, only when some score has neither
    researcher nor reference values and nothing is kept for the data as it is now. None: no
    estimates, a method that can describe itself (the codebook) but not compute an RCI.
    """
    config = current_app.config
    researcher = researcher_values()
    known = reference_values()
    missing = method.columns_without_values(researcher, known)
    min_pairs = config["RCI_MIN_PAIRS"]
    if read_participants is None:
        sample = None
    else:
        sample = _sample_estimates(missing, min_pairs, read_participants) if missing else {}
    return method.Method(
        level=config["RCI_CONFIDENCE_LEVEL"] / 100,
        min_pairs=min_pairs,
        researcher=researcher,
        reference=known,
        sample=sample,
    )


def _sample_estimates(columns, min_pairs, read_participants):
    """`method.estimate`, kept per app until a test or study is added or deleted.

    Estimating reads and scores every test (about 0.7 s at 2,000 participants); one participant's
    page would otherwise pay that on every view. The version is read before the pass, so a test
    stored during it makes the next call estimate again. A pass that reads every participant
    anyway keeps its estimates here first (`SampleCollector`), so that this one has nothing to do.
    """
    key = _sample_key(columns, min_pairs)
    cached = current_app.extensions.get(_SAMPLE_KEY)
    if cached is not None and cached[0] == key:
        return cached[1]
    estimates = method.estimate(read_participants(), columns, min_pairs)
    current_app.extensions[_SAMPLE_KEY] = (key, estimates)
    return estimates


def _sample_key(columns, min_pairs) -> tuple:
    """What the kept estimates hold for: both collections' versions, the scores, the minimum."""
    return (db.version("tests"), db.version("studies"), tuple(columns), min_pairs)


class SampleCollector:
    """The sample estimates, gathered by a pass that reads and scores every participant anyway.

    The ZIP's scores pass (`summaries.ScoresPass`) feeds each participant's summaries to `add`
    and the number of tests it read to `keep`; its change.csv then finds the estimates kept, where
    `current_method` would otherwise read and score every test a second time (0.5 s of CPU at
    1,000 participants). Nothing is gathered when the estimates for the data as it is now are
    kept already or no score needs them. They are kept only if the pass read every stored test
    and neither collection changed meanwhile: exactly what `_sample_estimates` would have found.
    """

    def __init__(self):
        config = current_app.config
        self._min_pairs = config["RCI_MIN_PAIRS"]
        self._columns = method.columns_without_values(researcher_values(), reference_values())
        self._key = _sample_key(self._columns, self._min_pairs)
        cached = current_app.extensions.get(_SAMPLE_KEY)
        wanted = self._columns and (cached is None or cached[0] != self._key)
        self._estimator = method.Estimator(self._columns) if wanted else None

    def add(self, studies: list[scoring.StudySummary]) -> None:
        """Count one participant's pairs (their summaries, as `scoring.by_participant` groups)."""
        if self._estimator is not None:
            self._estimator.add(studies)

    def keep(self, tests_read: int) -> None:
        """Keep the estimates if the pass read all `tests_read` stored tests and nothing changed."""
        if self._estimator is None:
            return
        tests_version = self._key[0]
        if (
            tests_read != tests_version[0]
            or _sample_key(self._columns, self._min_pairs) != self._key
        ):
            return
        estimates = self._estimator.parameters(self._min_pairs)
        current_app.extensions[_SAMPLE_KEY] = (self._key, estimates)
