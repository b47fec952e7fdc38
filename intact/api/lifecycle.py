"""/api/v1 for a participant's life in the study: more studies, notes, reissued links, withdrawal
and erasure, accepting a result that arrived after its link was closed.

The same tokens, error shape (`{"message": ...}`) and prefix as the read API (scripts.py); every
action is audited with who did it and the `reason` given (intact/participants/lifecycle.py).
"""

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import EXCLUDE, Schema, fields, validate

from intact import quarantine, studies
from intact.accounts import permissions, principal
from intact.accounts.permissions import Permission, requires
from intact.api.scripts import FORBIDDEN, SECURITY, UNAUTHORIZED, URL_PREFIX
from intact.api.scripts import _json_value as json_value
from intact.participants import lifecycle, notes

bp = Blueprint(
    "api_v1_lifecycle",
    __name__,
    url_prefix=URL_PREFIX,
    description="For scripts: add studies to a participant, notes, deactivate and reissue a "
    "link, withdraw or erase a participant, accept a result refused because its link was "
    "closed. A `write` token is needed; erasing needs an admin's.",
)

NOT_FOUND = {"description": "No such participant, study or refused submission."}
CONFLICT = {"description": "The participant withdrew, or the link was deactivated already."}


def _document(view):
    view = bp.doc(security=SECURITY)(view)
    view = bp.alt_response(401, **UNAUTHORIZED)(view)
    view = bp.alt_response(403, **FORBIDDEN)(view)
    return bp.alt_response(404, **NOT_FOUND)(view)


def _reason(required: bool = True, **metadata) -> fields.String:
    extra = {"required": True} if required else {"load_default": ""}
    return fields.String(
        validate=validate.Length(max=lifecycle.MAX_REASON_CHARS),
        metadata={"description": "Why: kept in the audit log.", **metadata},
        **extra,
    )


class Body(Schema):
    """Bodies ignore fields they do not know, as the rest of /api/v1."""

    class Meta:
        unknown = EXCLUDE


class AddStudiesSchema(Body):
    """POST …/participants/<id>/studies body."""

    baselines = fields.Integer(load_default=0, validate=validate.Range(min=0))
    followups = fields.Integer(load_default=1, validate=validate.Range(min=0))
    reason = _reason(required=False)


class ReasonSchema(Body):
    """A body with the reason for an action."""

    reason = _reason(example="The link was forwarded to a relative.")


class WithdrawSchema(Body):
    """POST …/participants/<id>/withdraw body."""

    erase = fields.Boolean(
        load_default=False,
        metadata={
            "description": "true: delete every study, test, refused submission and note of the "
            "participant (admins only; cannot be undone). false: keep the data, close the links."
        },
    )
    reason = _reason(example="Consent withdrawn by phone.")


class WithdrawnSchema(Schema):
    """What a withdrawal or an erasure did."""

    participant_id = fields.String(metadata={"description": "Absent after an erasure."})
    erased = fields.Boolean()
    withdrawn_at = fields.String(allow_none=True, metadata={"description": "ISO 8601 UTC."})
    studies_closed = fields.Integer(allow_none=True)
    participant_hash = fields.String(
        allow_none=True, metadata={"description": "How the audit log names an erased participant."}
    )
    deleted = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        allow_none=True,
        metadata={"description": "Documents deleted per collection (erasure)."},
    )


class NoteBodySchema(Body):
    """POST …/participants/<id>/notes body."""

    text = fields.String(
        required=True,
        validate=validate.Length(max=notes.MAX_NOTE_CHARS),
        metadata={"example": "Phoned 12 May: will do the follow-up next week."},
    )


class NoteSchema(Schema):
    """A note: free text, when and by whom."""

    note_id = fields.String()
    participant_id = fields.String()
    text = fields.String()
    created_at = fields.String(metadata={"description": "ISO 8601 UTC."})
    author = fields.String(metadata={"description": "The account (or token's owner) who wrote it."})


class StudyLinkSchema(Schema):
    """A study as created: its new id and link, type and follow-up number."""

    study_id = fields.String()
    participant_id = fields.String()
    url = fields.String()
    study_type = fields.String()
    followup_number = fields.Integer(allow_none=True)
    replaces = fields.String(metadata={"description": "The deactivated study (reissue only)."})


class AcceptedSchema(Schema):
    """The test stored from a refused submission."""

    test_id = fields.String()
    study_id = fields.String()
    test_type = fields.String()
    received_at = fields.String()


def _refused(error: lifecycle.LifecycleRefused):
    status = 400 if isinstance(error, lifecycle.InvalidReason) else 409
    abort(status, message=error.message)


def _no_participant(participant_id: str):
    abort(404, message=f"No study belongs to a participant with the id {participant_id}.")


@bp.route("/participants/<participant:participant_id>/studies")
@requires(Permission.MANAGE_STUDIES)
class ParticipantStudies(MethodView):
    """Studies of one participant."""

    @bp.arguments(AddStudiesSchema)
    @bp.response(200, StudyLinkSchema(many=True))
    @bp.alt_response(409, **CONFLICT)
    @_document
    def post(self, body, participant_id):
        """Add studies to an existing participant (write scope)

        Follow-up numbers continue after the participant's highest. 400 when both counts are 0
        or the total is over MAX_STUDIES_PER_REQUEST; 409 once the participant withdrew.
        """
        try:
            return lifecycle.add_studies(
                participant_id, body["baselines"], body["followups"], body["reason"]
            )
        except studies.ParticipantNotFound:
            _no_participant(participant_id)
        except studies.InvalidBatch as error:
            abort(400, message=error.message)
        except lifecycle.LifecycleRefused as error:
            _refused(error)


@bp.route("/participants/<participant:participant_id>/notes", methods=["GET"])
@requires(Permission.SEE_STUDY_LINKS)
class ParticipantNotes(MethodView):
    """Researchers' notes about one participant: the study team's, never in any export."""

    @bp.response(200, NoteSchema(many=True))
    @_document
    def get(self, participant_id):
        """The participant's notes, newest first (study team: not analysts)"""
        try:
            studies.require_participant(participant_id)
        except studies.ParticipantNotFound:
            _no_participant(participant_id)
        return [json_value(note.as_json()) for note in notes.notes_of(participant_id)]


@bp.route("/participants/<participant:participant_id>/notes", methods=["POST"])
@requires(Permission.MANAGE_STUDIES)
class NewParticipantNote(MethodView):
    """A new note about one participant."""

    @bp.arguments(NoteBodySchema)
    @bp.response(200, NoteSchema)
    @_document
    def post(self, body, participant_id):
        """Add a note about the participant (write scope)

        Dated and signed with the token owner's name; audited without its text.
        """
        try:
            return json_value(notes.add_note(participant_id, body["text"]).as_json())
        except studies.ParticipantNotFound:
            _no_participant(participant_id)
        except notes.InvalidNote as error:
            abort(400, message=error.message)


@bp.route("/studies/<study:study_id>/reissue")
@requires(Permission.MANAGE_STUDIES)
class Reissue(MethodView):
    """A study link that must stop working."""

    @bp.arguments(ReasonSchema)
    @bp.response(200, StudyLinkSchema)
    @bp.alt_response(409, **CONFLICT)
    @_document
    def post(self, body, study_id):
        """Deactivate a study's link and reissue it: the new study (write scope)

        The new study has the same type and follow-up number and a new id. The old id answers as
        an unknown one from now on; a result that still arrives for it is kept in the refused
        submissions ("link deactivated") and can be accepted from there.
        """
        try:
            return lifecycle.reissue(study_id, body["reason"])
        except studies.StudyNotFound:
            abort(404, message=f"No study has the id {study_id}.")
        except lifecycle.LifecycleRefused as error:
            _refused(error)


@bp.route("/participants/<participant:participant_id>/withdraw")
@requires(Permission.MANAGE_STUDIES)
class Withdraw(MethodView):
    """A participant who leaves the study."""

    @bp.arguments(WithdrawSchema)
    @bp.response(200, WithdrawnSchema)
    @bp.alt_response(409, **CONFLICT)
    @_document
    def post(self, body, participant_id):
        """Withdraw a participant, keeping or erasing their data (write scope; erase: admins)

        `erase: false`: their links stop working, they are marked withdrawn (date, reason) and
        their data stay (exports say `withdrawn`). `erase: true`: every study, test, refused
        submission and note of theirs is deleted; the audit log keeps who, when, why and the
        counts, naming the participant by a keyed hash. A withdrawn participant can still be
        erased.
        """
        if body["erase"]:
            if not permissions.allowed(principal.current(), Permission.ERASE_PARTICIPANTS):
                abort(403, message="Only an admin may erase a participant's data.")
            try:
                erasure = lifecycle.erase(participant_id, body["reason"])
            except studies.ParticipantNotFound:
                _no_participant(participant_id)
            except lifecycle.LifecycleRefused as error:
                _refused(error)
            return {
                "erased": True,
                "participant_hash": erasure.participant_hash,
                "deleted": erasure.deleted,
            }
        try:
            withdrawal = lifecycle.withdraw(participant_id, body["reason"])
        except studies.ParticipantNotFound:
            _no_participant(participant_id)
        except lifecycle.LifecycleRefused as error:
            _refused(error)
        return {
            "participant_id": participant_id,
            "erased": False,
            "withdrawn_at": json_value(withdrawal.withdrawn_at),
            "studies_closed": withdrawal.studies,
        }


@bp.route("/refused/<quarantine_id>/accept")
@requires(Permission.MANAGE_STUDIES)
class AcceptRefused(MethodView):
    """A result refused because its link was closed."""

    @bp.response(200, AcceptedSchema)
    @bp.alt_response(409, description="Refused for its own errors: it cannot be stored.")
    @_document
    def post(self, quarantine_id):
        """Accept a refused submission into the participant's data (write scope)

        Only for a submission refused because its link was deactivated or its participant had
        withdrawn; it is stored for the study it was sent for and leaves the refused list.
        """
        try:
            test = lifecycle.accept_refused(quarantine_id)
        except quarantine.RefusedNotFound:
            abort(404, message="There is no refused submission with this id.")
        except lifecycle.LifecycleRefused as error:
            _refused(error)
        return json_value(
            {key: test.get(key) for key in ("test_id", "study_id", "test_type", "received_at")}
        )
