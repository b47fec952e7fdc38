"""The follow-up schedule for scripts at /api/v1: the due list, and due dates set by hand.

Same prefix, tokens, error shape and study-id rule as intact/api/scripts.py (an analyst's token
never receives a study id or link). Dates are UTC calendar days, `YYYY-MM-DD`.
"""

from datetime import date

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import EXCLUDE, Schema, fields, validate

from intact import studies
from intact.accounts.permissions import Permission, requires
from intact.api import scripts
from intact.participants import schedule

bp = Blueprint(
    "api_v1_schedule",
    __name__,
    url_prefix=scripts.URL_PREFIX,
    description="The follow-up schedule: which follow-ups are due and overdue, and due dates set "
    "by hand (a `write` token). Dates are UTC calendar days (YYYY-MM-DD).",
)

STATES = ", ".join(schedule.SCHEDULE_STATES)


class DueQueryArgsSchema(Schema):
    """GET /api/v1/due: the day to compute for."""

    class Meta:
        unknown = EXCLUDE

    today = fields.Date(
        load_default=None,
        metadata={"description": "The UTC day to compute the states for (default: today)."},
    )


class DueStudySchema(Schema):
    """A due or overdue follow-up."""

    participant_id = fields.String()
    followup_number = fields.Integer(allow_none=True)
    due_date = fields.Date()
    days_left = fields.Integer(metadata={"description": "Negative once the due date has passed."})
    schedule_state = fields.String(metadata={"description": "due or overdue"})
    due_date_set_by_hand = fields.Boolean()
    study_id = fields.String(metadata={"description": "Not shown to analysts."})
    url = fields.String(metadata={"description": "The study's link. Not shown to analysts."})


class DueListSchema(Schema):
    """Every due and overdue follow-up on one day, earliest due date first."""

    today = fields.Date()
    window_days = fields.Integer()
    items = fields.List(fields.Nested(DueStudySchema))


class DueDateSchema(Schema):
    """PUT /api/v1/studies/<study_id>/due-date body."""

    class Meta:
        unknown = EXCLUDE

    due_date = fields.Date(
        required=True,
        validate=validate.Range(
            min=date(2000, 1, 1),
            max=date(2199, 12, 31),
            error="A date from 2000-01-01 to 2199-12-31.",
        ),
        metadata={"description": "The UTC day the follow-up is due.", "example": "2026-07-09"},
    )


class StudyScheduleSchema(Schema):
    """A follow-up's place in the schedule."""

    study_id = fields.String()
    participant_id = fields.String()
    followup_number = fields.Integer(allow_none=True)
    due_date = fields.Date(allow_none=True)
    due_date_set_by_hand = fields.Boolean()
    schedule_state = fields.String(
        allow_none=True,
        metadata={"description": STATES + "; null: withdrawn participant or deactivated link"},
    )


def _study_schedule(study: dict) -> dict:
    due = schedule.study_due(study)
    by_hand = schedule.as_date(study.get(schedule.DUE_DATE_FIELD))
    return {
        "study_id": study["study_id"],
        "participant_id": study.get("participant_id"),
        "followup_number": study.get("followup_number"),
        # A withdrawn participant's follow-up or a deactivated link: out of the schedule.
        "due_date": due.due_date if due else by_hand,
        "due_date_set_by_hand": by_hand is not None,
        "schedule_state": due.state if due else None,
    }


def _change(change, study_id, *args) -> dict:
    try:
        return _study_schedule(change(study_id, *args))
    except studies.StudyNotFound:
        abort(404, message=f"There is no study with the id {study_id}.")
    except schedule.NotAFollowUp as error:
        abort(400, message=error.message)


@bp.route("/due")
@requires(Permission.VIEW_PROGRESS)
class Due(MethodView):
    """Due follow-ups."""

    @bp.arguments(DueQueryArgsSchema, location="query")
    @bp.response(200, DueListSchema)
    @scripts.document
    def get(self, args):
        """Follow-ups due (window open) and overdue (window passed, not complete)

        As the dashboard's Due page, earliest due date first; analysts get no study id or link.
        """
        today = args["today"] or schedule.utc_today()
        items = [
            scripts.without_study_ids(
                {
                    "participant_id": study.participant_id,
                    "followup_number": study.followup_number,
                    "due_date": study.due_date,
                    "days_left": study.days_left,
                    "schedule_state": study.state,
                    "due_date_set_by_hand": study.set_by_hand,
                    "study_id": study.study_id,
                    "url": study.url,
                }
            )
            for study in schedule.due_studies(today)
        ]
        return {
            "today": today,
            "window_days": current_app.config["FOLLOWUP_WINDOW_DAYS"],
            "items": items,
        }


@bp.route("/studies/<study:study_id>/due-date")
@requires(Permission.MANAGE_STUDIES)
class StudyDueDate(MethodView):
    """A follow-up's due date set by hand."""

    @bp.arguments(DueDateSchema)
    @bp.response(200, StudyScheduleSchema)
    @bp.alt_response(400, description="A baseline (only follow-ups have due dates).")
    @bp.alt_response(404, description="No study has this id.")
    @scripts.document
    def put(self, body, study_id):
        """Set a follow-up's due date by hand (write scope); audited

        It wins over the schedule (FOLLOWUP_SCHEDULE_DAYS) until cleared.
        """
        return _change(schedule.set_due_date, study_id, body["due_date"])

    @bp.response(200, StudyScheduleSchema)
    @bp.alt_response(400, description="A baseline (only follow-ups have due dates).")
    @bp.alt_response(404, description="No study has this id.")
    @scripts.document
    def delete(self, study_id):
        """Clear a follow-up's due date set by hand (write scope); audited

        The schedule's date applies again (null when it has none).
        """
        return _change(schedule.clear_due_date, study_id)
