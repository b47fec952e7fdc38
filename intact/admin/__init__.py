"""The researcher dashboard at /admin: HTML pages and htmx fragments behind a login session."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__, url_prefix="/admin")

# The dashboard's menu, in order: (endpoint, label). Other modules that add a dashboard page
# call `add_to_menu`; an entry whose endpoint is not registered is not shown.
MENU: list[tuple[str, str]] = []
# Entries that stay at the end of the menu whatever is added later (the help page).
MENU_LAST: list[tuple[str, str]] = []


def add_to_menu(endpoint: str, label: str, *, last: bool = False) -> None:
    """Show a page in the menu (once, in the order added; `last` keeps it at the end)."""
    entries = MENU_LAST if last else MENU
    if (endpoint, label) not in entries:
        entries.append((endpoint, label))


def init_app(app) -> None:
    """Register the dashboard: its session settings, template filters, views and error pages."""
    # Imported here, not at the top: the views module registers its routes on `bp` above.
    from intact.admin import (  # noqa: F401, PLC0415
        audit_log,
        download_views,
        formatting,
        scores,
        session,
        views,
    )

    session.init_app(app)
    formatting.init_app(app)
    app.register_blueprint(bp)
