"""The researcher dashboard at /admin: HTML pages and htmx fragments behind a login session."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__, url_prefix="/admin")

# The dashboard's menu, in order: (endpoint, label). Other modules that add a dashboard page
# append to it with `add_to_menu`; an entry whose endpoint is not registered is not shown.
MENU: list[tuple[str, str]] = []


def add_to_menu(endpoint: str, label: str) -> None:
    """Show a page in the dashboard's menu (once, in the order added)."""
    if (endpoint, label) not in MENU:
        MENU.append((endpoint, label))


def init_app(app) -> None:
    """Register the dashboard: its session settings, template filters, views and error pages."""
    # Imported here, not at the top: the views module registers its routes on `bp` above.
    from intact.admin import formatting, scores, session, views  # noqa: F401, PLC0415

    session.init_app(app)
    formatting.init_app(app)
    app.register_blueprint(bp)
