"""Dashboard views: each reads the request, calls a service function and renders a template."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from intact import audit, auth, progress, ratelimit
from intact.admin import MENU, add_to_menu, bp, errors, pages, schemas, session
from intact.testtypes import TEST_TYPES

PUBLIC_ENDPOINTS = frozenset({"dashboard.login"})

errors.init_blueprint(bp)
add_to_menu("dashboard.overview", "Overview")
add_to_menu("dashboard.progress_grid", "Progress")
add_to_menu("dashboard.instructions", "How it works")


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
        "menu": [(e, label) for e, label in MENU if e in current_app.view_functions],
        "test_types": TEST_TYPES,
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
    try:
        query = schemas.grid_query(request.args)
    except ValidationError as error:
        return errors.error_page(
            400,
            "The address asks for a search the dashboard does not understand.",
            schemas.plain_errors(error),
        )
    grid = progress.progress_grid(query)
    return pages.render_page(
        "admin/progress.html",
        "admin/partials/_progress_table.html",
        grid=grid,
        grid_args=schemas.grid_args,
    )


@bp.get("/participants/<participant_id>")
def participant(participant_id):
    """One participant's studies, and every test received with its answers."""
    try:
        details = progress.participant_details(participant_id)
    except progress.ParticipantNotFound:
        abort(404, description=f"No study belongs to a participant with the id {participant_id}.")
    return render_template("admin/participant.html", details=details)


@bp.get("/help")
def instructions():
    """How a study runs, from creating links to downloading the results, in plain words."""
    return render_template("admin/help.html")


@bp.route("/<path:unknown>", methods=["GET", "POST"])
def not_found(unknown):
    """Any other address under /admin: the dashboard's own 'not found' page, not API JSON."""
    abort(404)
