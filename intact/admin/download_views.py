"""Dashboard downloads: the Downloads page and the download forms that it and other pages post.

The forms post here, never to the admin API, so the dashboard's login, CSRF token and HTML
errors apply to them. The files themselves are made and handed over by intact/downloads.py,
like every download of the app.
"""

from flask import abort, make_response, render_template, request
from marshmallow import ValidationError

from intact import downloads, exports, pseudonyms, studies
from intact.accounts.permissions import Permission, requires
from intact.admin import bp, schemas
from intact.timestamps import utc_iso

# What each download form of the dashboard posts: its fields, and the download they name (called
# with those fields). The kind is the last part of the form's address and the id of its fields.
FORMS = {
    "archive": (schemas.DownloadFormSchema, downloads.zip_archive),
    "test-type": (schemas.TestTypeDownloadFormSchema, downloads.test_type_csv),
    "studies": (schemas.DownloadFormSchema, downloads.studies_csv),
    "summary": (schemas.DownloadFormSchema, downloads.summary_csv),
    "workbook": (schemas.DownloadFormSchema, downloads.workbook),
    "redcap": (schemas.DownloadFormSchema, downloads.redcap_zip),
}


def _downloads_page(status: int = 200, form_errors: dict | None = None, values: dict | None = None):
    page = render_template(
        "admin/downloads.html",
        exportable=exports.EXPORTABLE_TEST_TYPES,
        form_errors=form_errors or {},
        values=values or {},
        new_since=_new_since(),
        deidentification_available=pseudonyms.is_available(),
        only_deidentified=not downloads.may_download_identifiable(),
    )
    return make_response(page, status)


def _new_since() -> dict | None:
    """ "New since <date> (N tests)": where this person's last download of everything ended."""
    found = downloads.new_since()
    if found is None:
        return None
    moment, count = found
    return {"moment": moment, "since": utc_iso(moment), "count": count}


@bp.get("/downloads", endpoint="downloads")
@requires(Permission.DOWNLOAD_DEIDENTIFIED)
def downloads_page():
    """Download the studies, every result as a ZIP, one test's results, the scores."""
    return _downloads_page()


@bp.post("/downloads/<kind>")
@requires(Permission.DOWNLOAD_DEIDENTIFIED)
def download(kind):
    """The file a download form names (FORMS), for everyone or one participant.

    A form that cannot be used comes back as the Downloads page with the problem beside the field
    (422); nothing is downloaded.
    """
    if kind not in FORMS:
        abort(404)
    schema, named_download = FORMS[kind]
    try:
        form = schema().load(request.form)
    except ValidationError as error:
        return _downloads_page(
            422, {kind: schemas.field_errors(error)}, {kind: request.form.to_dict()}
        )
    try:
        download = named_download(**form)
    except studies.ParticipantNotFound as error:
        # Said beside the field: a header-only file would look like a participant who did nothing.
        return _downloads_page(
            404, {kind: {"participant_id": error.message}}, {kind: request.form.to_dict()}
        )
    return downloads.attachment(download)
