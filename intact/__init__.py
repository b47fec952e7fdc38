"""INTACT backend: the application factory.

The factory imports the app's parts when it runs, as Flask's tutorial (flaskr) does, not when
this package is imported: gunicorn's master imports `intact.config`, and with it this file,
before gevent patches the workers, and neither Flask nor PyMongo may be imported by then.
"""

import logging
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


def create_app(test_config=None):
    """Build the app from the environment (and `.env`), or from the mapping a test passes.

    A test's mapping is read exactly like an environment, so tests exercise the real parsing.
    """
    from dotenv import load_dotenv  # noqa: PLC0415 - see the module docstring
    from flask import Flask  # noqa: PLC0415

    from intact import (  # noqa: PLC0415
        accounts,
        admin,
        api,
        cli,
        clients,
        config,
        db,
        deferred,
        errors,
        health,
        identifiers,
        logs,
        participants,
        ratelimit,
        reminders,
        request_body,
        request_stream,
        security_headers,
    )

    if test_config is None:
        load_dotenv(PROJECT_ROOT / ".env")
        environ = os.environ
    else:
        environ = test_config
    settings = config.load(environ)

    app = Flask(
        __name__,
        static_folder=str(PROJECT_ROOT / "static"),
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    app.config.update(settings)
    app.json.sort_keys = False

    # First: its after-request hook then runs last and sees the final response.
    deferred.init_app(app)
    logs.configure(settings["LOG_LEVEL"])
    logs.init_request_log(app)
    request_body.init_app(app)
    # Before any blueprint: their URL rules use the id converters.
    identifiers.init_app(app)
    clients.init_app(app)
    request_stream.init_app(app)
    db.init_app(app, settings)
    participants.init_app(app)
    ratelimit.init_app(app)
    security_headers.init_app(app)
    accounts.init_app(app)
    app.register_blueprint(health.bp)
    api.init_app(app)
    admin.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    reminders.init_app(app)
    log.debug("app ready on %s", db.describe(settings))
    return app
