"""Logging: JSON lines when not on a terminal, and one line per request."""

import json
import logging
import re
import sys
import time

from flask import g, request

_HANDLER_NAME = "intact"
CONVERTER_NAME = re.compile(r"<[^:<>]+:")


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record):
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(level: str, stream=None) -> None:
    """Install one handler on the root logger (idempotent: tests build many apps)."""
    stream = stream or sys.stderr
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler(stream)
        handler.set_name(_HANDLER_NAME)
        root.addHandler(handler)
    if stream.isatty():
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonLineFormatter())
    # Levels are checked where a record is made, so the app's own loggers decide.
    logging.getLogger("intact").setLevel(level)


def init_request_log(app) -> None:
    """Log method, route, status and duration of every request."""
    log = logging.getLogger("intact.request")

    @app.before_request
    def _start_timer():
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        started = g.get("request_started")
        duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
        # The route pattern, not the raw path: a study id in a URL is a participant's credential.
        # Without converter names: /studies/<study_id>, as the README documents the routes.
        route = CONVERTER_NAME.sub("<", request.url_rule.rule) if request.url_rule else request.path
        fields = {
            "method": request.method,
            "path": route,
            "status": response.status_code,
            "duration_ms": duration_ms,
        }
        log.info(
            "%s %s %s %sms",
            request.method,
            route,
            response.status_code,
            duration_ms,
            extra={"fields": fields},
        )
        return response
