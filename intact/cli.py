"""`flask` commands and the `flask shell` context for developers."""

from flask import current_app

from intact import db


def init_app(app) -> None:
    """Register the shell context and the CLI commands."""

    @app.shell_context_processor
    def _shell_context():
        return {
            "db": db.get_db(),
            "studies": db.studies(),
            "tests": db.tests(),
            "config": current_app.config,
        }
