"""Admin API for researchers and their scripts: create studies, download studies and results.

Paths, form fields and answers are the original backend's, so existing scripts keep working.
Every route answers with and without a trailing slash, without a redirect. Authentication
(intact/accounts/guard.py): the `password` form field (ADMIN_PASSWORD), an API token
(`Authorization: Bearer …`), or a dashboard session with its CSRF token.
"""

from flask_smorest import Blueprint, abort
from flask_smorest.fields import Upload
from marshmallow import EXCLUDE, Schema, fields, pre_load, validate
from webargs.flaskparser import FlaskParser
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict

from intact import audit, downloads, exports, participant_lists, studies
from intact.accounts.permissions import Permission, requires
from intact.errors import error_response
from intact.identifiers import ParticipantIdField

VALIDATION_STATUS = 400


class FormParser(FlaskParser):
    """webargs' Flask parser, plus a multipart location holding text fields and files together.

    Its errors are 400s whose message names each offending field, like the rest of this API.
    """

    __location_map__ = {**FlaskParser.__location_map__, "form_and_files": "load_form_and_files"}

    def load_form_and_files(self, req, schema):
        """A multipart form's text fields and files, as one mapping."""
        return MultiDictProxy(CombinedMultiDict([req.form, req.files]), schema)

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        """Abort with a message that names every field and what is wrong with it."""
        problems = []
        for location_errors in error.messages.values():
            for name, messages in location_errors.items():
                problems.append(f"{name}: {' '.join(str(m) for m in messages)}")
        abort(
            error_status_code or VALIDATION_STATUS,
            message=" ".join(problems) or "The form is not valid.",
            errors=error.messages,
            headers=error_headers,
        )


class AdminBlueprint(Blueprint):
    """A blueprint whose arguments may also come from a multipart form with files."""

    ARGUMENTS_PARSER = FormParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "form_and_files": "multipart/form-data",
    }


bp = AdminBlueprint(
    "admin_api",
    __name__,
    description="For researchers' scripts (the original backend's admin endpoints). Every "
    "request sends the admin password as the `password` form field; a wrong or missing "
    'password gets 401 {"message": "Wrong admin password"}.',
)

# --- schemas -----------------------------------------------------------------------------------


class AdminFormSchema(Schema):
    """Fields every admin form may carry; other fields are ignored, as the original did."""

    class Meta:
        unknown = EXCLUDE

    password = fields.String(
        load_only=True,
        metadata={"description": "ADMIN_PASSWORD. Not needed with a dashboard session."},
    )

    @pre_load
    def drop_blank_fields(self, data, **kwargs):
        """An empty form field means "not given": defaults and optional filters apply."""
        return {
            key: data[key]
            for key in data
            if not (isinstance(data[key], str) and not data[key].strip())
        }


class StudyCountsSchema(AdminFormSchema):
    """How many studies of each type every participant gets."""

    baselines_per_participant = fields.Integer(
        load_default=1, metadata={"description": "Baseline studies per participant (default 1)."}
    )
    followups_per_participant = fields.Integer(
        load_default=1, metadata={"description": "Follow-up studies per participant (default 1)."}
    )


class CreateStudiesFormSchema(StudyCountsSchema):
    """POST /studies form."""

    participant_ids = fields.String(
        load_default="",
        metadata={
            "description": "Participant ids, one per line: letters and digits only, each "
            "participant once. Blank lines are ignored; a CSV pasted from a spreadsheet "
            "(comma, semicolon or tab) works, and a first line naming the id column "
            "(participant_id, Subject, ID, …) is taken as a header."
        },
    )


class UploadStudiesFormSchema(StudyCountsSchema):
    """POST /studies/upload-file form."""

    participant_ids_file = Upload(
        required=True,
        metadata={
            "description": "A .txt file with one participant id per line, or a .csv / .tsv "
            "from a spreadsheet (comma, semicolon or tab; a header row naming the id column "
            "is optional), in UTF-8 or UTF-16 with BOM."
        },
    )


class StudySchema(Schema):
    """A new study, as the original backend listed it."""

    study_id = fields.String(metadata={"description": "8 lowercase letters by default."})
    participant_id = fields.String()
    url = fields.String(metadata={"description": "STUDY_URL_PREFIX + '/' + study_id"})
    study_type = fields.String(metadata={"description": "baseline or followup"})
    followup_number = fields.Integer(
        metadata={
            "description": "Follow-up k (1, 2, … per participant, continuing after the ones "
            "the participant has); absent for baselines. The same k on every page and export."
        }
    )


class ParticipantFilterSchema(AdminFormSchema, exports.SelectionSchema):
    """A download's form: optionally one participant, a window (`since`), de-identification."""

    participant_id = ParticipantIdField(
        load_default=None,
        metadata={"description": "Only this participant's data (optional)."},
    )


class TestTypeDownloadSchema(ParticipantFilterSchema):
    """POST /tests/single-test-type/download-file form."""

    test_type = fields.String(
        required=True,
        validate=validate.OneOf(exports.EXPORTABLE_TEST_TYPES),
        metadata={"description": "One of the six test types, or unclassified."},
    )


FILE = {"type": "string", "format": "binary"}
DOWNLOAD_HEADERS = {
    "Content-Disposition": {
        "description": "attachment; filename=... (and filename*=UTF-8''... for a name "
        "outside ASCII, RFC 6266)",
        "schema": {"type": "string"},
    }
}
UNAUTHORIZED = {
    "response": "UNAUTHORIZED",
    "description": "Wrong or missing admin password, or a bad, expired or revoked API token.",
}
# The `password` form field, or an API token (Swagger UI's Authorize button sends it).
SECURITY = [{"bearerAuth": []}, {}]


def file_response(content_type: str, description: str):
    """Document a download's answer: a streamed file with its name, 401, or 404 for nobody."""

    def document(view):
        view = bp.doc(security=SECURITY)(view)
        view = bp.alt_response(401, **UNAUTHORIZED)(view)
        view = bp.alt_response(
            404,
            response="NOT_FOUND",
            description="participant_id names nobody: no study belongs to it (the message says "
            "which id), rather than a file with headers only.",
        )(view)
        return bp.response(
            200, FILE, content_type=content_type, description=description, headers=DOWNLOAD_HEADERS
        )(view)

    return document


# --- views -------------------------------------------------------------------------------------


def _create_studies(participant_ids, form) -> list[dict]:
    try:
        created = studies.create_studies(
            participant_ids,
            baselines=form["baselines_per_participant"],
            followups=form["followups_per_participant"],
        )
    except studies.InvalidBatch as error:
        _refuse(error)
    audit.record(
        audit.STUDIES_CREATED,
        count=len(created),
        participants=len(participant_ids),
        batch_id=created[0]["batch_id"] if created else None,
        via="admin API",
    )
    return created


@bp.errorhandler(studies.ParticipantNotFound)
def _no_such_participant(error: studies.ParticipantNotFound):
    """A participant filter that matches nobody: 404 naming the id, not a header-only file."""
    return error_response(
        404,
        error.message,
        code=404,
        status="Not Found",
        errors={"form": {"participant_id": [error.message]}},
    )


def _refuse(error: studies.InvalidBatch):
    """400 with the batch's problem; errors.lines lists the offending lines, if any."""
    details = {"errors": {"lines": error.lines}} if error.lines else {}
    abort(VALIDATION_STATUS, message=error.message, **details)


@bp.route("/studies", methods=["POST"], strict_slashes=False)
@requires(Permission.MANAGE_STUDIES)
@bp.arguments(CreateStudiesFormSchema, location="form", error_status_code=VALIDATION_STATUS)
@bp.response(200, StudySchema(many=True))
@bp.alt_response(401, **UNAUTHORIZED)
@bp.doc(security=SECURITY)
@bp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE", description="Over MAX_CONTENT_LENGTH.")
def create_studies(form):
    """Create studies for a list of participant ids

    Each participant gets `baselines_per_participant` baseline and `followups_per_participant`
    follow-up studies. All or nothing: on a 400 nothing was created; the message names the
    offending lines. A request may create at most MAX_STUDIES_PER_REQUEST studies.
    """
    try:
        participant_ids = participant_lists.parse(form["participant_ids"])
    except studies.InvalidBatch as error:
        _refuse(error)
    return _create_studies(participant_ids, form)


@bp.route("/studies/upload-file", methods=["POST"], strict_slashes=False)
@requires(Permission.MANAGE_STUDIES)
@bp.arguments(
    UploadStudiesFormSchema, location="form_and_files", error_status_code=VALIDATION_STATUS
)
@bp.response(200, StudySchema(many=True))
@bp.alt_response(401, **UNAUTHORIZED)
@bp.doc(security=SECURITY)
@bp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE", description="Over MAX_CONTENT_LENGTH.")
def upload_studies_file(form):
    """Create studies for the participant ids in an uploaded file

    The same rules as POST /studies; the file is a .txt or .csv in UTF-8.
    """
    upload = form["participant_ids_file"]
    try:
        participant_ids = participant_lists.read_file(upload.read(), upload.filename)
    except studies.InvalidBatch as error:
        _refuse(error)
    return _create_studies(participant_ids, form)


@bp.route("/studies/download-file", methods=["POST"], strict_slashes=False)
@requires(Permission.DOWNLOAD_DEIDENTIFIED)
@bp.arguments(ParticipantFilterSchema, location="form", error_status_code=VALIDATION_STATUS)
@file_response("text/csv", "studies.csv")
def download_studies(form):
    """Download every study as studies.csv

    Columns: study_id, participant_id, study_type, followup_number, url, created_at,
    first_opened_at, last_seen_at, batch_id, withdrawn_at, deactivated_at, replaces, withdrawn,
    then what the dashboard shows when the file is made: state, tests_received, last_activity,
    due_date, due_date_set_by_hand, schedule_state. Timestamps are ISO 8601 UTC.
    """
    return downloads.attachment(downloads.studies_csv(form["participant_id"], **_options(form)))


@bp.route("/tests/single-test-type/download-file", methods=["POST"], strict_slashes=False)
@requires(Permission.DOWNLOAD_DEIDENTIFIED)
@bp.arguments(TestTypeDownloadSchema, location="form", error_status_code=VALIDATION_STATUS)
@file_response("text/csv", "<test_type>.csv")
def download_test_type(form):
    """Download one test type's results as <test_type>.csv

    One row per answer (with question_number) for list tests, one row per test for immediate
    and delayed recall. The ZIP's codebook.csv describes every column.
    """
    return downloads.attachment(
        downloads.test_type_csv(form["test_type"], form["participant_id"], **_options(form))
    )


@bp.route("/tests/zip-archive/download-file", methods=["POST"], strict_slashes=False)
@requires(Permission.DOWNLOAD_DEIDENTIFIED)
@bp.arguments(ParticipantFilterSchema, location="form", error_status_code=VALIDATION_STATUS)
@file_response(
    "application/zip",
    "A ZIP of the scores, studies.csv, one CSV per test type, codebook.csv, datapackage.json.",
)
def download_zip_archive(form):
    """Download everything as a ZIP of CSV files

    summary.csv, change.csv and reliable_change.csv (the derived scores), studies.csv, one CSV
    per test type (header only when there is no data), unclassified.csv, codebook.csv (every
    column, its type and unit; the window and, de-identified, what was removed) and
    datapackage.json (a Frictionless Data Package describing every CSV).
    """
    return downloads.attachment(downloads.zip_archive(form["participant_id"], **_options(form)))


@bp.route("/tests/summary/download-file", methods=["POST"], strict_slashes=False)
@requires(Permission.DOWNLOAD_DEIDENTIFIED)
@bp.arguments(ParticipantFilterSchema, location="form", error_status_code=VALIDATION_STATUS)
@file_response("text/csv", "summary.csv")
def download_summary(form):
    """Download the derived scores as summary.csv

    One row per study: participant, study type, then for each test type the submission scored,
    its scores (accuracy, median reaction time, recall score, ...) and its data-quality flags.
    The ZIP's codebook.csv gives every column's formula and unit; the ZIP also holds this file
    and change.csv (each score's change from baseline to every follow-up).
    """
    return downloads.attachment(downloads.summary_csv(form["participant_id"], **_options(form)))


@bp.route("/tests/redcap/download-file", methods=["POST"], strict_slashes=False)
@requires(Permission.DOWNLOAD_DEIDENTIFIED)
@bp.arguments(ParticipantFilterSchema, location="form", error_status_code=VALIDATION_STATUS)
@file_response("application/zip", "A ZIP of REDCap import, data dictionary, events and mapping.")
def download_redcap(form):
    """Download the scores as REDCap-ready files (ZIP)

    For a longitudinal REDCap project: redcap_import.csv (one row per study: record_id,
    redcap_event_name baseline_arm_1 / followup_<k>_arm_1, every score, flag and change),
    redcap_data_dictionary.csv (REDCap's data dictionary columns), redcap_events.csv,
    redcap_instrument_event_mapping.csv and README.txt (the order to upload them in).
    """
    return downloads.attachment(downloads.redcap_zip(form["participant_id"], **_options(form)))


@bp.route("/tests/workbook/download-file", methods=["POST"], strict_slashes=False)
@requires(Permission.DOWNLOAD_DEIDENTIFIED)
@bp.arguments(ParticipantFilterSchema, location="form", error_status_code=VALIDATION_STATUS)
@file_response(downloads.XLSX_MIMETYPE, "An Excel workbook (.xlsx).")
def download_workbook(form):
    """Download everything as one Excel workbook (.xlsx)

    Sheets: studies, one per test type and unclassified (the rows of the CSV exports), summary
    (summary.csv), change (change.csv) and codebook. Numbers are numbers; text that a spreadsheet
    could run as a formula starts with a single quote.
    """
    return downloads.attachment(downloads.workbook(form["participant_id"], **_options(form)))


def _options(form: dict) -> dict:
    return exports.options_of(form)
