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

from intact import archive, audit, clients, exports, studies, summaries
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


def studies_csv(participant_id: str | None = None) -> Download:
    """studies.csv: every study (or one participant's), with its link and dates."""
    _known(participant_id)
    return Download(
        exports.STUDIES_FILE,
        CSV_MIMETYPE,
        exports.studies_csv(participant_id),
        {"participant_id": participant_id},
    )


def test_type_csv(test_type: str, participant_id: str | None = None) -> Download:
    """<test_type>.csv: one test type's results (or unclassified.csv)."""
    _known(participant_id)
    return Download(
        f"{test_type}.csv",
        CSV_MIMETYPE,
        exports.test_type_csv(test_type, participant_id),
        {"participant_id": participant_id, "test_type": test_type},
    )


def zip_archive(participant_id: str | None = None) -> Download:
    """intact-data[-<participant>]-<UTC time>.zip: every table as CSV with the codebook."""
    _known(participant_id)
    return Download(
        stamped_file_name(_whose("intact-data", participant_id), "zip"),
        ZIP_MIMETYPE,
        archive.zip_archive(participant_id),
        {"participant_id": participant_id},
    )


def summary_csv(participant_id: str | None = None) -> Download:
    """summary.csv: the derived scores, one row per study."""
    _known(participant_id)
    return Download(
        summaries.SUMMARY_FILE,
        CSV_MIMETYPE,
        summaries.summary_csv(participant_id),
        {"participant_id": participant_id},
    )


def workbook(participant_id: str | None = None) -> Download:
    """intact-scores[-<participant>]-<UTC time>.xlsx: the ZIP's tables as sheets, and codebook."""
    _known(participant_id)
    return Download(
        stamped_file_name(_whose("intact-scores", participant_id), "xlsx"),
        XLSX_MIMETYPE,
        archive.workbook_chunks(participant_id),
        {"participant_id": participant_id},
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


def _whose(stem: str, participant_id: str | None) -> str:
    return f"{stem}-{participant_id}" if participant_id else stem


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
