"""Dashboard page of the audit log: who did what and when, filtered, and as a CSV download."""

from datetime import UTC, datetime, time, timedelta

from flask import request, url_for
from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

from intact import audit, downloads
from intact.admin import add_to_menu, bp, errors, pages, schemas
from intact.admin import views as _dashboard_views  # noqa: F401 - its menu entries come first

ENTRIES_PER_PAGE = 50

add_to_menu("dashboard.audit_log", "Audit log")


class AuditQueryArgsSchema(Schema):
    """Which entries to show: an action, a client address, a period of whole days, a page."""

    class Meta:
        unknown = EXCLUDE

    action = fields.String(
        load_default="",
        validate=validate.OneOf(["", *audit.ACTIONS], error="Choose an action from the list."),
    )
    client = fields.String(load_default="", validate=validate.Length(max=100))
    since = fields.Date(load_default=None, error_messages={"invalid": "A date like 2026-11-20."})
    until = fields.Date(load_default=None, error_messages={"invalid": "A date like 2026-11-20."})
    page = fields.Integer(
        load_default=1, validate=validate.Range(min=1, error="The page number starts at 1.")
    )

    @pre_load
    def drop_blank_fields(self, data, **kwargs):
        """The filter form sends every field; an empty one means "any"."""
        return {key: value for key, value in data.items() if value.strip()}


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
    """Query-string arguments for these filters, defaults left out."""
    values = {**args, **changes}
    return {
        key: value.isoformat() if hasattr(value, "isoformat") else value
        for key, value in values.items()
        if value not in ("", None) and not (key == "page" and value == 1)
    }


@bp.get("/audit")
def audit_log():
    """Every admin action, newest first: logins, studies created, downloads, backups."""
    try:
        args = AuditQueryArgsSchema().load(request.args)
    except ValidationError as error:
        return errors.error_page(400, None, schemas.plain_errors(error))
    filters = _filters(args)
    total = audit.count_entries(**filters)
    pages_count = max(1, -(-total // ENTRIES_PER_PAGE))
    page = min(args["page"], pages_count)
    entries, _ = audit.find_entries(
        limit=ENTRIES_PER_PAGE, offset=(page - 1) * ENTRIES_PER_PAGE, **filters
    )
    return pages.render_page(
        "admin/audit.html",
        "admin/partials/_audit_table.html",
        entries=entries,
        total=total,
        page=page,
        pages=pages_count,
        args=args,
        page_args=_page_args,
        actions=audit.ACTIONS,
        count_units=audit.COUNT_UNITS,
        csv_url=url_for(".audit_log_csv", **_page_args(args, page=1)),
    )


@bp.get("/audit.csv")
def audit_log_csv():
    """The entries the page's filters select, as CSV."""
    try:
        args = AuditQueryArgsSchema().load(request.args)
    except ValidationError as error:
        return errors.error_page(400, None, schemas.plain_errors(error))
    return downloads.attachment(downloads.audit_log_csv(**_filters(args)))
