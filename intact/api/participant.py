"""The participant front-end's API: check a study link, store a finished test.

The front-end is deployed already and its behaviour is fixed (see docs/architecture.md and the
frontend-contract samples): every status but 200 is a failure to it, and it calls from another
origin, so CORS and a preflight that never redirects matter as much as the JSON.
"""

import json
import logging
from http import HTTPStatus
from pathlib import Path

from flask import current_app, request
from flask.views import MethodView
from flask_cors import CORS
from flask_limiter import RateLimitExceeded
from flask_smorest import Blueprint, abort
from flask_smorest.error_handler import ErrorSchema
from marshmallow import Schema, fields
from pymongo.errors import PyMongoError
from werkzeug.exceptions import RequestEntityTooLarge

from intact import clients, db, quarantine, ratelimit, results
from intact.accounts.permissions import public
from intact.participants import intake
from intact.studies import STUDY_TYPES, StudyNotFound, find_study, record_activity
from intact.testtypes import TEST_TYPES, WholeNumber

log = logging.getLogger(__name__)

bp = Blueprint(
    "participant",
    __name__,
    description="Called by the participant front-end: check a study link, store a finished test.",
)

CONTRACT_EXAMPLES = json.loads(
    (Path(__file__).with_name("contract_examples.json")).read_text(encoding="utf-8")
)
UNKNOWN_STUDY_MESSAGE = "Unknown study_id: no study has this id."
# The only paths the front-end calls cross-origin, anchored at both ends: a study id (letters,
# maybe capitalised or with spaces around it as a phone typed it) and /tests. Admin endpoints
# under /studies/ (download-file, upload-file) must never match: tests/test_participant_api.py
# checks every route of the app against these.
CORS_RESOURCES = [r"^/studies/\s*[A-Za-z]+\s*$", r"^/tests/?$"]
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}


class StudyTypeSchema(Schema):
    """What the front-end learns about a study: its type, nothing else."""

    study_type = fields.String(
        metadata={"description": "Picks the test variant.", "enum": list(STUDY_TYPES)}
    )


def _error_example(code: int, message: str, **details) -> dict:
    """An error body as intact/errors.py writes it."""
    return {"message": message, "code": code, "status": HTTPStatus(code).phrase, **details}


@bp.route("/studies/<study:study_id>")
@public
class Study(MethodView):
    """A study link."""

    # On the view, not the method: Flask-Limiter (and `flask limiter clear`) then knows the route.
    decorators = [ratelimit.limit_study_lookups]

    @bp.response(200, StudyTypeSchema, example={"study_type": "baseline"})
    @bp.alt_response(
        404,
        schema=ErrorSchema,
        description="No study has this id, or the study takes no more results (its link was "
        "deactivated, its participant withdrew, or it was completed more than "
        "COMPLETED_GRACE_HOURS ago): the answer is the same. The front-end shows "
        "'invalid study id'.",
        example=_error_example(404, "Study not found."),
    )
    @bp.alt_response(
        429,
        schema=ErrorSchema,
        headers=RETRY_AFTER,
        description="Too many unknown study ids from this address (RATELIMIT_STUDY_MISSES); "
        "every lookup from it gets this answer until the window passes.",
    )
    @bp.alt_response(
        503, schema=ErrorSchema, headers=RETRY_AFTER, description="The database is not reachable."
    )
    def get(self, study_id):
        """Check a study id and say whether it is a baseline or a follow-up.

        Records when the study was first opened and last seen, for the dashboard's run states.
        A study that takes no more results (a link deactivated, a participant withdrawn, a study
        completed more than COMPLETED_GRACE_HOURS ago: intact/participants/intake.py) answers as
        an unknown id, so that the participant learns it before starting a battery.
        """
        try:
            study = find_study(study_id)
        except StudyNotFound:
            abort(404, message="Study not found.")
        if intake.closure(study) is not None:
            abort(404, message="Study not found.")
        record_activity(study["study_id"], opened=True)
        return study


@bp.route("/tests", strict_slashes=False)
@public
class Tests(MethodView):
    """Finished tests. `/tests/` answers too, directly: a redirect would break the preflight."""

    decorators = [ratelimit.limit_test_submissions]

    # The body is read by hand rather than through @bp.arguments: a refused submission that
    # names a known study must be kept with its raw body, and each kind of refusal has its own
    # status. The request body is documented with the same schema the code validates with.
    @bp.doc(
        requestBody={
            "required": True,
            "description": "One finished test, exactly as the front-end posts it.",
            "content": {
                "application/json": {
                    "schema": results.SubmissionSchema,
                    "examples": {
                        name: {"summary": name.replace("_", " "), "value": body}
                        for name, body in CONTRACT_EXAMPLES.items()
                    },
                }
            },
        }
    )
    @bp.response(
        200,
        results.StoredTestSchema,
        description="Stored (or stored already: an identical re-submission gets the first "
        "test_id). The front-end treats any other status as failure.",
        example={
            "test_id": "6740a1f2c3d4e5f60718293a",
            "test_type": "delayed_recall",
            **{
                key: value
                for key, value in CONTRACT_EXAMPLES["delayed_recall"].items()
                if key != "result"
            },
            "notes": None,
            "result": CONTRACT_EXAMPLES["delayed_recall"]["result"],
        },
    )
    @bp.alt_response(
        400,
        schema=ErrorSchema,
        description="Unknown study_id (or the link was deactivated or its participant withdrew: "
        "then the result is kept in the quarantine), malformed JSON, or a body that is not a "
        "JSON object.",
        examples={
            "unknown study": {"value": _error_example(400, UNKNOWN_STUDY_MESSAGE)},
            "malformed JSON": {
                "value": _error_example(
                    400, "The body is not valid JSON: Expecting value at line 1 column 1."
                )
            },
        },
    )
    @bp.alt_response(
        413,
        schema=ErrorSchema,
        description="The body is larger than MAX_CONTENT_LENGTH (1 MiB by default).",
    )
    @bp.alt_response(
        415, schema=ErrorSchema, description="The body was not sent as application/json."
    )
    @bp.alt_response(
        422,
        schema=ErrorSchema,
        description="A field is missing, of the wrong type or out of range, the answers mix "
        "test types, or test_type disagrees with the result. `errors.json` names every field; "
        "when the study exists the raw submission is kept in the quarantine.",
        example=_error_example(
            422,
            "Invalid submission: result.dr_score: Must be greater than or equal to 0 and less "
            "than or equal to 5.",
            errors={
                "json": {
                    "result": {
                        "dr_score": [
                            "Must be greater than or equal to 0 and less than or equal to 5."
                        ]
                    }
                }
            },
        ),
    )
    @bp.alt_response(
        409,
        schema=ErrorSchema,
        description="A well-formed result for a study that takes no more: completed more than "
        "COMPLETED_GRACE_HOURS ago. The result is kept in the quarantine with the reason "
        '("study completed"); a re-submission of a test stored earlier still answers 200.',
        example=_error_example(
            409,
            "This study was completed on 2026-11-20 14:03 UTC and takes no new results more than "
            "24 hours after that (COMPLETED_GRACE_HOURS). The result is kept for the research "
            "team.",
        ),
    )
    @bp.alt_response(
        429,
        schema=ErrorSchema,
        headers=RETRY_AFTER,
        description="Too many refused submissions from this address (RATELIMIT_TEST_REFUSALS); "
        "every submission from it gets this answer until the window passes. Nothing is stored "
        "or kept; the dashboard counts such submissions per day.",
    )
    @bp.alt_response(
        503,
        schema=ErrorSchema,
        headers=RETRY_AFTER,
        description="The database is not reachable; nothing stored.",
    )
    def post(self):
        """Store one finished test.

        The test type is inferred from the result's field names. An empty result list is
        stored as `unclassified` when no `test_type` is sent (with the `test_type` of a list
        test, as that type with 0 answers); reaction times are stored as sent; unknown fields
        are kept.
        """
        try:
            raw_body = read_body()
        except RequestEntityTooLarge:
            limit = current_app.config["MAX_CONTENT_LENGTH"]
            abort(413, message=f"The submission is larger than the {limit} bytes accepted.")
        try:
            stored, _is_new = results.submit(raw_body, request.content_type, clients.address())
        except StudyNotFound:
            abort(400, message=UNKNOWN_STUDY_MESSAGE)
        except results.NotJsonSubmission as refusal:
            abort(415, message=refusal.message)
        except results.UnreadableSubmission as refusal:
            abort(400, message=refusal.message)
        except results.InvalidSubmission as refusal:
            abort(422, message=refusal.message, errors={"json": refusal.errors})
        except results.StudyClosed as refusal:
            abort(409, message=refusal.message)
        return stored


@bp.errorhandler(RateLimitExceeded)
def _rate_limited(error: RateLimitExceeded):
    """The usual 429; a submission to POST /tests is counted, not kept and not even read.

    Reading it to keep those that name a known study would give a known id more work than an
    unknown one, and let a guesser over the limit sort guesses by the answer's timing.
    """
    if request.method == "POST" and request.endpoint == "participant.Tests":
        try:
            quarantine.count_not_kept(quarantine.RATE_LIMITED)
        except (PyMongoError, *db.UNAVAILABLE_ERRORS):
            log.error("could not count a submission answered 429", exc_info=True)
    return ratelimit.too_many_requests(error)


def read_body() -> bytes:
    """The request body; RequestEntityTooLarge when it exceeds MAX_CONTENT_LENGTH.

    Werkzeug refuses a too-large Content-Length up front, but cuts a chunked body (no length) at
    the limit silently: one byte more from the server's stream tells the two apart.
    """
    raw_body = request.get_data()
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    streamed = request.content_length is None and limit is not None
    if streamed and len(raw_body) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()
    return raw_body


def allowed_origins(settings) -> list[str] | str:
    """The front-end origins from the settings; "*" in either allows every origin."""
    configured = [
        settings["CORS_FRONTEND_ORIGIN"].strip().rstrip("/"),
        settings["CORS_LOCALHOST_ORIGIN"].strip().rstrip("/"),
    ]
    origins = [origin for origin in configured if origin]
    return "*" if "*" in origins else origins


@bp.record_once
def _allow_front_end_origins(state) -> None:
    """CORS for the front-end's calls, on this app, with this app's settings."""
    origins = allowed_origins(state.app.config)
    CORS(
        state.app,
        resources=CORS_RESOURCES,
        origins=origins,
        # With "*" answer "*" itself rather than echoing each origin: one cacheable answer.
        send_wildcard=origins == "*",
        methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type"],
        # Browsers cache the preflight for this long (Chromium caps it at 2 hours).
        max_age=7200,
    )


def _result_schema(converter, field, **kwargs) -> dict:
    """OpenAPI for ResultField: one of the six result types, each documented field by field."""
    if not isinstance(field, results.ResultField):
        return {}
    variants = []
    for test_type in TEST_TYPES.values():
        schema = converter.resolve_nested_schema(test_type.schema)
        if test_type.is_list:
            schema = {
                "type": "array",
                "title": test_type.label,
                "items": schema,
                **({"maxItems": test_type.max_answers} if test_type.max_answers else {}),
            }
        variants.append(schema)
    return {"oneOf": variants}


def _unit(converter, field, **kwargs) -> dict:
    """The `unit` a field's metadata names (ms, points), as the x-unit extension."""
    unit = field.metadata.get("unit")
    return {"x-unit": unit} if unit else {}


def init_spec(api) -> None:
    """Teach the spec how a result looks before the views are documented."""
    api.register_field(WholeNumber, "integer", "int64")
    api.ma_plugin.converter.add_attribute_function(_result_schema)
    api.ma_plugin.converter.add_attribute_function(_unit)
