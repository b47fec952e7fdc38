"""What the dashboard accepts in its query strings and forms, checked with marshmallow."""

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

from intact.exports import EXPORTABLE_TEST_TYPES
from intact.identifiers import ParticipantIdField, StudyIdField
from intact.progress import PER_PAGE_CHOICES, SORTS, STUDY_STATES, GridQuery
from intact.studies import STUDY_TYPES


def _one_of(choices, what):
    return validate.OneOf(choices, error=f"Unknown {what} {{input!r}}.")


class ProgressQueryArgsSchema(Schema):
    """Search, filters, order and page of the progress grid (all optional)."""

    class Meta:
        unknown = EXCLUDE

    q = fields.String(load_default="", validate=validate.Length(max=200))
    study_type = fields.String(load_default="", validate=_one_of(("", *STUDY_TYPES), "study type"))
    state = fields.String(load_default="", validate=_one_of(("", *STUDY_STATES), "state"))
    sort = fields.String(load_default="participant", validate=_one_of(SORTS, "order"))
    page = fields.Integer(
        load_default=1, validate=validate.Range(min=1, error="The page number starts at 1.")
    )
    per_page = fields.Integer(
        load_default=50, validate=_one_of(PER_PAGE_CHOICES, "number of rows per page")
    )


def grid_query(args) -> GridQuery:
    """The grid query these query-string arguments ask for; raise ValidationError."""
    loaded = ProgressQueryArgsSchema().load(args)
    return GridQuery(
        search=loaded["q"].strip(),
        study_type=loaded["study_type"],
        state=loaded["state"],
        sort=loaded["sort"],
        page=loaded["page"],
        per_page=loaded["per_page"],
    )


def plain_errors(error: ValidationError) -> list[str]:
    """marshmallow's {field: [messages]} as sentences a researcher can read."""
    messages = error.messages if isinstance(error.messages, dict) else {"": error.messages}
    found = []
    for name, problems in messages.items():
        for problem in problems if isinstance(problems, list) else [problems]:
            found.append(f"{name}: {problem}" if name else str(problem))
    return found


def grid_args(query: GridQuery, **changes) -> dict:
    """The query-string arguments for `query` with `changes`, leaving out the defaults."""
    values = {
        "q": query.search,
        "study_type": query.study_type,
        "state": query.state,
        "sort": query.sort,
        "page": query.page,
        "per_page": query.per_page,
        **changes,
    }
    defaults = ProgressQueryArgsSchema().load({})
    return {name: value for name, value in values.items() if value != defaults[name]}


class RefusedQueryArgsSchema(Schema):
    """Which refused submissions to list: one study's, and which page."""

    class Meta:
        unknown = EXCLUDE

    study_id = StudyIdField(load_default="", validate=validate.Length(max=100))
    page = fields.Integer(
        load_default=1, validate=validate.Range(min=1, error="The page number starts at 1.")
    )


def _count(label: str) -> fields.Integer:
    return fields.Integer(
        load_default=1,
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


def field_errors(error: ValidationError) -> dict[str, str]:
    """marshmallow's errors as one sentence per form field, to show next to that field."""
    return {name: " ".join(problems) for name, problems in error.messages.items()}


class DownloadFormSchema(Schema):
    """A download form: only one participant's data, or (field left empty) everyone's."""

    class Meta:
        unknown = EXCLUDE

    participant_id = ParticipantIdField(load_default=None)

    @pre_load
    def _drop_blank_fields(self, data, **kwargs):
        return {key: value for key, value in data.items() if value.strip()}


class TestTypeDownloadFormSchema(DownloadFormSchema):
    """The one-test download form: which test, and optionally one participant."""

    test_type = fields.String(
        required=True,
        validate=validate.OneOf(EXPORTABLE_TEST_TYPES, error="Choose a test from the list."),
        error_messages={"required": "Choose a test from the list."},
    )
