"""Which store a deployment's settings select, and where its data lives, said for people.

`intact/db.py` is the one module that opens stores; it takes these answers from here and hands
them on (`db.store_kind`, `db.describe`), so the rest of the app asks db. This module imports no
database driver and no Flask: gunicorn's master process reads it (gunicorn.conf.py, through
intact.config) before gevent patches the workers, and PyMongo must be imported only after gevent
has patched the standard library (https://pymongo.readthedocs.io/en/stable/examples/gevent.html).
tests/test_config.py checks that the master imports none of them.
"""

from pathlib import Path
from urllib.parse import unquote_plus

EMBEDDED_DIR = "db"
# The store kinds store_kind() answers, and the DB_CONNECTION_STR schemes that select them.
EMBEDDED, MONGODB, MOCK = "embedded", "mongodb", "mock"
MONGODB_SCHEMES = ("mongodb://", "mongodb+srv://")
MOCK_SCHEME = "mongomock://"
# pymongo looks for a server that went away every 500 ms (pymongo.common.MIN_HEARTBEAT_INTERVAL)
# and may overrun its own timeout by that much: connect() gives it that much less than
# DB_TIMEOUT_MS, which must therefore be at least twice as long with MongoDB (config checks).
MONGODB_RECHECK_MS = 500
MONGODB_MIN_TIMEOUT_MS = 2 * MONGODB_RECHECK_MS


def store_kind(settings: dict) -> str:
    """Which store the settings select: EMBEDDED (no DB_CONNECTION_STR), MONGODB or MOCK.

    Raises ValueError for any other scheme; the message names the scheme only, since the rest of
    a connection string may hold a password.
    """
    uri = settings["DB_CONNECTION_STR"]
    if not uri:
        return EMBEDDED
    if uri.startswith(MOCK_SCHEME):
        return MOCK
    if uri.startswith(MONGODB_SCHEMES):
        return MONGODB
    scheme = uri.split("://", 1)[0] + "://" if "://" in uri else "no scheme"
    raise ValueError(
        "DB_CONNECTION_STR must be empty (the embedded store), mongodb://…, mongodb+srv://… or "
        f"mongomock://…, got {scheme}"
    )


def describe(settings: dict) -> str:
    """Where the data lives, for people: never includes credentials."""
    kind = store_kind(settings)
    if kind == EMBEDDED:
        return f"embedded store in {(Path(settings['DATA_DIR']) / EMBEDDED_DIR).absolute()}"
    if kind == MOCK:
        return "in-memory database (mongomock, lost on exit)"
    return f"MongoDB at {_hosts(settings['DB_CONNECTION_STR'])}, database {settings['DB_NAME']!r}"


def _hosts(uri: str) -> str:
    """The hosts a MongoDB connection string names: no credentials, no database, no options.

    Format (https://www.mongodb.com/docs/manual/reference/connection-string/):
    `mongodb://[user:password@]host1[:port1][,host2[:port2],…][/[database]][?options]` and
    `mongodb+srv://[user:password@]host[/[database]][?options]`, whose host names a DNS seed list.
    Cut as PyMongo's parser cuts it: options at the first "?", the path at the first "/", then
    credentials up to the last "@". Options are never shown: some carry secrets too.
    """
    scheme, _, rest = uri.partition("://")
    hosts = rest.partition("?")[0].partition("/")[0].rpartition("@")[2]
    # A Unix domain socket is a percent-encoded path (mongodb://%2Ftmp%2Fmongodb-27017.sock).
    hosts = unquote_plus(hosts)
    return f"{hosts} (DNS seed list)" if scheme == "mongodb+srv" else hosts
