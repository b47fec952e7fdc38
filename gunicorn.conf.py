"""gunicorn settings, read from the same environment / `.env` as the app.

Server model: gevent workers (gunicorn's `gevent` worker class). Each connection is a greenlet,
so a phone that trickles its upload, a researcher reading a large export slowly or a stalled
client waits on its own socket while the worker serves everyone else; the app's long loops give
other requests a turn (intact/cooperative.py) and a body that stops arriving is a 408 after
REQUEST_BODY_TIMEOUT (intact/request_body.py). The embedded store keeps its SQLite handles on the
thread that opened them, so it runs one worker, whose greenlets all share that one thread. With
MongoDB, WEB_CONCURRENCY workers each hold their own client (PyMongo supports gevent).

This file runs in gunicorn's master, before any worker patches the standard library for gevent:
it imports no database driver and no Flask (PyMongo must come after the patch), only the
settings (tests/test_config.py checks it).
"""

import multiprocessing
import os
import sys

from dotenv import load_dotenv

load_dotenv(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".env"))

# Underscored names: gunicorn reads every public name here as one of its own settings.
from intact import config as _config  # noqa: E402 - the environment must be loaded first
from intact import store_kinds as _store_kinds  # noqa: E402

try:
    _settings = _config.load(os.environ)
except _config.ConfigError as error:
    sys.stderr.write(f"intact: {error}\n")
    sys.exit(2)

bind = f"{_settings['HOST']}:{_settings['PORT']}"
worker_class = "gevent"
if _store_kinds.store_kind(_settings) == _store_kinds.EMBEDDED:
    workers = 1
else:
    workers = int(os.environ.get("WEB_CONCURRENCY", str(multiprocessing.cpu_count() * 2 + 1)))
# Connections one worker holds at once (slow clients included); more wait in the listen queue.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
# A worker whose event loop is blocked this long (it stops reporting to the master) is replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
# Seconds a connection may stay idle between requests, and, in gevent workers, the time a
# client has to send a request's headers; the body has REQUEST_BODY_TIMEOUT per read.
keepalive = 5
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
        f"Data: {_store_kinds.describe(_settings)}",
    ]
    if _settings["LOCAL_MODE"]:
        lines.append(f"Admin password: {_settings['ADMIN_PASSWORD']}")
    for line in lines:
        server.log.info(line)
