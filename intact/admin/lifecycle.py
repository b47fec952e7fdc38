"""Dashboard pages for a participant's life: add studies, notes, reissue a link, withdraw, erase,
and accept a result refused because its link was closed.

Each action that changes more than a note has its own confirmation page (GET) that says what will
happen and asks why; its form posts to the same address. A refused form comes back with its
message beside the field (422); success goes back to the participant page with a message. The
work and the audit entries are intact/participants/lifecycle.py's.
"""

from flask import abort, flash, render_template, request, url_for
from marshmallow import ValidationError

from intact import quarantine, studies
from intact.accounts.permissions import Permission, requires
from intact.admin import bp, pages, schemas, views
from intact.identifiers import normalise_participant_id
from intact.participants import lifecycle, notes
from intact.participants.followups import label

FORM_ERROR = "form"
ACTIONS = {
    "add": "Add studies",
    "withdraw": "Withdraw participant",
    "erase": "Erase participant",
    "reissue": "Deactivate and reissue link",
}


def _participant_or_404(participant_id: str) -> None:
    try:
        studies.require_participant(participant_id)
    except studies.ParticipantNotFound:
        abort(404, description=f"No study belongs to a participant with the id {participant_id}.")


def _study_or_404(study_id: str) -> dict:
    try:
        return studies.find_study(study_id)
    except studies.StudyNotFound:
        abort(404, description="No study has this id.")


def _confirm_page(action: str, participant_id: str, status=200, errors=None, values=None, **more):
    return (
        render_template(
            "admin/participant_action.html",
            action=action,
            title=ACTIONS[action],
            participant_id=participant_id,
            withdrawal=lifecycle.withdrawal_of(participant_id),
            errors=errors or {},
            values=values or {},
            **more,
        ),
        status,
    )


def _back_to(participant_id: str):
    return pages.redirect_to(url_for(".participant", participant_id=participant_id))


def _load(schema, form) -> tuple[dict | None, dict]:
    """The form as `schema` reads it, or None and the message per field."""
    try:
        return schema().load(form), {}
    except ValidationError as error:
        return None, schemas.field_errors(error)


# --- add studies -----------------------------------------------------------------------------


@bp.get("/participants/<participant:participant_id>/studies/new")
@requires(Permission.MANAGE_STUDIES)
def add_studies(participant_id):
    """Ask how many studies to add to this participant, and why."""
    _participant_or_404(participant_id)
    return _confirm_page("add", participant_id, values={"baselines": 0, "followups": 1})


@bp.post("/participants/<participant:participant_id>/studies/new")
@requires(Permission.MANAGE_STUDIES)
def add_studies_submit(participant_id):
    """Create the studies (follow-up numbers continue) and go back to the participant."""
    _participant_or_404(participant_id)
    form, errors = _load(schemas.AddStudiesFormSchema, request.form)
    if form is None:
        return _confirm_page("add", participant_id, 422, errors, request.form)
    try:
        created = lifecycle.add_studies(
            participant_id, form["baselines"], form["followups"], form["reason"]
        )
    except (lifecycle.LifecycleRefused, studies.InvalidBatch) as error:
        return _confirm_page("add", participant_id, 422, {FORM_ERROR: error.message}, request.form)
    names = ", ".join(label(s["study_type"], s.get("followup_number")) for s in created)
    flash(f"Added {names} for {participant_id}: the new links are below.", "success")
    return _back_to(participant_id)


# --- notes -------------------------------------------------------------------------------------


@bp.post("/participants/<participant:participant_id>/notes")
@requires(Permission.MANAGE_STUDIES)
def add_note(participant_id):
    """Add a dated, signed note to the participant page; or the page again with the problem."""
    _participant_or_404(participant_id)
    form, errors = _load(schemas.NoteFormSchema, request.form)
    try:
        if form is None:
            raise notes.InvalidNote(errors["text"])
        notes.add_note(participant_id, form["text"])
    except notes.InvalidNote as error:
        return views.participant_page(
            participant_id, 422, note_error=error.message, note_text=request.form.get("text", "")
        )
    flash("Note added.", "success")
    return pages.redirect_to(url_for(".participant", participant_id=participant_id) + "#notes")


# --- deactivate and reissue a link ----------------------------------------------------------


@bp.get("/studies/<study:study_id>/reissue")
@requires(Permission.MANAGE_STUDIES)
def reissue(study_id):
    """Say what deactivating this link does, and ask why."""
    study = _study_or_404(study_id)
    return _confirm_page("reissue", study["participant_id"], study=study)


@bp.post("/studies/<study:study_id>/reissue")
@requires(Permission.MANAGE_STUDIES)
def reissue_submit(study_id):
    """Deactivate the link, make its replacement, and show both on the participant page."""
    study = _study_or_404(study_id)
    form, errors = _load(schemas.ReasonFormSchema, request.form)
    if form is None:
        return _confirm_page("reissue", study["participant_id"], 422, errors, study=study)
    try:
        new = lifecycle.reissue(study["study_id"], form["reason"])
    except lifecycle.LifecycleRefused as error:
        return _confirm_page(
            "reissue", study["participant_id"], 422, {FORM_ERROR: error.message}, study=study
        )
    flash(
        f"{label(new['study_type'], new.get('followup_number'))}: link {study['study_id']} is "
        f"deactivated; the new link is {new['url']}",
        "success",
    )
    return _back_to(study["participant_id"])


# --- withdraw and erase -----------------------------------------------------------------------


@bp.get("/participants/<participant:participant_id>/withdraw")
@requires(Permission.MANAGE_STUDIES)
def withdraw(participant_id):
    """Say what withdrawing does (links closed, data kept), and ask why."""
    _participant_or_404(participant_id)
    return _confirm_page("withdraw", participant_id)


@bp.post("/participants/<participant:participant_id>/withdraw")
@requires(Permission.MANAGE_STUDIES)
def withdraw_submit(participant_id):
    """Withdraw the participant and go back to their page, which now says so."""
    _participant_or_404(participant_id)
    form, errors = _load(schemas.ReasonFormSchema, request.form)
    if form is None:
        return _confirm_page("withdraw", participant_id, 422, errors)
    try:
        lifecycle.withdraw(participant_id, form["reason"])
    except lifecycle.LifecycleRefused as error:
        return _confirm_page("withdraw", participant_id, 422, {FORM_ERROR: error.message})
    flash(f"{participant_id} is withdrawn: their links no longer work; their data stay.", "success")
    return _back_to(participant_id)


@bp.get("/participants/<participant:participant_id>/erase")
@requires(Permission.ERASE_PARTICIPANTS)
def erase(participant_id):
    """Say what erasing deletes, and ask for the reason and the participant id typed again."""
    _participant_or_404(participant_id)
    return _confirm_page("erase", participant_id)


@bp.post("/participants/<participant:participant_id>/erase")
@requires(Permission.ERASE_PARTICIPANTS)
def erase_submit(participant_id):
    """Erase the participant once their id is typed again; then the progress page."""
    _participant_or_404(participant_id)
    form, errors = _load(schemas.EraseFormSchema, request.form)
    typed = form and normalise_participant_id(form["confirm_participant_id"])
    if form is not None and typed != participant_id:
        errors = {"confirm_participant_id": f"Type {participant_id} exactly, to confirm."}
    if errors:
        values = {"reason": request.form.get("reason", "")}
        return _confirm_page("erase", participant_id, 422, errors, values)
    try:
        erasure = lifecycle.erase(participant_id, form["reason"])
    except lifecycle.LifecycleRefused as error:
        return _confirm_page("erase", participant_id, 422, {FORM_ERROR: error.message})
    flash(
        f"Participant {participant_id} is erased: {erasure.total:,} documents deleted. The audit "
        "log names them only by a keyed hash.",
        "success",
    )
    return pages.redirect_to(url_for(".progress_grid"))


# --- a late result ---------------------------------------------------------------------------


@bp.post("/refused/<quarantine_id>/accept")
@requires(Permission.MANAGE_STUDIES)
def accept_refused(quarantine_id):
    """Store a result refused because its link was closed; back to the participant's page."""
    try:
        test = lifecycle.accept_refused(quarantine_id)
    except quarantine.RefusedNotFound:
        abort(404, description="There is no refused submission with this id.")
    except lifecycle.LifecycleRefused as error:
        flash(error.message, "error")
        return pages.redirect_to(url_for(".refused_detail", quarantine_id=quarantine_id))
    flash("The result is now in the participant's data.", "success")
    return _back_to(test["participant_id"])
