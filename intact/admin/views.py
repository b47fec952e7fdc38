"""Dashboard views: each reads the request, calls a service function and renders a template."""

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from intact import audit, auth, downloads, progress, quarantine, ratelimit, studies, testtypes
from intact.admin import MENU, bp, creation, formatting, pages, schemas, session
from intact.testtypes import TEST_TYPES

PUBLIC_ENDPOINTS = frozenset({"dashboard.login"})


@bp.before_request
def _require_login():
    """Logged-out requests go to the login page; state changes need the session's CSRF token."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not auth.has_admin_session():
        return pages.send_to_login()
    if request.method not in auth.SAFE_METHODS and not auth.csrf_token_matches():
        abort(403)
    return None


@bp.context_processor
def _template_helpers():
    return {
        "csrf_token": auth.csrf_token,
        "logged_in": auth.has_admin_session(),
        "menu": MENU,
        "test_types": TEST_TYPES,
        "test_label": testtypes.label,
        "state_labels": progress.STATE_LABELS,
        "state_descriptions": {
            state: text.format(days=current_app.config["ABANDONED_AFTER_DAYS"])
            for state, text in progress.STATE_DESCRIPTIONS.items()
        },
        "abandoned_after_days": current_app.config["ABANDONED_AFTER_DAYS"],
        "session_hours": current_app.config["ADMIN_SESSION_HOURS"],
        # How a study's link starts (the url of each study is fixed when it is created).
        "link_prefix": current_app.config["STUDY_URL_PREFIX"].rstrip("/") + "/",
    }


def _render_login(error: str | None, status: int, come_back: str | None):
    return render_template("admin/login.html", error=error, next=come_back), status


@bp.route("/login", methods=["GET", "POST"])
@ratelimit.limit_login_attempts  # wrong passwords (401) count, per client, in the database
def login():
    """The password form; the right password starts a session and returns to the page asked for."""
    come_back = session.safe_next(request.values.get("next"), url_for(".overview"))
    if request.method == "GET":
        if auth.has_admin_session():
            return redirect(come_back or url_for(".overview"))
        return _render_login(None, 200, come_back)
    if not auth.csrf_token_matches():
        return _render_login(
            "The login form had expired. Please enter the password again.", 400, come_back
        )
    if not auth.password_matches(request.form.get("password")):
        audit.record(audit.LOGIN_FAILURE)
        return _render_login("That password is not right. Please try again.", 401, come_back)
    session.log_in()
    audit.record(audit.LOGIN_SUCCESS)
    return redirect(come_back or url_for(".overview"), 303)


@bp.post("/logout")
def logout():
    """End the session and show the login page."""
    session.log_out()
    audit.record(audit.LOGOUT)
    flash("You have logged out.", "success")
    return pages.redirect_to(url_for(".login"))


@bp.get("/")
def overview():
    """Participants, studies by type and state, tests by type and the latest arrival."""
    return render_template("admin/overview.html", overview=progress.overview())


@bp.get("/progress")
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
def participant(participant_id):
    """One participant's studies, and every test received with its answers."""
    try:
        details = progress.participant_details(participant_id)
    except progress.ParticipantNotFound:
        abort(404, description=f"No study belongs to a participant with the id {participant_id}.")
    return render_template("admin/participant.html", details=details)


def _create_form(errors_by_field: dict[str, str], status: int, values=None):
    return pages.render_page(
        "admin/create.html",
        "admin/partials/_create_form.html",
        status,
        form_errors=errors_by_field,
        values=values or {},
        max_studies=current_app.config["MAX_STUDIES_PER_REQUEST"],
    )


@bp.get("/studies/new")
def create_studies():
    """The form that creates study links for a list of participants."""
    return _create_form({}, 200)


@bp.post("/studies/new")
def create_studies_submit():
    """Create the studies (all or nothing) and show them; or the form again with its errors."""
    try:
        participant_ids, baselines, followups = creation.batch_from_request(
            request.form, request.files
        )
        created = studies.create_studies(participant_ids, baselines, followups)
    except creation.FormErrors as error:
        return _create_form(error.errors, 422, request.form)
    except studies.InvalidBatch as error:
        return _create_form({creation.FORM_ERROR: error.message}, 422, request.form)
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
def batch(batch_id):
    """The studies one creation made, with their links, and a download of just those."""
    return render_template("admin/batch.html", batch_id=batch_id, studies=_batch_or_404(batch_id))


@bp.get("/batches/<batch_id>/studies.csv")
def batch_csv(batch_id):
    """studies.csv for one creation batch only."""
    _batch_or_404(batch_id)
    return downloads.attachment(downloads.batch_studies_csv(batch_id))


REFUSED_PER_PAGE = 50


@bp.get("/refused")
def refused_list():
    """Submissions refused for a schema error that named a known study, newest first."""
    args = schemas.load(schemas.RefusedQueryArgsSchema, request.args)
    study_id = args["study_id"] or None
    refused = quarantine.list_refused(study_id, page=args["page"], per_page=REFUSED_PER_PAGE)
    return render_template("admin/refused.html", refused=refused, study_id=study_id)


@bp.get("/refused/<quarantine_id>")
def refused_detail(quarantine_id):
    """One refused submission: why it was refused, and exactly what the browser sent."""
    try:
        entry = quarantine.get_refused(quarantine_id)
    except quarantine.RefusedNotFound:
        abort(404, description="There is no refused submission with this id.")
    return render_template(
        "admin/refused_detail.html", entry=entry, body=formatting.readable_body(entry)
    )


@bp.get("/help")
def instructions():
    """How a study runs, from creating links to downloading the results, in plain words."""
    return render_template("admin/help.html")


@bp.route("/<path:unknown>", methods=["GET", "POST"])
def not_found(unknown):
    """Any other address under /admin: the dashboard's own 'not found' page, not API JSON."""
    abort(404)
