"""De-identified downloads: every table with its identifiers replaced, reduced or removed.

What happens to each kind of column (the codebook of a de-identified download lists the same):

- participant ids become keyed pseudonyms (`participant_pseudonym`, intact/pseudonyms.py): stable
  across downloads, so a baseline and its follow-ups still link up;
- study ids are credentials (the last part of a participant's link): they become study
  pseudonyms (`study_pseudonym`; a reissued link's `replaces`, `replaces_study_pseudonym`), and
  the links (`url`) and batch ids are removed; a study is told by its participant's pseudonym,
  its type and its follow-up number;
- test ids become test pseudonyms (the id holds its creation time);
- `device_info` (the whole user-agent string) becomes `browser` and `operating_system`
  families (intact/user_agents.py);
- notes, and every field the schemas do not declare (unknown fields in answers or submissions,
  the raw JSON of unclassified results), are removed: nobody has checked what they hold;
- with `days_since_baseline`, every date-time becomes the days since the participant's baseline
  started (the reference baseline of change.csv), to 0.001 day; empty without a baseline.
"""

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, time

from intact import pseudonyms, user_agents
from intact.exports.tables import EXTRA_FIELD_DOC, RAW_RESULT, Column, Table, as_is

DAY_SECONDS = 86_400
DAY_DECIMALS = 3
BROWSER, OPERATING_SYSTEM = "browser", "operating_system"
# Columns holding a study id under another name (a reissued link's `replaces`): pseudonymised
# like every `*study_id`, as study ids are credentials.
STUDY_ID_COLUMNS = {"replaces": "replaces_study_pseudonym"}
# Columns that are dropped whatever table they are in.
REMOVED = {"url": "the study link (a credential)", "batch_id": "the creation batch's id"}
PSEUDONYM_DOC = (
    "Keyed pseudonym of the {what} (HMAC-SHA-256 under this server's PSEUDONYM_KEY, first 80 "
    "bits in hex after '{letter}'): the same {what} has the same pseudonym in every download."
)


def _pseudonym_column(name: str, what: str, letter: str) -> Column:
    return Column(name, PSEUDONYM_DOC.format(what=what, letter=letter))


class Deidentifier:
    """Turns a download's tables into their de-identified form; remembers what it removed.

    `baseline_starts` ({participant_id: when their baseline started}) is needed for
    `days_since_baseline`: `summaries.ScoresPass(..., baseline_starts=True)` collects it.
    """

    def __init__(self, days_since_baseline: bool = False, baseline_starts: dict | None = None):
        self.codes = pseudonyms.Pseudonymiser()
        self.days_since_baseline = days_since_baseline
        self.baseline_starts = baseline_starts if baseline_starts is not None else {}
        self.removed: dict[str, list[str]] = {}

    def table(self, table: Table) -> Table:
        """The de-identified version of one table: its columns renamed, split or removed."""
        plan, columns = self._planned(table)
        participant_at = next(
            (i for i, c in enumerate(table.columns) if c.name == "participant_id"), None
        )
        renamed = {
            old.name: news[0] for old, (_, news) in zip(table.columns, plan, strict=True) if news
        }
        keys = tuple(renamed[name].name for name in table.primary_key if name in renamed)
        foreign = tuple(
            (renamed[column].name, resource, _RENAMED_KEYS.get(field, field))
            for column, resource, field in table.foreign_keys
            if column in renamed
        )

        def rows(convert: Callable) -> Iterator[list]:
            # The steps need raw values (datetimes, ids): `convert` comes after them.
            for row in table.rows(as_is):
                owner = row[participant_at] if participant_at is not None else None
                yield [convert(value) for step, _ in plan for value in step(row, owner)]

        return Table(table.name, columns, rows, primary_key=keys, foreign_keys=foreign)

    def converter(self, table: Table) -> tuple[tuple[Column, ...], Callable[[dict], dict]]:
        """(the de-identified columns, convert) for rows of `table` given as {column: value}."""
        plan, columns = self._planned(table)
        names = [column.name for column in table.columns]
        new_names = [column.name for column in columns]

        def convert(values: dict) -> dict:
            row = [values.get(name) for name in names]
            owner = values.get("participant_id")
            converted = [value for step, _ in plan for value in step(row, owner)]
            return dict(zip(new_names, converted, strict=True))

        return columns, convert

    def _planned(self, table: Table):
        """Each column's step, and the columns they make; notes what this table loses."""
        plan = [self._plan(table, index, column) for index, column in enumerate(table.columns)]
        columns = tuple(column for step in plan for column in step[1])
        dropped = [
            column.name for column, step in zip(table.columns, plan, strict=True) if not step[1]
        ]
        if dropped:
            self.removed[table.file_name] = dropped
        return plan, columns

    def _plan(self, table: Table, index: int, column: Column):  # noqa: PLR0911 - one per kind
        """(convert(row, participant) -> values, the columns they fill) for one column."""
        name = column.name
        if name in REMOVED or column.description == EXTRA_FIELD_DOC or name == RAW_RESULT:
            return _nothing, ()
        if name == "participant_id":
            new = _pseudonym_column("participant_pseudonym", "participant", "p")
            return self._coded(index, self.codes.participant), (new,)
        if name.endswith("study_id") or name in STUDY_ID_COLUMNS:
            renamed = STUDY_ID_COLUMNS.get(name) or name.replace("study_id", "study_pseudonym")
            new = _pseudonym_column(renamed, "study", "s")
            return self._coded(index, self.codes.study), (new,)
        if name.endswith("test_id"):
            new = _pseudonym_column(name.replace("test_id", "test_pseudonym"), "test", "t")
            return self._coded(index, self.codes.test), (new,)
        if name == "device_info":
            return self._device(index), (
                Column(BROWSER, "The browser's family (ua-parser), e.g. Chrome, Mobile Safari."),
                Column(
                    OPERATING_SYSTEM, "The device's operating system family, e.g. Windows, iOS."
                ),
            )
        # A date (a follow-up's due date) dates the baseline as a timestamp does: days too.
        if self.days_since_baseline and column.value_type.startswith(("timestamp", "date")):
            new = Column(
                f"{name}_days",
                f"{column.description} As days since the participant's baseline started "
                "(the reference baseline of change.csv), to 0.001 day; empty without one.",
                "number or empty",
                "days",
            )
            return self._days(index), (new,)
        return (lambda row, owner, i=index: (row[i],)), (column,)

    def _coded(self, index: int, code: Callable) -> Callable:
        return lambda row, owner: (code(row[index]),)

    def _device(self, index: int) -> Callable:
        def convert(row, owner):
            found = user_agents.device(row[index])
            return (found.browser, found.os)

        return convert

    def _days(self, index: int) -> Callable:
        """Days since the baseline of a timestamp, or of a date (YYYY-MM-DD: its midnight UTC)."""

        def convert(row, owner):
            moment, start = row[index], self.baseline_starts.get(owner)
            if isinstance(moment, str) and moment:
                moment = _day_start(moment)
            if not isinstance(moment, datetime) or start is None:
                return (None,)
            days = (_aware(moment) - _aware(start)).total_seconds() / DAY_SECONDS
            return (round(days, DAY_DECIMALS),)

        return convert

    def notes(self) -> list[tuple[str, str]]:
        """(topic, text) for the codebook: exactly what was removed or transformed."""
        found = [
            (
                "de-identified",
                "This download is de-identified: identifiers were replaced, "
                "reduced or removed as the following rows say, in every file.",
            ),
            (
                "participant_id",
                "Replaced by participant_pseudonym ("
                + PSEUDONYM_DOC.format(what="participant", letter="p")
                + ").",
            ),
            (
                "study_id",
                "Study ids are credentials: replaced by study_pseudonym (also "
                "baseline_/followup_study_pseudonym in change.csv, and replaces_study_pseudonym "
                "for the link a reissued one replaces); a study is told by the "
                "participant's pseudonym, study_type and followup_number.",
            ),
            ("test_id", "Replaced by test_pseudonym (also <test>_test_pseudonym in summary.csv)."),
            ("url, batch_id", "Removed: the study links (credentials) and creation batch ids."),
            ("device_info", "Reduced to browser and operating_system families (ua-parser)."),
            (
                "notes",
                "Removed, with every field the schemas do not declare and the raw results "
                "of unclassified tests: nobody has checked what they hold.",
            ),
        ]
        if self.days_since_baseline:
            found.append(
                (
                    "date-times",
                    "Every date-time column <name> is <name>_days: days since the "
                    "participant's baseline started (change.csv's reference baseline).",
                ),
            )
        for file_name, names in sorted(self.removed.items()):
            found.append((f"removed from {file_name}", ", ".join(names)))
        return found


# Keys of other tables renamed by de-identification (foreign keys point at the new names).
_RENAMED_KEYS = {"study_id": "study_pseudonym", "test_id": "test_pseudonym"}


def _nothing(row, owner) -> tuple:
    return ()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def tables(deidentifier: Deidentifier | None, found: Iterable[Table]) -> Iterator[Table]:
    """The tables as they are, or de-identified."""
    for table in found:
        yield table if deidentifier is None else deidentifier.table(table)


def _day_start(text: str) -> datetime | None:
    """Midnight UTC of a YYYY-MM-DD day as exports write it; None for anything else."""
    try:
        return datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)
    except ValueError:
        return None
