"""Every file the app hands over, and the one way it is handed over.

The admin API (scripts), the dashboard, `flask export` and `flask export-summary` name a download
here (`zip_archive(participant_id)`, `audit_log_csv(...)`, …) and hand it over with `attachment`
(an HTTP response) or `save` (a file on the server). So the attachment headers, the streaming
and the audit entry of a download are decided in this module only; a check of who may download
what belongs in `attachment` and `save` too.

The audit entry of every download counts **bytes**: those that left (`completed` says whether the
client took the whole file), whatever the file holds.
"""

import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from flask import Response, current_app
from werkzeug.http import dump_options_header

from intact import audit, clients, db, exports, pseudonyms, studies, summaries
from intact.accounts import permissions, principal
from intact.accounts.guard import PermissionDenied
from intact.accounts.permissions import Permission
from intact.exports import archive, redcap
from intact.participants import followups, schedule

CSV_MIMETYPE = "text/csv"
ZIP_MIMETYPE = "application/zip"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Characters RFC 5987's attr-char allows unencoded in `filename*` (besides letters and digits).
_ATTR_CHARS = "!#$&+-.^_`|~"


@dataclass(frozen=True)
class Download:
    """A file to hand over: its name, its content type, its bytes, and facts for the audit log.

    `chunks` is consumed once, lazily: nothing is read from the database before it is iterated.
    `details` go into the audit entry (a participant filter, a test type, a batch id).
    """

    file_name: str
    mimetype: str
    chunks: Iterable[bytes]
    details: dict = field(default_factory=dict)


# --- what can be downloaded --------------------------------------------------------------------


def selection(
    participant_id: str | None = None,
    since: datetime | None = None,
    deidentified: bool = False,
    days_since_baseline: bool = False,
) -> exports.Selection:
    """What a download holds, from a form's fields: whose data, since when, de-identified or not.

    Every download's selection is made here, so every one refuses the same faults: raises
    studies.ParticipantNotFound for a participant filter that matches nobody (a header-only file
    would look like a participant who did nothing), pseudonyms.PseudonymKeyMissing for a
    de-identified download without PSEUDONYM_KEY, IdentifiableDownloadRefused (403) for an
    identifiable download asked by a role that may have de-identified ones only (an analyst).
    """
    if not deidentified and not may_download_identifiable():
        raise IdentifiableDownloadRefused
    _known(participant_id)
    if deidentified and not pseudonyms.is_available():
        raise pseudonyms.PseudonymKeyMissing
    return exports.Selection(
        participant_id,
        exports.Window.up_to_now(since),
        deidentified=deidentified,
        days_since_baseline=days_since_baseline,
    )


class IdentifiableDownloadRefused(PermissionDenied):
    """403: this role may download de-identified data only (issue 11's table: analysts)."""

    def __init__(self):
        who = principal.current()
        super().__init__(
            f"Your role ({who.role if who else 'none'}) may download de-identified data only: "
            "ask for it with deidentified=true (the De-identified box on the Downloads page)."
        )


def may_download_identifiable() -> bool:
    """Whether whoever asks may have identifiable files (the command line: the operator may)."""
    who = principal.current()
    return who is None or permissions.allowed(who, Permission.DOWNLOAD_IDENTIFIABLE)


def _details(chosen: exports.Selection, **more) -> dict:
    """What the audit entry says of a selection: filter, window, de-identified or not."""
    return {
        "participant_id": chosen.participant_id,
        "since": chosen.since,
        "until": chosen.window.until,
        "deidentified": chosen.deidentified or None,
        "person": person(),
        **more,
    }


# --- "new since my last download" --------------------------------------------------------------

# Whoever holds ADMIN_PASSWORD, as "new since" knows them (named accounts by their id).
BUILT_IN_ADMIN = "built-in admin"
# The audit entries of downloads that hold everything (of everyone, in the window): after one,
# "new since" continues where it ended.
EVERYTHING = "everything"


def person() -> str | None:
    """Who is downloading, as "new since" knows them: the account's id (a session or one of its
    API tokens), the built-in admin, or None on the command line (it moves nobody's window)."""
    who = principal.current()
    if who is None:
        return None
    return who.account_id or BUILT_IN_ADMIN


def last_download_end(who: str | None = None):
    """When the window of `who`'s last complete download of everything ended; None if never.

    Read from the audit log (intact/audit.py): the ZIP or workbook of every participant that
    the client took to its end. A download cut off halfway does not count.
    """
    entry = db.collection(audit.COLLECTION).find_one(
        {
            "action": audit.DOWNLOAD,
            "details.kind": EVERYTHING,
            "details.completed": True,
            "details.person": who or person(),
        },
        {"_id": 0, "details.until": 1},
        sort=[("time", -1)],
    )
    return entry["details"].get("until") if entry else None


def new_since(who: str | None = None):
    """(since, tests received from then) for "new since <date> (N tests)", or None if never."""
    if who is None and person() is None:
        return None
    since = last_download_end(who)
    if since is None:
        return None
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return since, db.count("tests", {"received_at": {"$gte": since}})


def _single_file_name(chosen: exports.Selection, name: str) -> str:
    """The original's fixed name (`summary.csv`) for everything; else it says what it holds."""
    if chosen.since is None and not chosen.deidentified:
        return f"{name}.csv"
    return chosen.file_name(name, "csv")


def studies_csv(participant_id: str | None = None, **options) -> Download:
    """studies.csv: every study (or one participant's), with its link and dates."""
    chosen = selection(participant_id, **options)
    return Download(
        _single_file_name(chosen, "studies"),
        CSV_MIMETYPE,
        archive.one_csv(chosen, lambda: exports.studies_table(chosen)),
        _details(chosen),
    )


def test_type_csv(test_type: str, participant_id: str | None = None, **options) -> Download:
    """<test_type>.csv: one test type's results (or unclassified.csv)."""
    chosen = selection(participant_id, **options)
    return Download(
        _single_file_name(chosen, test_type),
        CSV_MIMETYPE,
        archive.one_csv(chosen, lambda: exports.result_table(test_type, chosen)),
        _details(chosen, test_type=test_type),
    )


def zip_archive(participant_id: str | None = None, **options) -> Download:
    """intact-data[-<participant>]-<window>.zip: every table as CSV with the codebook."""
    chosen = selection(participant_id, **options)
    return Download(
        chosen.file_name("intact-data", "zip"),
        ZIP_MIMETYPE,
        archive.zip_archive(chosen),
        _details(chosen, kind=None if chosen.participant_id else EVERYTHING),
    )


def summary_csv(participant_id: str | None = None, **options) -> Download:
    """summary.csv: the derived scores, one row per study."""
    chosen = selection(participant_id, **options)
    scores = summaries.ScoresPass(chosen, baseline_starts=chosen.days_since_baseline)
    return Download(
        _single_file_name(chosen, "summary"),
        CSV_MIMETYPE,
        archive.one_csv(chosen, lambda: summaries.summary_table(scores), scores),
        _details(chosen),
    )


def workbook(participant_id: str | None = None, **options) -> Download:
    """intact-scores[-<participant>]-<window>.xlsx: the ZIP's tables as sheets, and codebook."""
    chosen = selection(participant_id, **options)
    return Download(
        chosen.file_name("intact-scores", "xlsx"),
        XLSX_MIMETYPE,
        archive.workbook_chunks(chosen),
        _details(chosen, kind=None if chosen.participant_id else EVERYTHING),
    )


def redcap_zip(participant_id: str | None = None, **options) -> Download:
    """intact-redcap[-<participant>]-<window>.zip: the scores as a REDCap project's import."""
    chosen = selection(participant_id, **options)
    return Download(
        chosen.file_name("intact-redcap", "zip"),
        ZIP_MIMETYPE,
        redcap.redcap_zip(chosen),
        _details(chosen),
    )


def batch_studies_csv(batch_id: str) -> Download:
    """studies.csv of one creation batch only."""
    return Download(
        stamped_file_name("studies-new", "csv"),
        CSV_MIMETYPE,
        exports.studies_csv(batch_id=batch_id),
        {"batch_id": batch_id},
    )


# due.csv, for a mail merge: one row per due or overdue follow-up, with the link to send.
DUE_COLUMNS = (
    "participant_id",
    "followup_number",
    "followup",
    "due_date",
    "window_opens",
    "window_closes",
    "days_left",
    "schedule_state",
    "due_date_set_by_hand",
    "study_id",
    "url",
)


def due_csv(today=None) -> Download:
    """due-<UTC time>.csv: every due and overdue follow-up, as on the Due page (dates UTC).

    `days_left` is negative once the due date has passed.
    """
    today = today or schedule.utc_today()

    def rows():
        window = timedelta(days=current_app.config["FOLLOWUP_WINDOW_DAYS"])
        for study in schedule.due_studies(today):
            yield (
                study.participant_id,
                study.followup_number,
                followups.label("followup", study.followup_number),
                study.due_date.isoformat(),
                (study.due_date - window).isoformat(),
                (study.due_date + window).isoformat(),
                study.days_left,
                study.state,
                exports.cell(study.set_by_hand),
                study.study_id,
                study.url,
            )

    return Download(
        stamped_file_name("due", "csv"),
        CSV_MIMETYPE,
        exports.csv_chunks(DUE_COLUMNS, rows()),
        {"today": today.isoformat()},
    )


def audit_log_csv(**filters) -> Download:
    """The audit log's entries that match `audit.find_entries`-style filters, as CSV."""
    return Download(
        stamped_file_name("audit-log", "csv"),
        CSV_MIMETYPE,
        (text.encode() for text in audit.iter_csv(**filters)),
        {"filters": {name: str(value) for name, value in filters.items() if value} or None},
    )


def _known(participant_id: str | None) -> None:
    """A participant filter must name a participant: studies.ParticipantNotFound otherwise."""
    if participant_id is not None:
        studies.require_participant(participant_id)


def stamped_file_name(stem: str, suffix: str, now: datetime | None = None) -> str:
    """<stem>-<UTC time>.<suffix>: downloads do not overwrite each other."""
    return f"{stem}-{(now or datetime.now(UTC)).strftime('%Y%m%dT%H%M%SZ')}.{suffix}"


# --- handing it over ---------------------------------------------------------------------------


def content_disposition(file_name: str) -> str:
    """`attachment` with the file name, for every browser (RFC 6266 §4.3, RFC 5987).

    An ASCII name goes as `filename=`. Any other name (a participant id in Chinese, say) goes as
    `filename*=UTF-8''<percent-encoded>`, which browsers prefer, plus an ASCII `filename=`
    fallback for those that do not read it: raw non-ASCII bytes in a header are refused by
    gunicorn (a 500) or misread by browsers.
    """
    if file_name.isascii():
        return dump_options_header("attachment", {"filename": file_name})
    fallback = unicodedata.normalize("NFKD", file_name).encode("ascii", "ignore").decode()
    encoded = quote(file_name, safe=_ATTR_CHARS)
    return dump_options_header(
        "attachment", {"filename": fallback, "filename*": f"UTF-8''{encoded}"}
    )


def attachment(download: Download) -> Response:
    """The download as a streamed attachment; its audit entry is written when the stream ends.

    The first piece is made before the answer starts: an unreachable database raises here, in
    the view, and the caller's blueprint answers its own 503 (JSON for the API, a page for the
    dashboard) rather than a download that breaks off after its headers.
    """
    chunks = iter(download.chunks)
    first = next(chunks, b"")
    # Who and from where are read now: the stream ends after the request context is gone.
    requester = {"client": clients.address(), "who": audit.actor()}
    body = _stream(current_app._get_current_object(), download, first, chunks, requester)
    response = Response(body, mimetype=download.mimetype)
    response.headers["Content-Disposition"] = content_disposition(download.file_name)
    response.headers["Cache-Control"] = "no-store"
    return response


def _stream(app, download: Download, first: bytes, rest: Iterator[bytes], requester: dict):
    """first, then each further piece made inside its own app context; recorded when it ends.

    A context per piece rather than one for the whole download (stream_with_context): two
    downloads served in turn by one thread then never pop each other's context.
    """
    sent, completed = len(first), False
    try:
        # Inside the try: a client that hangs up after the first piece must reach the finally too.
        yield first
        while True:
            with app.app_context():
                piece = next(rest, None)
            if piece is None:
                completed = True
                return
            sent += len(piece)
            yield piece
    finally:
        with app.app_context():
            # A client that hung up: let the export close its database cursors.
            close = getattr(rest, "close", None)
            if close is not None:
                close()
            record(download, sent, completed, **requester)


def save(download: Download, path: Path) -> int:
    """Write the download to `path` and record it; the number of bytes written.

    On any failure the half-written file is removed (never half an archive that looks whole)
    and nothing is recorded.
    """
    written = 0
    # A folder named in the path (exports/…) is made, as `backup` makes its folder.
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("wb") as handle:
            for piece in download.chunks:
                handle.write(piece)
                written += len(piece)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    record(download, written, completed=True, file=str(path))
    return written


def record(
    download: Download,
    sent: int,
    completed: bool,
    *,
    client: str | None = None,
    who: dict | None = None,
    file: str | None = None,
) -> None:
    """The audit entry of a download: `count` is the bytes that left, whatever the file.

    `file` is the name it went out under (the attachment's name, or the path `save` wrote).
    """
    details = {key: value for key, value in download.details.items() if value is not None}
    audit.record(
        audit.DOWNLOAD,
        count=sent,
        client=client,
        who=who,
        file=file or download.file_name,
        completed=completed,
        **details,
    )
