"""The read API for scripts at /api/v1: participants, tests, scores, and creating studies.

For R and Python scripts that fetch data "repeatedly and periodically": authenticate with a
personal API token (`Authorization: Bearer intact_…`, made on the dashboard's My account page or
with `flask tokens create`). Lists come in a stable order, a page at a time: each answer carries
`next_cursor`, which the next request passes as `cursor` (null: nothing more). An analyst's token
never receives a study id (they are the participants' credentials).
"""

import base64
import binascii
import json
from datetime import UTC, datetime

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from intact import audit, db, participant_lists, progress, studies, summaries
from intact.accounts import permissions, principal
from intact.accounts.permissions import Permission, requires
from intact.identifiers import ParticipantIdField
from intact.participants import schedule
from intact.testtypes import TEST_TYPES, UNCLASSIFIED
from intact.timestamps import utc_iso

URL_PREFIX = "/api/v1"
SECURITY = [{"bearerAuth": []}]
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

bp = Blueprint(
    "api_v1",
    __name__,
    url_prefix=URL_PREFIX,
    description="For R and Python scripts: read participants, tests and scores, create studies. "
    "Send a personal API token as `Authorization: Bearer <token>` (My account page, or "
    "`flask tokens create`); a `read` token may read, a `write` token may also create studies. "
    "Lists are paged: pass each answer's `next_cursor` as `cursor` until it is null.",
)


def init_spec(api) -> None:
    """Declare the bearer scheme, so that Swagger UI's Authorize button sends the token."""
    api.spec.components.security_scheme(
        "bearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (intact_…), from the dashboard's My account "
            "page or `flask tokens create EMAIL --name NAME --scope read`.",
        },
    )


# --- who may see study ids ---------------------------------------------------------------------


def _shows_study_ids() -> bool:
    return permissions.allowed(principal.current(), Permission.SEE_STUDY_LINKS)


def without_study_ids(document: dict) -> dict:
    """The document as this principal may see it: analysts get no study id or link."""
    if _shows_study_ids():
        return document
    return {key: value for key, value in document.items() if key not in ("study_id", "url")}


# --- cursors -----------------------------------------------------------------------------------


def _encode_cursor(position) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def _decode_cursor(text: str):
    try:
        padded = text + "=" * (-len(text) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        abort(400, message="The cursor is not one this API gave out: start again without it.")


def _json_value(value):
    """Stored values as JSON: times in ISO 8601 UTC, nested values likewise."""
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items() if key != "_id"}
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    if hasattr(value, "__int__") and not isinstance(value, bool | int | float | str):
        return int(value)  # bson Int64
    return value


# --- schemas -----------------------------------------------------------------------------------


class PageArgsSchema(Schema):
    """Paging: `cursor` from the previous answer, `limit` items per page."""

    class Meta:
        unknown = EXCLUDE

    cursor = fields.String(
        load_default=None, metadata={"description": "next_cursor of the previous page."}
    )
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"Items per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."},
    )


class TestsQueryArgsSchema(PageArgsSchema):
    """GET /api/v1/tests filters."""

    since = fields.AwareDateTime(
        load_default=None,
        default_timezone=UTC,
        metadata={
            "description": "Only tests the server received at or after this moment (ISO 8601; "
            "without a time zone: UTC). A nightly script passes the time of its last run."
        },
    )
    test_type = fields.String(
        load_default=None,
        validate=validate.OneOf([*TEST_TYPES, UNCLASSIFIED]),
        metadata={"description": "One test type, or unclassified."},
    )
    participant_id = ParticipantIdField(
        load_default=None, metadata={"description": "One participant."}
    )


class SummaryQueryArgsSchema(PageArgsSchema):
    """GET /api/v1/summary filters."""

    participant_id = ParticipantIdField(
        load_default=None, metadata={"description": "One participant."}
    )


class StudyStateSchema(Schema):
    """One study of a participant."""

    study_id = fields.String(metadata={"description": "Not shown to analysts."})
    study_type = fields.String(metadata={"description": "baseline or followup"})
    state = fields.String(metadata={"description": ", ".join(progress.STUDY_STATES)})
    created_at = fields.String()
    first_opened_at = fields.String(allow_none=True)
    last_activity = fields.String(allow_none=True)
    tests_received = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "Per test type."}
    )
    followup_number = fields.Integer(allow_none=True, metadata={"description": "Follow-up k."})
    due_date = fields.String(
        allow_none=True, metadata={"description": "A follow-up's due date (UTC day, YYYY-MM-DD)."}
    )
    schedule_state = fields.String(
        allow_none=True,
        metadata={"description": "A follow-up's: " + ", ".join(schedule.SCHEDULE_STATES)},
    )
    deactivated_at = fields.String(
        allow_none=True,
        metadata={"description": "When the link was deactivated (a reissued study replaces it)."},
    )


class ParticipantSchema(Schema):
    """A participant with their studies and counts."""

    participant_id = fields.String()
    withdrawn_at = fields.String(
        allow_none=True, metadata={"description": "When the participant withdrew; null if not."}
    )
    studies = fields.List(fields.Nested(StudyStateSchema))
    study_count = fields.Integer()
    test_count = fields.Integer()


class ParticipantPageSchema(Schema):
    """A page of participants."""

    items = fields.List(fields.Nested(ParticipantSchema))
    next_cursor = fields.String(allow_none=True)


class TestsPageSchema(Schema):
    """A page of tests as stored (study_id left out for analysts), oldest received first."""

    items = fields.List(fields.Dict())
    next_cursor = fields.String(allow_none=True)


class SummaryPageSchema(Schema):
    """A page of summary.csv's rows: one per study, the same columns and values."""

    items = fields.List(fields.Dict())
    next_cursor = fields.String(allow_none=True)


class CreateStudiesSchema(Schema):
    """POST /api/v1/studies body: the form endpoint's fields, as JSON."""

    class Meta:
        unknown = EXCLUDE

    participant_ids = fields.Raw(
        required=True,
        metadata={
            "description": "A list of participant ids, or one string with one id per line.",
            "example": ["P001", "P002"],
        },
    )
    baselines_per_participant = fields.Integer(load_default=1)
    followups_per_participant = fields.Integer(load_default=1)

    @validates_schema
    def _ids_are_text(self, data, **kwargs):
        if not isinstance(data.get("participant_ids"), str | list):
            raise ValidationError(
                "A list of participant ids, or one string with one per line.", "participant_ids"
            )


class NewStudySchema(Schema):
    """A new study, as the form endpoint lists it."""

    study_id = fields.String()
    participant_id = fields.String()
    url = fields.String()
    study_type = fields.String()


# --- views -------------------------------------------------------------------------------------

UNAUTHORIZED = {"description": "No token, or a bad, expired or revoked one (`reason` says which)."}
FORBIDDEN = {"description": "The token's role or scope does not allow this."}


def document(view):
    view = bp.doc(security=SECURITY)(view)
    view = bp.alt_response(401, **UNAUTHORIZED)(view)
    return bp.alt_response(403, **FORBIDDEN)(view)


def _study_state(study: progress.StudyProgress) -> dict:
    return without_study_ids(
        {
            "study_id": study.study_id,
            "study_type": study.study_type,
            "state": study.state,
            "created_at": _json_value(study.created_at),
            "first_opened_at": _json_value(study.first_opened_at),
            "last_activity": _json_value(study.last_activity),
            "tests_received": dict(study.received),
            "followup_number": study.followup_number,
            "due_date": study.due.due_date.isoformat()
            if study.due and study.due.due_date
            else None,
            "schedule_state": study.due.state if study.due else None,
            "deactivated_at": _json_value(study.deactivated_at),
        }
    )


def _participant(row: progress.ParticipantProgress) -> dict:
    return {
        "participant_id": row.participant_id,
        "withdrawn_at": _json_value(
            next((s.withdrawn_at for s in row.studies if s.withdrawn_at), None)
        ),
        "studies": [_study_state(study) for study in row.studies],
        "study_count": len(row.studies),
        "test_count": sum(sum(study.received.values()) for study in row.studies),
    }


@bp.route("/participants")
@requires(Permission.VIEW_PROGRESS)
class Participants(MethodView):
    """Participants."""

    @bp.arguments(PageArgsSchema, location="query")
    @bp.response(200, ParticipantPageSchema)
    @document
    def get(self, args):
        """Every participant with their studies, states and counts

        Ordered by participant id. States as on the dashboard (not_started, opened, in_progress,
        complete, abandoned).

        curl -H "Authorization: Bearer $INTACT_TOKEN" https://SERVER/api/v1/participants
        """
        after = _decode_cursor(args["cursor"]) if args["cursor"] else None
        rows = sorted(
            (
                row
                for row in progress.group_by_participant(progress.load_progress())
                if after is None or row.participant_id > after
            ),
            key=lambda row: row.participant_id,
        )
        page = rows[: args["limit"]]
        more = len(rows) > len(page)
        return {
            "items": [_participant(row) for row in page],
            "next_cursor": _encode_cursor(page[-1].participant_id) if more else None,
        }


@bp.route("/participants/<participant:participant_id>")
@requires(Permission.VIEW_PROGRESS)
class Participant(MethodView):
    """One participant."""

    @bp.response(200, ParticipantSchema)
    @bp.alt_response(404, description="No study belongs to this participant id.")
    @document
    def get(self, participant_id):
        """One participant: their studies, states and tests received

        404 names the id when no study belongs to it.
        """
        found = progress.load_progress(studies_filter={"participant_id": participant_id})
        if not found:
            abort(404, message=f"No study belongs to a participant with the id {participant_id}.")
        return _participant(progress.group_by_participant(found)[0])


@bp.route("/tests")
@requires(Permission.VIEW_PROGRESS)
class Tests(MethodView):
    """Tests."""

    @bp.arguments(TestsQueryArgsSchema, location="query")
    @bp.response(200, TestsPageSchema)
    @document
    def get(self, args):
        """Tests as stored, oldest received first, with a cursor to continue

        `since` filters on when the server received a test, so a nightly script fetches only
        what is new: pass the time of its last run. Each test is the stored document (answers
        in `result`, times in ISO 8601 UTC); analysts do not get `study_id`.
        """
        query = {}
        if args["since"] is not None:
            query["received_at"] = {"$gte": args["since"]}
        if args["test_type"]:
            query["test_type"] = args["test_type"]
        if args["participant_id"]:
            query["participant_id"] = args["participant_id"]
        if args["cursor"]:
            received, test_id = _decode_cursor(args["cursor"])
            at = datetime.fromisoformat(received)
            query = {
                "$and": [
                    query,
                    {
                        "$or": [
                            {"received_at": {"$gt": at}},
                            {"received_at": at, "test_id": {"$gt": test_id}},
                        ]
                    },
                ]
            }
        found = (
            db.tests()
            .find(query, {"_id": 0, "fingerprint": 0})
            .sort([("received_at", 1), ("test_id", 1)])
            .limit(args["limit"] + 1)
        )
        documents = list(found)
        page, more = documents[: args["limit"]], len(documents) > args["limit"]
        cursor = None
        if more:
            last = page[-1]
            cursor = _encode_cursor([last["received_at"].isoformat(), last["test_id"]])
        return {
            "items": [without_study_ids(_json_value(document)) for document in page],
            "next_cursor": cursor,
        }


@bp.route("/summary")
@requires(Permission.VIEW_PROGRESS)
class Summary(MethodView):
    """Scores."""

    @bp.arguments(SummaryQueryArgsSchema, location="query")
    @bp.response(200, SummaryPageSchema)
    @document
    def get(self, args):
        """The derived scores per study: the rows of summary.csv

        The same columns and values as summary.csv (its codebook in the ZIP explains each),
        one item per study, in participant then study order; analysts do not get `study_id`.
        """
        participant_id = args["participant_id"]
        start = int(_decode_cursor(args["cursor"])) if args["cursor"] else 0
        items = []
        more = False
        for position, row in enumerate(summaries.iter_summary_rows(participant_id)):
            if position < start:
                continue
            if len(items) == args["limit"]:
                more = True
                break
            items.append(without_study_ids(_json_value(row)))
        return {
            "items": items,
            "next_cursor": _encode_cursor(start + len(items)) if more else None,
        }


@bp.route("/studies")
@requires(Permission.MANAGE_STUDIES)
class Studies(MethodView):
    """Studies."""

    @bp.arguments(CreateStudiesSchema)
    @bp.response(200, NewStudySchema(many=True))
    @bp.alt_response(400, description="Nothing was created; the message names the problem.")
    @document
    def post(self, body):
        """Create studies for a list of participant ids (write scope)

        The same rules and answers as the form endpoint POST /studies: all or nothing, a 400
        naming the offending entries, at most MAX_STUDIES_PER_REQUEST studies per request.
        """
        ids = body["participant_ids"]
        try:
            if isinstance(ids, str):
                participant_ids = participant_lists.parse(ids)
            else:
                participant_ids = participant_lists.check(enumerate(ids, start=1))
            created = studies.create_studies(
                participant_ids,
                baselines=body["baselines_per_participant"],
                followups=body["followups_per_participant"],
            )
        except studies.InvalidBatch as error:
            details = {"errors": {"lines": error.lines}} if error.lines else {}
            abort(400, message=error.message, **details)
        audit.record(
            audit.STUDIES_CREATED,
            count=len(created),
            participants=len(participant_ids),
            batch_id=created[0]["batch_id"],
            via="api/v1",
        )
        return created
