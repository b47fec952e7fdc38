"""gunicorn settings, read from the same environment / `.env` as the app.

The embedded store keeps SQLite handles per thread and reloads a collection whenever another
connection wrote to it, so embedded mode runs one worker with one thread: requests are served
one at a time by a single client. With MongoDB, several workers each hold their own client.
"""

import multiprocessing
import os
import sys

from dotenv import load_dotenv

load_dotenv(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".env"))

# Underscored names: gunicorn reads every public name here as one of its own settings.
from intact import config as _config  # noqa: E402 - the environment must be loaded first
from intact import db as _db  # noqa: E402

try:
    _settings = _config.load(os.environ)
except _config.ConfigError as error:
    sys.stderr.write(f"intact: {error}\n")
    sys.exit(2)

bind = f"{_settings['HOST']}:{_settings['PORT']}"
if _db.store_kind(_settings) == _db.EMBEDDED:
    workers = 1
    worker_class = "sync"
else:
    workers = int(os.environ.get("WEB_CONCURRENCY", str(multiprocessing.cpu_count() * 2 + 1)))
    worker_class = "gthread"
    threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Exports stream large files; give a slow client time before the worker is recycled.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
# The app logs one line per request itself; gunicorn's access log would repeat it.
accesslog = None
errorlog = "-"
loglevel = _settings["LOG_LEVEL"].lower()
# Trust X-Forwarded-* only from addresses the operator names (a reverse proxy).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# No control socket: it would be written into the home directory, and nothing here uses it.
control_socket_disable = True


def when_ready(server):
    """Say where the app is, where its data lives and, locally, how to log in."""
    lines = [
        f"INTACT backend on http://{_settings['HOST']}:{_settings['PORT']}  "
        f"(dashboard /admin, API docs /docs)",
        f"Data: {_db.describe(_settings)}",
    ]
    if _settings["LOCAL_MODE"]:
        lines.append(f"Admin password: {_settings['ADMIN_PASSWORD']}")
    for line in lines:
        server.log.info(line)
