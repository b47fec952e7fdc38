"""Bring documents stored by earlier versions up to date, once, when the app starts.

Each step is idempotent (it only touches documents that lack what it adds), so every worker may
run it at start-up: the first does the work, the others find nothing to do. When the database is
unreachable at start-up, the steps run after the first request the database answered, as the
indexes do (intact/db.py).
"""

import logging
import sqlite3

from flask import current_app
from pymongo.errors import PyMongoError

from intact.participants import followups

log = logging.getLogger(__name__)

PENDING = "intact_migrations_pending"


def run() -> dict[str, int]:
    """Run every step; return {step: documents changed}."""
    return {"followup numbers": followups.number_unnumbered()}


def init_app(app) -> None:
    """Run the steps now, or after the first answered request if the database is down."""
    with app.app_context():
        _try_to_run(app)
    app.after_request(_retry_pending)


def _try_to_run(app) -> None:
    try:
        changed = run()
    except (PyMongoError, sqlite3.OperationalError) as error:
        log.warning("database not reachable at start-up, stored data not upgraded: %s", error)
        app.extensions[PENDING] = True
        return
    app.extensions.pop(PENDING, None)
    for step, count in changed.items():
        if count:
            log.info("upgraded stored data: %s, %d documents", step, count)


def _retry_pending(response):
    if response.status_code < 500 and current_app.extensions.get(PENDING):
        _try_to_run(current_app._get_current_object())
    return response
