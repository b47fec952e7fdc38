"""Audit log of admin actions: who (account or token, and client address) did what, when, how much.

Call `audit.record(action, count=..., **details)` where an admin action succeeds or fails. Details
are small facts (a test type, a participant filter, a file name) and never a password. Every entry
names who acted: the logged-in account, the API token (and its owner), the built-in
ADMIN_PASSWORD admin, or the command line (intact/accounts/principal.py). What `count` counts is
fixed per action (`COUNT_UNITS`); every download is recorded by `downloads.record`, in bytes.
"""

import csv
import io
import json
import logging
from datetime import UTC, datetime

from flask import has_request_context
from pymongo.errors import PyMongoError

from intact import clients, db, paging
from intact.accounts import principal
from intact.paging import Page
from intact.spreadsheet_safety import neutralise
from intact.timestamps import utc_iso

log = logging.getLogger(__name__)

COLLECTION = "audit_log"
# Where the action came from when there is no request: a `flask` command on the server.
COMMAND_LINE = "command line"
# Who acted when nobody was logged in (a refused login, a refused token).
ANONYMOUS = "not logged in"

LOGIN_SUCCESS = "login_success"
LOGIN_FAILURE = "login_failure"
LOGOUT = "logout"
ADMIN_PASSWORD_REFUSED = "admin_password_refused"  # noqa: S105 - an action name
STUDIES_CREATED = "studies_created"
DOWNLOAD = "download"
BACKUP_WRITTEN = "backup_written"
BACKUP_RESTORED = "backup_restored"
RCI_VALUES_SET = "reliable_change_values_set"
RCI_VALUES_CLEARED = "reliable_change_values_cleared"
ACCOUNT_CREATED = "account_created"
ACCOUNT_ROLE_CHANGED = "account_role_changed"
ACCOUNT_DEACTIVATED = "account_deactivated"
ACCOUNT_REACTIVATED = "account_reactivated"
PASSWORD_LINK_CREATED = "password_link_created"  # noqa: S105 - an action name
PASSWORD_SET = "password_set"  # noqa: S105 - an action name
TWO_FACTOR_ENABLED = "two_factor_enabled"
TWO_FACTOR_DISABLED = "two_factor_disabled"
SESSIONS_ENDED = "sessions_ended"
TOKEN_CREATED = "token_created"  # noqa: S105 - an action name
TOKEN_REVOKED = "token_revoked"  # noqa: S105 - an action name
TOKEN_REFUSED = "token_refused"  # noqa: S105 - an action name
DUE_DATE_SET = "due_date_set"
DUE_DATE_CLEARED = "due_date_cleared"
STUDIES_ADDED = "studies_added"
NOTE_ADDED = "participant_note_added"
LINK_REISSUED = "link_reissued"
PARTICIPANT_WITHDRAWN = "participant_withdrawn"
PARTICIPANT_ERASED = "participant_erased"
REFUSED_ACCEPTED = "refused_submission_accepted"
REMINDERS_CHANGED = "reminders_changed"
REMINDERS_SENT = "reminders_sent"

# Every action, with what it means, for people reading the log (the dashboard's filter).
ACTIONS = {
    LOGIN_SUCCESS: "Dashboard login",
    LOGIN_FAILURE: "Dashboard login refused (wrong password)",
    LOGOUT: "Dashboard logout",
    ADMIN_PASSWORD_REFUSED: "Admin request refused (wrong password)",
    STUDIES_CREATED: "Studies created",
    DOWNLOAD: "Data downloaded",
    BACKUP_WRITTEN: "Backup written (flask backup)",
    BACKUP_RESTORED: "Backup restored (flask restore)",
    RCI_VALUES_SET: "Reliable change values set (r, SD1, practice of a score)",
    RCI_VALUES_CLEARED: "Reliable change values cleared",
    ACCOUNT_CREATED: "Account created",
    ACCOUNT_ROLE_CHANGED: "Account role changed",
    ACCOUNT_DEACTIVATED: "Account deactivated",
    ACCOUNT_REACTIVATED: "Account reactivated",
    PASSWORD_LINK_CREATED: "One-time password link made",
    PASSWORD_SET: "Password set or changed",
    TWO_FACTOR_ENABLED: "Two-factor login switched on",
    TWO_FACTOR_DISABLED: "Two-factor login switched off",
    SESSIONS_ENDED: "Sessions ended (log out everywhere)",
    TOKEN_CREATED: "API token created",
    TOKEN_REVOKED: "API token revoked",
    TOKEN_REFUSED: "API token refused (bad, expired or revoked)",
    DUE_DATE_SET: "Follow-up due date set by hand",
    DUE_DATE_CLEARED: "Follow-up due date set by hand cleared (the schedule's applies)",
    STUDIES_ADDED: "Studies added to a participant",
    NOTE_ADDED: "Note added to a participant",
    LINK_REISSUED: "Study link deactivated and reissued",
    PARTICIPANT_WITHDRAWN: "Participant withdrawn",
    PARTICIPANT_ERASED: "Participant erased (all their data deleted)",
    REFUSED_ACCEPTED: "Refused submission accepted into the data",
    REMINDERS_CHANGED: "Reminder e-mails switched on or off (My account)",
    REMINDERS_SENT: "Reminder e-mails sent (flask reminders send)",
}
# What `count` counts, per action: (one, many). Actions not listed carry no count.
COUNT_UNITS = {
    STUDIES_CREATED: ("study", "studies"),
    DOWNLOAD: ("byte", "bytes"),
    BACKUP_WRITTEN: ("document", "documents"),
    BACKUP_RESTORED: ("document", "documents"),
    SESSIONS_ENDED: ("session", "sessions"),
    STUDIES_ADDED: ("study", "studies"),
    PARTICIPANT_WITHDRAWN: ("study", "studies"),
    PARTICIPANT_ERASED: ("document", "documents"),
    REMINDERS_SENT: ("e-mail", "e-mails"),
}
CSV_COLUMNS = ("time", "action", "who", "client", "count", "count_unit", "details")


def actor() -> dict:
    """Who is acting now, as an audit entry names them (see record)."""
    current = principal.current()
    if current is not None:
        return current.audit_fields()
    return {"who": ANONYMOUS if has_request_context() else COMMAND_LINE}


def record(
    action: str,
    *,
    count: int | None = None,
    client: str | None = None,
    who: dict | None = None,
    **details,
) -> None:
    """Store one audit entry now; an unreachable database is logged, never raised.

    The action being audited has already happened (or been refused); failing it now because the
    log could not be written would only add a second failure. `client` is the request's address
    and `who` the request's account or token (`actor()`) unless given: a download that finishes
    after its request context is gone passes both along.
    A count is allowed only for an action whose unit COUNT_UNITS states (ValueError otherwise),
    so that a count means one thing per action.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if count is not None and action not in COUNT_UNITS:
        raise ValueError(f"audit action {action!r} has no count unit in COUNT_UNITS")
    if client is None:
        client = clients.address() if has_request_context() else COMMAND_LINE
    entry = {
        "time": datetime.now(UTC),
        "action": action,
        **(who or actor()),
        "client": client,
        "count": count,
        "details": details,
    }
    # Details may name participants, which stay out of the application log at INFO.
    log.info("audit: %s (%s)", action, count, extra={"fields": {"action": action, "count": count}})
    try:
        db.collection(COLLECTION).insert_one(entry)
    except PyMongoError:
        log.exception("audit entry not stored: %s", action)


def count_unit(action: str) -> str:
    """What an entry's count counts for this action ("bytes", "studies", …), or ""."""
    return COUNT_UNITS.get(action, ("", ""))[1]


def _filters(action=None, client=None, since=None, until=None) -> dict:
    """A query from exact values only: nothing a user types becomes an operator or a regex."""
    query = {}
    if action:
        query["action"] = str(action)
    if client:
        query["client"] = str(client)
    period = {}
    if since is not None:
        period["$gte"] = since
    if until is not None:
        period["$lt"] = until
    if period:
        query["time"] = period
    return query


def find_entries(*, page: int = 1, per_page: int = paging.DEFAULT_PER_PAGE, **filters) -> Page:
    """One page of the entries matching the filters, newest first (they are counted once)."""
    query = _filters(**filters)
    entries = db.collection(COLLECTION)

    def fetch(skip: int, limit: int) -> list[dict]:
        return list(entries.find(query, {"_id": 0}).sort("time", -1).skip(skip).limit(limit))

    return paging.paginate(entries.count_documents(query), page, per_page, fetch)


def iter_csv(**filters):
    """The matching entries as CSV text, header first, newest first, one chunk per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)

    def row(values):
        writer.writerow([neutralise(value) for value in values])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield row(CSV_COLUMNS)
    query = _filters(**filters)
    for entry in db.collection(COLLECTION).find(query, {"_id": 0}).sort("time", -1):
        yield row(
            [
                utc_iso(entry["time"]),
                entry["action"],
                entry.get("who", ""),
                entry["client"],
                "" if entry.get("count") is None else entry["count"],
                count_unit(entry["action"]) if entry.get("count") is not None else "",
                json.dumps(entry.get("details") or {}, sort_keys=True, default=str),
            ]
        )
