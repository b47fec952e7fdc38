"""The researcher dashboard at /admin: HTML pages and htmx fragments behind a login session."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__, url_prefix="/admin")

# The dashboard's menu, in order: (endpoint, label). A new page adds its line here.
MENU = (
    ("dashboard.overview", "Overview"),
    ("dashboard.progress_grid", "Progress"),
    ("dashboard.due", "Due"),
    ("dashboard.create_studies", "Create studies"),
    ("dashboard.downloads", "Downloads"),
    ("dashboard.refused_list", "Refused submissions"),
    ("dashboard.audit_log", "Audit log"),
    ("dashboard.scores", "Scores"),
    ("dashboard.flagged_tests", "Data quality"),
    ("dashboard.reliable_declines", "Reliable change"),
    ("dashboard.accounts", "Accounts"),
    ("dashboard.my_account", "My account"),
    ("dashboard.instructions", "How it works"),
)


def init_app(app) -> None:
    """Register the dashboard: its session settings, template filters, views and error pages."""
    # Imported here, not at the top: these modules add their routes to `bp` above.
    from intact.admin import (  # noqa: PLC0415
        accounts,  # noqa: F401
        audit_log,  # noqa: F401
        download_views,  # noqa: F401
        due,  # noqa: F401
        errors,
        formatting,
        lifecycle,  # noqa: F401
        login,  # noqa: F401
        my_account,  # noqa: F401
        reliable_change,  # noqa: F401
        scores,  # noqa: F401
        session,
        views,  # noqa: F401
    )

    errors.init_blueprint(bp)
    session.init_app(app)
    formatting.init_app(app)
    app.register_blueprint(bp)
