"""Dashboard page of the audit log: who did what and when, filtered, and as a CSV download."""

from datetime import UTC, datetime, time, timedelta

from flask import request, url_for

from intact import audit, downloads
from intact.accounts.permissions import Permission, requires
from intact.admin import bp, pages, schemas

ENTRIES_PER_PAGE = 50


def _filters(args: dict) -> dict:
    """The audit module's filters from the page's: whole days in UTC, `until` included."""
    return {
        "action": args["action"] or None,
        "client": args["client"].strip() or None,
        "since": datetime.combine(args["since"], time(), UTC) if args["since"] else None,
        "until": (
            datetime.combine(args["until"] + timedelta(days=1), time(), UTC)
            if args["until"]
            else None
        ),
    }


def _page_args(args: dict, **changes) -> dict:
    return schemas.link_args(schemas.AuditQueryArgsSchema, args, **changes)


@bp.get("/audit")
@requires(Permission.SEE_AUDIT_LOG)
def audit_log():
    """Every admin action, newest first: logins, studies created, downloads, backups."""
    args = schemas.load(schemas.AuditQueryArgsSchema, request.args)
    entries = audit.find_entries(page=args["page"], per_page=ENTRIES_PER_PAGE, **_filters(args))
    return pages.render_page(
        "admin/audit.html",
        "admin/partials/_audit_table.html",
        entries=entries,
        args=args,
        page_args=_page_args,
        actions=audit.ACTIONS,
        count_units=audit.COUNT_UNITS,
        csv_url=url_for(".audit_log_csv", **_page_args(args, page=1)),
    )


@bp.get("/audit.csv")
@requires(Permission.SEE_AUDIT_LOG)
def audit_log_csv():
    """The entries the page's filters select, as CSV."""
    args = schemas.load(schemas.AuditQueryArgsSchema, request.args)
    return downloads.attachment(downloads.audit_log_csv(**_filters(args)))
