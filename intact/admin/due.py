"""The follow-up schedule on the dashboard: the Due page, its mail-merge CSV, due dates by hand."""

from flask import abort, flash, render_template, request, url_for
from marshmallow import ValidationError

from intact import downloads, paging, studies
from intact.accounts.permissions import Permission, requires
from intact.admin import bp, pages, schemas, views
from intact.participants import schedule

# Rows per page of each list: the CSV holds them all.
ROWS_PER_PAGE = 100


@bp.get("/due")
@requires(Permission.VIEW_PROGRESS)
def due():
    """Follow-ups due now (window open) and overdue (window closed, not complete)."""
    args = schemas.load(schemas.DueQueryArgsSchema, request.args)
    today = schedule.utc_today()
    listed = schedule.due_studies(today)
    due_now = [s for s in listed if s.state == schedule.DUE]
    overdue = [s for s in listed if s.state == schedule.OVERDUE]
    return render_template(
        "admin/due.html",
        today=today,
        args=args,
        due=paging.page_of(due_now, args["due_page"], ROWS_PER_PAGE),
        overdue=paging.page_of(overdue, args["overdue_page"], ROWS_PER_PAGE),
        digest=schedule.digest_of(listed, today),
    )


@bp.get("/due.csv")
@requires(Permission.DOWNLOAD_IDENTIFIABLE)
def due_csv():
    """The Due page as CSV for a mail merge: participant, follow-up, dates, link."""
    return downloads.attachment(downloads.due_csv())


@bp.post("/studies/<study:study_id>/due-date")
@requires(Permission.MANAGE_STUDIES)
def set_due_date(study_id):
    """Set a follow-up's due date by hand, or clear it (the schedule's date applies again)."""
    try:
        study = studies.find_study(study_id)
    except studies.StudyNotFound:
        abort(404, description="There is no study with this id.")
    back = url_for(".participant", participant_id=study["participant_id"]) + f"#due-{study_id}"
    try:
        form = schemas.DueDateFormSchema().load(request.form)
    except ValidationError as error:
        # The participant page again, the problem beside the date that caused it.
        message = " ".join(schemas.field_errors(error).values())
        return views.participant_page(study["participant_id"], 422, due_errors={study_id: message})
    try:
        if form["clear"]:
            schedule.clear_due_date(study_id)
            flash("The due date set by hand is cleared: the schedule's date applies.", "success")
        else:
            schedule.set_due_date(study_id, form["due_date"])
            flash(f"Due date set to {form['due_date'].isoformat()} (UTC).", "success")
    except schedule.NotAFollowUp as error:
        flash(error.message, "error")
    return pages.redirect_to(back)
