"""Dashboard views: each reads the request, calls a service function and renders a template."""

from flask import (
    abort,
    current_app,
    flash,
    render_template,
    request,
    url_for,
)

from intact import audit, auth, downloads, progress, quarantine, studies, testtypes
from intact.accounts import permissions, principal
from intact.accounts.permissions import Permission, requires
from intact.admin import MENU, bp, creation, formatting, pages, schemas
from intact.participants import lifecycle, notes, schedule
from intact.testtypes import TEST_TYPES


def may(permission: str) -> bool:
    """Whether the person looking at the page may do `permission` (templates hide the rest)."""
    return permissions.allowed(principal.current(), Permission(permission))


def _menu() -> list[tuple[str, str]]:
    """The menu entries this person's role may open."""
    entries = []
    for endpoint, label in MENU:
        view = current_app.view_functions.get(endpoint)
        if view is None:
            continue
        needed = permissions.declaration_of(endpoint, view)
        if needed == permissions.PUBLIC or may(needed):
            entries.append((endpoint, label))
    return entries


@bp.context_processor
def _template_helpers():
    who = principal.current()
    logged_in = who is not None and who.via == principal.SESSION
    return {
        "csrf_token": auth.csrf_token,
        "logged_in": logged_in,
        "who": who,
        "may": may,
        # Study ids and links are the participants' credentials: analysts never see them.
        "show_study_ids": logged_in and may(Permission.SEE_STUDY_LINKS),
        "menu": _menu() if logged_in else [],
        "test_types": TEST_TYPES,
        "test_label": testtypes.label,
        "state_labels": progress.STATE_LABELS,
        "state_descriptions": {
            state: text.format(days=current_app.config["ABANDONED_AFTER_DAYS"])
            for state, text in progress.STATE_DESCRIPTIONS.items()
        },
        "abandoned_after_days": current_app.config["ABANDONED_AFTER_DAYS"],
        "schedule_labels": schedule.STATE_LABELS,
        "schedule_descriptions": schedule.STATE_DESCRIPTIONS,
        "schedule_days": current_app.config["FOLLOWUP_SCHEDULE_DAYS"],
        "window_days": current_app.config["FOLLOWUP_WINDOW_DAYS"],
        "schedule_filters": progress.SCHEDULE_FILTERS,
        "session_hours": current_app.config["ADMIN_SESSION_HOURS"],
        "session_max_hours": current_app.config["ADMIN_SESSION_MAX_HOURS"],
        # How a study's link starts (the url of each study is fixed when it is created).
        "link_prefix": current_app.config["STUDY_URL_PREFIX"].rstrip("/") + "/",
    }


@bp.get("/")
@requires(Permission.VIEW_PROGRESS)
def overview():
    """Participants, studies by type and state, tests by type and the latest arrival."""
    return render_template("admin/overview.html", overview=progress.overview())


@bp.get("/progress")
@requires(Permission.VIEW_PROGRESS)
def progress_grid():
    """Who has done what: one row per participant, one column per study and test."""
    grid = progress.progress_grid(schemas.grid_query(request.args))
    return pages.render_page(
        "admin/progress.html",
        "admin/partials/_progress_table.html",
        grid=grid,
        grid_args=schemas.grid_args,
    )


@bp.get("/participants/<participant:participant_id>")
@requires(Permission.VIEW_PROGRESS)
def participant(participant_id):
    """One participant's studies, and every test received with its answers."""
    return participant_page(participant_id)


def participant_page(participant_id: str, status: int = 200, **form):
    """The participant page: studies, tests, withdrawal, notes (the study team's), actions.

    `form`: a refused note form's `note_error` and `note_text`, shown beside the note field;
    `due_errors` {study_id: message} beside that study's due-date form.
    """
    try:
        details = progress.participant_details(participant_id)
    except progress.ParticipantNotFound:
        abort(404, description=f"No study belongs to a participant with the id {participant_id}.")
    shown_notes = notes.notes_of(participant_id) if may(Permission.SEE_STUDY_LINKS) else []
    page = render_template(
        "admin/participant.html",
        details=details,
        withdrawal=lifecycle.withdrawal_of(participant_id),
        notes=shown_notes,
        max_note_chars=notes.MAX_NOTE_CHARS,
        due_errors=form.pop("due_errors", {}),
        **form,
    )
    return page, status


@bp.get("/studies/new")
@requires(Permission.MANAGE_STUDIES)
def create_studies():
    """The form that creates study links for a list of participants."""
    return creation.create_form({}, 200)


@bp.post("/studies/new")
@requires(Permission.MANAGE_STUDIES)
def create_studies_submit():
    """Create the studies (all or nothing) and show them; or the form again with its errors."""
    try:
        participant_ids, baselines, followups = creation.batch_from_request(
            request.form, request.files
        )
        created = studies.create_studies(participant_ids, baselines, followups)
    except creation.FormErrors as error:
        return creation.create_form(error.errors, 422, request.form)
    except studies.InvalidBatch as error:
        return creation.create_form({creation.FORM_ERROR: error.message}, 422, request.form)
    audit.record(audit.STUDIES_CREATED, count=len(created), participants=len(participant_ids))
    flash(
        f"Created {len(created):,} stud{'ies' if len(created) != 1 else 'y'} for "
        f"{len(participant_ids):,} participant{'s' if len(participant_ids) != 1 else ''}.",
        "success",
    )
    return pages.redirect_to(url_for(".batch", batch_id=created[0]["batch_id"]))


BATCH_ROWS_SHOWN = 1000


def _batch_or_404(batch_id: str):
    shown = progress.batch_studies(batch_id, per_page=BATCH_ROWS_SHOWN)
    if not shown.total:
        abort(404, description="No studies were created with this batch id.")
    return shown


@bp.get("/batches/<batch_id>")
@requires(Permission.SEE_STUDY_LINKS)
def batch(batch_id):
    """The studies one creation made, with their links, and a download of just those."""
    return render_template("admin/batch.html", batch_id=batch_id, studies=_batch_or_404(batch_id))


@bp.get("/batches/<batch_id>/studies.csv")
@requires(Permission.DOWNLOAD_IDENTIFIABLE)
def batch_csv(batch_id):
    """studies.csv for one creation batch only."""
    _batch_or_404(batch_id)
    return downloads.attachment(downloads.batch_studies_csv(batch_id))


REFUSED_PER_PAGE = 50
# The refused page says how many submissions were counted but not kept in this many days.
NOT_KEPT_DAYS = 30


@bp.get("/refused")
@requires(Permission.SEE_REFUSED)
def refused_list():
    """Submissions refused for a schema error that named a known study, newest first."""
    args = schemas.load(schemas.RefusedQueryArgsSchema, request.args)
    study_id = args["study_id"] or None
    refused = quarantine.list_refused(study_id, page=args["page"], per_page=REFUSED_PER_PAGE)
    return render_template(
        "admin/refused.html",
        refused=refused,
        study_id=study_id,
        not_kept=quarantine.not_kept_since(NOT_KEPT_DAYS),
        not_kept_days=NOT_KEPT_DAYS,
    )


@bp.get("/refused/<quarantine_id>")
@requires(Permission.SEE_REFUSED)
def refused_detail(quarantine_id):
    """One refused submission: why it was refused, and exactly what the browser sent."""
    try:
        entry = quarantine.get_refused(quarantine_id)
    except quarantine.RefusedNotFound:
        abort(404, description="There is no refused submission with this id.")
    return render_template(
        "admin/refused_detail.html",
        entry=entry,
        body=formatting.readable_body(entry),
        acceptable=quarantine.acceptable(entry),
    )


@bp.get("/help")
@requires(Permission.VIEW_PROGRESS)
def instructions():
    """How a study runs, from creating links to downloading the results, in plain words."""
    return render_template("admin/help.html")


@bp.route("/<path:unknown>", methods=["GET", "POST"])
@requires(Permission.OWN_ACCOUNT)
def not_found(unknown):
    """Any other address under /admin: the dashboard's own 'not found' page, not API JSON."""
    abort(404)
