"""Everything the dashboard accepts in its query strings and forms, checked with marshmallow.

A view reads its query string with `load(XxxQueryArgsSchema, request.args)`: what it cannot use
raises `InvalidQuery`, which the dashboard answers with its 400 page naming each problem
(intact/admin/errors.py). Forms whose problems are shown beside their fields catch
marshmallow's ValidationError themselves and use `field_errors`.
"""

from datetime import date

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)
from werkzeug.exceptions import BadRequest

from intact import scoring
from intact.audit import ACTIONS
from intact.exports import EXPORTABLE_TEST_TYPES, SelectionSchema
from intact.identifiers import ParticipantIdField, StudyIdField
from intact.progress import PER_PAGE_CHOICES, SCHEDULE_FILTERS, SORTS, STUDY_STATES, GridQuery
from intact.scoring import FLAG_NAMES
from intact.studies import STUDY_TYPES

PAGE_NUMBER_MESSAGE = "The page number is a whole number from 1."


class InvalidQuery(BadRequest):
    """A query string the dashboard cannot use; `details` says what is wrong with each field."""

    def __init__(self, error: ValidationError):
        super().__init__()
        self.details = plain_errors(error)


def load(schema: type[Schema], values) -> dict:
    """`values` (a query string or form) as `schema` reads them; or InvalidQuery."""
    try:
        return schema().load(values)
    except ValidationError as error:
        raise InvalidQuery(error) from None


def plain_errors(error: ValidationError) -> list[str]:
    """marshmallow's {field: [messages]} as sentences a researcher can read."""
    messages = error.messages if isinstance(error.messages, dict) else {"": error.messages}
    found = []
    for name, problems in messages.items():
        for problem in problems if isinstance(problems, list) else [problems]:
            found.append(f"{name}: {problem}" if name else str(problem))
    return found


def field_errors(error: ValidationError) -> dict[str, str]:
    """marshmallow's errors as one sentence per form field, to show next to that field."""
    return {name: " ".join(problems) for name, problems in error.messages.items()}


def link_args(schema: type[Schema], values: dict, **changes) -> dict:
    """Query-string arguments for `values` with `changes`, each field's default left out.

    What a page's links (pager, sort headings, CSV) carry, so its address stays short.
    """
    defaults = schema().load({})
    return {
        name: value.isoformat() if isinstance(value, date) else value
        for name, value in {**values, **changes}.items()
        if value not in ("", None) and value != defaults.get(name)
    }


class QuerySchema(Schema):
    """A query string or form: unknown fields ignored, an empty field taken as not sent."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _drop_blank_fields(self, data, **kwargs):
        # A filter form sends every field; an empty one means "any" (the field's default).
        return {key: value for key, value in data.items() if value.strip()}


def _one_of(choices, what):
    return validate.OneOf(choices, error=f"Unknown {what} {{input!r}}.")


def _page_number() -> fields.Integer:
    return fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, error=PAGE_NUMBER_MESSAGE),
        error_messages={"invalid": PAGE_NUMBER_MESSAGE},
    )


class ProgressQueryArgsSchema(QuerySchema):
    """Search, filters, order and page of the progress grid (all optional)."""

    q = fields.String(load_default="", validate=validate.Length(max=200))
    study_type = fields.String(load_default="", validate=_one_of(("", *STUDY_TYPES), "study type"))
    state = fields.String(load_default="", validate=_one_of(("", *STUDY_STATES), "state"))
    schedule = fields.String(
        load_default="", validate=_one_of(("", *SCHEDULE_FILTERS), "schedule state")
    )
    sort = fields.String(load_default="participant", validate=_one_of(SORTS, "order"))
    page = _page_number()
    per_page = fields.Integer(
        load_default=50, validate=_one_of(PER_PAGE_CHOICES, "number of rows per page")
    )


def grid_query(args) -> GridQuery:
    """The grid query these query-string arguments ask for; or InvalidQuery."""
    loaded = load(ProgressQueryArgsSchema, args)
    return GridQuery(
        search=loaded["q"].strip(),
        study_type=loaded["study_type"],
        state=loaded["state"],
        schedule=loaded["schedule"],
        sort=loaded["sort"],
        page=loaded["page"],
        per_page=loaded["per_page"],
    )


def grid_args(query: GridQuery, **changes) -> dict:
    """The query-string arguments for `query` with `changes`, leaving out the defaults."""
    values = {
        "q": query.search,
        "study_type": query.study_type,
        "state": query.state,
        "schedule": query.schedule,
        "sort": query.sort,
        "page": query.page,
        "per_page": query.per_page,
    }
    return link_args(ProgressQueryArgsSchema, values, **changes)


class DueQueryArgsSchema(QuerySchema):
    """Which page of each list of the Due page (overdue, due now)."""

    overdue_page = _page_number()
    due_page = _page_number()


class RefusedQueryArgsSchema(QuerySchema):
    """Which refused submissions to list: one study's, and which page."""

    study_id = StudyIdField(load_default="", validate=validate.Length(max=100))
    page = _page_number()


class AuditQueryArgsSchema(QuerySchema):
    """Which audit entries to show: an action, a client address, a period of whole days, a page."""

    action = fields.String(
        load_default="",
        validate=validate.OneOf(["", *ACTIONS], error="Choose an action from the list."),
    )
    client = fields.String(load_default="", validate=validate.Length(max=100))
    since = fields.Date(load_default=None, error_messages={"invalid": "A date like 2026-11-20."})
    until = fields.Date(load_default=None, error_messages={"invalid": "A date like 2026-11-20."})
    page = _page_number()


class ScoresQueryArgsSchema(QuerySchema):
    """The scores page: every test, or (flagged=exclude) those without a data-quality flag."""

    flagged = fields.String(
        load_default="",
        validate=validate.OneOf(["", "exclude"], error="Use flagged=exclude or leave it out."),
    )


class FlaggedQueryArgsSchema(QuerySchema):
    """The data-quality page: one flag (or any), and which page of the list."""

    flag = fields.String(
        load_default="",
        validate=validate.OneOf(
            ["", *FLAG_NAMES], error="There is no data-quality flag called {input!r}."
        ),
    )
    page = _page_number()


def _count(label: str, default: int = 1) -> fields.Integer:
    return fields.Integer(
        load_default=default,
        validate=validate.Range(min=0, max=1000, error=f"{label}: a whole number from 0 to 1000."),
        error_messages={"invalid": f"{label}: a whole number from 0 to 1000."},
    )


class CreateStudiesFormSchema(Schema):
    """The create-studies form: ids typed in (the file comes separately) and the two counts."""

    class Meta:
        unknown = EXCLUDE

    participant_ids = fields.String(load_default="")
    baselines_per_participant = _count("Baseline studies per participant")
    followups_per_participant = _count("Follow-up studies per participant")

    @validates_schema
    def _at_least_one_study(self, data, **kwargs):
        if data.get("baselines_per_participant") == 0 == data.get("followups_per_participant"):
            raise ValidationError(
                "Choose at least one baseline or follow-up study per participant.",
                "followups_per_participant",
            )


class DownloadFormSchema(QuerySchema, SelectionSchema):
    """A download form: only one participant's data, or (field left empty) everyone's; a window
    (`since`), de-identified or not."""

    participant_id = ParticipantIdField(load_default=None)


DUE_DATE_MESSAGE = "Give the due date as a date, such as 2026-07-09."


class DueDateFormSchema(Schema):
    """The due-date form of a follow-up: a date to set, or `clear` to go back to the schedule."""

    class Meta:
        unknown = EXCLUDE

    due_date = fields.Date(
        load_default=None,
        error_messages={"invalid": DUE_DATE_MESSAGE},
        validate=validate.Range(
            min=date(2000, 1, 1), max=date(2199, 12, 31), error="Give a date from 2000 to 2199."
        ),
    )
    clear = fields.String(load_default="")

    @pre_load
    def _drop_blank_fields(self, data, **kwargs):
        return {key: value for key, value in data.items() if value.strip()}

    @validates_schema
    def _a_date_unless_clearing(self, data, **kwargs):
        if not data.get("clear") and data.get("due_date") is None:
            raise ValidationError(DUE_DATE_MESSAGE, "due_date")


class TestTypeDownloadFormSchema(DownloadFormSchema):
    """The one-test download form: which test, and optionally one participant."""

    test_type = fields.String(
        required=True,
        validate=validate.OneOf(EXPORTABLE_TEST_TYPES, error="Choose a test from the list."),
        error_messages={"required": "Choose a test from the list."},
    )


class ReliableDeclinesQueryArgsSchema(QuerySchema):
    """The reliable decline list: one score (or any), and which page."""

    score = fields.String(
        load_default="", validate=_one_of(("", *scoring.ALL_SCORE_COLUMNS), "score")
    )
    page = _page_number()


class ReliableChangeValuesFormSchema(Schema):
    """A researcher's r, SD1, practice and source of one score, as typed (read by
    intact.reliable_change.reference.read_values, like the reference file)."""

    class Meta:
        unknown = EXCLUDE

    r = fields.String(load_default="", validate=validate.Length(max=40))
    sd_baseline = fields.String(load_default="", validate=validate.Length(max=40))
    practice = fields.String(load_default="", validate=validate.Length(max=40))
    source = fields.String(load_default="")


# --- a participant's life: the participant page's forms (intact/admin/lifecycle.py) ------------

REASON_NEEDED = "Say why: the reason goes into the audit log."


def _reason_field(required: bool = True) -> fields.String:
    extra = {"required": True} if required else {"load_default": ""}
    return fields.String(
        validate=validate.Length(max=1000, error="At most 1,000 characters."),
        error_messages={"required": REASON_NEEDED},
        **extra,
    )


class ReasonFormSchema(QuerySchema):
    """Withdraw a participant, or deactivate and reissue a link: the reason (required)."""

    reason = _reason_field()


class EraseFormSchema(ReasonFormSchema):
    """Erase a participant: the reason, and their id typed again as confirmation."""

    confirm_participant_id = ParticipantIdField(
        required=True, error_messages={"required": "Type the participant id to confirm."}
    )


class AddStudiesFormSchema(QuerySchema):
    """More studies for one participant: how many baselines and follow-ups, and why."""

    baselines = _count("Baselines", default=0)
    followups = _count("Follow-ups", default=0)
    reason = _reason_field(required=False)

    @validates_schema
    def _at_least_one_study(self, data, **kwargs):
        if not data.get("baselines") and not data.get("followups"):
            raise ValidationError("Ask for at least one study.", "followups")


class NoteFormSchema(QuerySchema):
    """A note about a participant."""

    text = fields.String(
        required=True, error_messages={"required": "Write the note first: it is empty."}
    )
