"""View helper for the create-studies form: what was typed or uploaded, or why it cannot be used."""

from flask import current_app, request
from marshmallow import ValidationError

from intact import participant_lists, studies
from intact.admin import pages, schemas

TEXT_FIELD = "participant_ids"
FILE_FIELD = "participant_ids_file"
FORM_ERROR = "form"  # a problem with the whole request rather than one field


class FormErrors(Exception):
    """The form cannot be used as sent; `errors` maps a field name to a sentence about it."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


def batch_from_request(form, files) -> tuple[list[str], int, int]:
    """Participant ids (typed or from the uploaded file) and the two counts; or FormErrors."""
    try:
        fields = schemas.CreateStudiesFormSchema().load(form)
    except ValidationError as error:
        raise FormErrors(schemas.field_errors(error)) from None
    upload = files.get(FILE_FIELD)
    has_file = upload is not None and bool(upload.filename)
    typed = fields[TEXT_FIELD].strip()
    if has_file and typed:
        raise FormErrors({TEXT_FIELD: "Use the text box or a file, not both: empty one of them."})
    if not has_file and not typed:
        raise FormErrors({TEXT_FIELD: "Type at least one participant id, or choose a file."})
    source = FILE_FIELD if has_file else TEXT_FIELD
    try:
        if has_file:
            participant_ids = participant_lists.read_file(upload.read(), upload.filename)
        else:
            participant_ids = participant_lists.parse(typed)
    except studies.InvalidBatch as error:
        raise FormErrors({source: error.message}) from None
    if not participant_ids:
        raise FormErrors({source: "No participant id found: the list only has blank lines."})
    return (
        participant_ids,
        fields["baselines_per_participant"],
        fields["followups_per_participant"],
    )


RELOGIN_MESSAGE = (
    "Your session has ended, so nothing was created. Log in again below: the list is kept (a "
    "chosen file must be chosen again)."
)


def create_form(errors_by_field: dict[str, str], status: int, values=None, relogin=False):
    """The create-studies form with these errors and values; `relogin`: it logs in first."""
    return pages.render_page(
        "admin/create.html",
        "admin/partials/_create_form.html",
        status,
        form_errors=errors_by_field,
        values=values or {},
        relogin=relogin,
        shared_password=current_app.config["ADMIN_PASSWORD_ENABLED"],
        max_studies=current_app.config["MAX_STUDIES_PER_REQUEST"],
    )


def relogin_form():
    """The form as sent after the session ended: filled in, logging in first, nothing created."""
    return create_form(
        {FORM_ERROR: RELOGIN_MESSAGE},
        422 if pages.is_htmx() else 401,
        request.form,
        relogin=True,
    )


def carried(form) -> bool:
    """Whether a login post carries the create-studies form (sent after its session ended)."""
    return TEXT_FIELD in form
