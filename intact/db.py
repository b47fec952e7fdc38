"""The one module that knows which database the app runs on.

- `DB_CONNECTION_STR=mongodb://…` or `mongodb+srv://…`: a real MongoDB (standalone or replica set).
- empty: the embedded, file-backed store (litemongo: SQLite files under DATA_DIR/db).
- `mongomock://`: an in-memory database, fresh for every app (tests).

`store_kind(settings)` is the only answer to "which store is this?" (defined in
intact/store_kinds.py, which gunicorn's master and config import without any driver): ratelimit
places its counters by it. Everything else uses the PyMongo API only and never learns which one
it got.
"""

import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import bson
import mongomock
import pymongo
from bson.codec_options import CodecOptions
from flask import current_app
from pymongo.errors import ConnectionFailure, ExecutionTimeout, PyMongoError

from intact import cooperative

# Which store, and its description, are answered without a driver; db hands them on.
from intact.store_kinds import (  # noqa: F401 - re-exported: the app asks db
    EMBEDDED,
    EMBEDDED_DIR,
    MOCK,
    MONGODB,
    MONGODB_RECHECK_MS,
    describe,
    store_kind,
)

log = logging.getLogger(__name__)

_EMBEDDED_CODEC = CodecOptions(tz_aware=True, tzinfo=UTC)
# Documents per batch of a MongoDB cursor in stream() (the server's default fills 16 MiB).
STREAM_BATCH_SIZE = 500

# Indexes the code relies on; create_index is idempotent, so this runs at every start.
INDEXES = {
    "studies": [
        ("study_id", {"unique": True}),
        ("participant_id", {}),
        # A batch is downloaded again, or removed when its creation fails midway.
        ("batch_id", {}),
        # One "Follow-up k" per participant (intact/participants/followups.py); a reissued link
        # shares its number and names the study it replaces. Baselines have no number.
        (
            [("participant_id", 1), ("followup_number", 1), ("replaces", 1)],
            {"unique": True, "partialFilterExpression": {"followup_number": {"$gt": 0}}},
        ),
    ],
    "tests": [
        ("test_id", {"unique": True}),
        ("study_id", {}),
        ("test_type", {}),
        # An identical re-submission maps to the same fingerprint: stored once.
        ("fingerprint", {"unique": True}),
        # One participant's tests, for the dashboard and the participant report; the derived
        # scores read every test grouped by participant (`stream(..., by="participant_id")`).
        ("participant_id", {}),
        # Downloads of what arrived since a moment (`since`) and their counts; scripts fetch what
        # arrived since their last run, oldest first (/api/v1/tests).
        ("received_at", {}),
    ],
    "quarantine": [
        ("quarantine_id", {"unique": True}),
        ("study_id", {}),
        ("received_at", {}),
    ],
    # Researchers' notes, one participant's at a time (intact/participants/notes.py).
    "participant_notes": [("note_id", {"unique": True}), ("participant_id", {})],
    # Admin actions, listed newest first and filtered by action (intact/audit.py).
    "audit_log": [("time", {}), ("action", {})],
    # A researcher's r, SD1 and practice of a score (intact/reliable_change/sources.py).
    "reliable_change_values": [("score", {"unique": True})],
    # Rate-limit and login-throttle counters (intact/counters.py): ended windows go by themselves.
    "ratelimit_counters": [("expireAt", {"expireAfterSeconds": 0})],
    # Named accounts and what belongs to them (intact/accounts/): secrets are found by digest.
    "accounts": [("email", {"unique": True}), ("account_id", {"unique": True})],
    "account_links": [("link_hash", {"unique": True}), ("account_id", {})],
    "sessions": [("session_hash", {"unique": True}), ("account_id", {})],
    "api_tokens": [
        ("token_hash", {"unique": True}),
        ("token_id", {"unique": True}),
        ("account_id", {}),
    ],
}


class DatabaseUnavailable(Exception):
    """The database did not answer in time."""


# Errors that mean "the store cannot be reached or written right now" rather than a bug: the app
# answers 503 and recovers when they stop. ExecutionTimeout: the server gave up on the operation
# when DB_TIMEOUT_MS ran out (pymongo sends the time left as maxTimeMS). sqlite3.OperationalError
# is the embedded store's: its file is locked by another process, read-only, on a full disk, or
# cannot be opened.
UNAVAILABLE_ERRORS = (
    DatabaseUnavailable,
    ConnectionFailure,
    ExecutionTimeout,
    sqlite3.OperationalError,
)


def client_of(app):
    """The app's database client (PyMongo API), for a library that must be handed the client."""
    return app.extensions["intact_db_client"]


def connect(settings: dict):
    """Build the client for the configured store. Call once per process, after any fork."""
    kind = store_kind(settings)
    if kind == EMBEDDED:
        import litemongo  # noqa: PLC0415 - only the embedded mode needs it

        path = Path(settings["DATA_DIR"]) / EMBEDDED_DIR
        return litemongo.MongoClient(str(path.absolute()), tz_aware=True)
    if kind == MOCK:
        return mongomock.MongoClient(tz_aware=True)
    uri = settings["DB_CONNECTION_STR"]
    # timeoutMS bounds each operation as a whole (server selection, waiting for a pooled
    # connection, every round trip, pymongo's one automatic retry), so a server that accepts
    # connections and never answers costs a request no more than a stopped one. pymongo looks
    # for a returning server in steps of MONGODB_RECHECK_MS and checks its deadline only between
    # steps, so it is given that much less: the answer comes within DB_TIMEOUT_MS (measured in
    # tests/test_faults_mongodb.py). A cursor's batches are separate operations: a long export is
    # not cut off.
    timeout = settings["DB_TIMEOUT_MS"] - MONGODB_RECHECK_MS
    return pymongo.MongoClient(
        uri,
        tz_aware=True,
        timeoutMS=timeout,
        serverSelectionTimeoutMS=timeout,
        connectTimeoutMS=timeout,
        appname="intact-backend",
    )


def init_app(app, settings: dict) -> None:
    """Attach the database to the app and make sure its indexes exist."""
    client = connect(settings)
    database = client[settings["DB_NAME"]]
    app.extensions["intact_db_client"] = client
    app.extensions["intact_db_kind"] = store_kind(settings)
    app.extensions["intact_db"] = database
    if app.extensions["intact_db_kind"] == EMBEDDED:
        for name in INDEXES:
            _bound_lock_wait(database[name], settings["DB_TIMEOUT_MS"])
    try:
        ensure_indexes(database)
    except (PyMongoError, sqlite3.OperationalError) as error:
        # An unreachable server must not stop the app from starting: /healthz says 503 and
        # the app recovers when the database comes back. Indexes are retried on first success.
        log.warning("database not reachable at start-up, indexes not checked: %s", error)
        app.extensions["intact_db_indexes_pending"] = True
    app.after_request(_retry_pending_indexes)


def _retry_pending_indexes(response):
    """After a request the database answered, create the indexes that start-up could not.

    Not before: while the database is down, trying first would make every request wait for two
    timeouts (the indexes', then its own) instead of one.
    """
    if response.status_code < 500 and current_app.extensions.get("intact_db_indexes_pending"):
        try:
            ensure_indexes(current_app.extensions["intact_db"])
        except (PyMongoError, sqlite3.OperationalError) as error:
            log.warning("indexes still not created: %s", error)
        else:
            current_app.extensions.pop("intact_db_indexes_pending", None)
            log.info("database reachable again: indexes checked")
    return response


def ensure_indexes(database) -> None:
    """Create every index the code relies on; safe to call again."""
    for collection, indexes in INDEXES.items():
        for key, options in indexes:
            database[collection].create_index(key, **options)


def _current_kind() -> str:
    return current_app.extensions["intact_db_kind"]


def get_db():
    """The database of the current app."""
    return current_app.extensions["intact_db"]


def collection(name: str):
    """A collection of the current app's database."""
    target = get_db()[name]
    if _current_kind() == EMBEDDED:
        _bound_lock_wait(target, current_app.config["DB_TIMEOUT_MS"])
    return target


def _bound_lock_wait(target, timeout_ms: int) -> None:
    """Wait at most DB_TIMEOUT_MS for another process's lock on an embedded file, then fail.

    SQLite's own default is 5 s, after which the request would still be waiting past the time
    a client gives up; with this the request gets its 503 as quickly as with MongoDB.
    """
    connection = getattr(target._store, "_connection", None)  # noqa: SLF001 - litemongo layout
    if connection is not None:
        connection.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")


def studies():
    """The studies collection: one document per study link."""
    return collection("studies")


def tests():
    """The tests collection: one document per submitted cognitive test."""
    return collection("tests")


def quarantine():
    """Submissions refused for a schema error but naming a known study, kept for recovery."""
    return collection("quarantine")


def stream(
    name: str,
    query: dict | None = None,
    fields: tuple[str, ...] | None = None,
    *,
    by: str | None = None,
    reuse_decoded: bool = False,
):
    """Yield the documents of a collection that match `query`, in constant memory.

    Use this, not find(), to read many documents (exports, summaries). On the embedded store,
    find() goes through mongomock, which copies every document and builds the whole result list
    before yielding the first (24,000 tests: 11.6 s, 152 MB); reading the SQLite rows and decoding
    them directly takes 0.18 s and holds one document at a time.

    Order: oldest first; with `by` (an indexed field holding text, e.g. "participant_id"),
    grouped by that field in ascending order (documents without it first), oldest first within
    a group, so a reader can finish one participant before the next one starts and keep nothing
    else. MongoDB sorts on the field's index; the embedded store walks its hash index's keys in
    order (a sorted list of the distinct values: 8 bytes per participant, never per document).

    `fields`: yield only these top-level fields (and no _id), so MongoDB sends no more than that.
    `reuse_decoded`: on the embedded store, a document whose stored bytes have not changed since
    the last such read of this collection is not decoded again (see `_DecodedCache`). The
    documents yielded are then shared between reads: the caller must not change them. MongoDB
    ignores it. Not supported together with `by` (ValueError, raised by the call itself): the
    cache follows stored order, and grouped reads are exports, which decode each document once.

    Every document is a point where other requests may run (`cooperative.pause`): a long
    export made of these reads never makes a submission wait for its end.
    """
    if by is not None and reuse_decoded:
        raise ValueError("db.stream: reuse_decoded cannot be combined with by")
    return _paused(_documents(name, query or {}, fields, by, reuse_decoded))


def _paused(documents):
    for document in documents:
        cooperative.pause()
        yield document


def _documents(
    name: str, query: dict, fields: tuple[str, ...] | None, by: str | None, reuse_decoded: bool
):
    target = collection(name)
    if _current_kind() == EMBEDDED:
        if reuse_decoded:
            caches = current_app.extensions.setdefault("intact_decoded", {})
            cache = caches.setdefault((name, repr(query), fields), _DecodedCache(query, fields))
            yield from cache.read(_embedded_rows(target._store, query))  # noqa: SLF001
            return
        documents = _stream_embedded(target, query, by)
        if fields is None:
            yield from documents
        else:
            for document in documents:
                yield _only(document, fields)
    else:
        projection = None if fields is None else {"_id": 0, **dict.fromkeys(fields, 1)}
        # MongoDB: a server-side cursor in _id (insertion time) order via its index, or in the
        # order of `by`'s index (equal values oldest first), in batches small enough that
        # decoding one is a short step between other requests' turns.
        order = [(by, pymongo.ASCENDING), ("_id", pymongo.ASCENDING)] if by else "_id"
        cursor = target.find(query, projection).sort(order)
        yield from cursor.batch_size(STREAM_BATCH_SIZE)


def _only(document: dict, fields: tuple[str, ...] | None) -> dict:
    if fields is None:
        return document
    return {key: document[key] for key in fields if key in document}


class _DecodedCache:
    """One embedded read's matching documents (projected), keyed by their exact stored bytes.

    The dashboard reads every study on each page; decoding their BSON was most of that cost
    (4,000 studies: 88 ms of CPU to decode, 7 ms from here). A document whose bytes are the same
    as at the last such read is the same document, so it is taken from here; a changed one has
    other bytes and is decoded. Entries not met in a whole read are dropped, so the cache holds
    at most the documents of one read (a few MB for every study). Two reads interleaved (gevent
    requests taking turns, a threaded test server) each build their own list of what they met:
    at worst a document is decoded again.
    """

    def __init__(self, query: dict, fields: tuple[str, ...] | None):
        self.query, self.fields = query, fields
        self.documents: dict[bytes, dict | None] = {}

    def read(self, raws):
        """Yield the matching documents of these raw ones, decoding only the ones not seen."""
        matches = _matcher(self.query)
        seen = {}
        for raw in raws:
            if raw in self.documents:
                document = self.documents[raw]
            else:
                decoded = bson.decode(raw, codec_options=_EMBEDDED_CODEC)
                # None: the document does not match the query.
                document = _only(decoded, self.fields) if matches(decoded) else None
            seen[raw] = document
            if document is not None:
                yield document
        self.documents = seen


def _stream_embedded(target, query: dict, by: str | None):
    store = target._store  # noqa: SLF001 - the one place that knows litemongo's layout
    rows = _embedded_rows(store, query) if by is None else _embedded_rows_by(store, query, by)
    matches = _matcher(query)
    for raw in rows:
        document = bson.decode(raw, codec_options=_EMBEDDED_CODEC)
        if matches(document):
            yield document


# The comparisons _matcher evaluates itself; anything else goes to mongomock's filter.
_ORDER = {
    "$gte": lambda value, bound: value >= bound,
    "$gt": lambda value, bound: value > bound,
    "$lt": lambda value, bound: value < bound,
    "$lte": lambda value, bound: value <= bound,
}


def _matcher(query: dict):
    """A test of one decoded document against the query: MongoDB's answer, quickly.

    The exports' queries are equalities on text fields, `$in` of texts, and bounds on a
    date-time (`received_at` in a window): those are checked here, with MongoDB's rules for
    them (a missing field matches no bound, and `$not` of a bound). A document whose value is
    of another kind (a list, a number where a date-time was expected), and any other query, is
    decided by mongomock's full filter, as before: measured on the 12,000-test ZIP, the full
    filter took a quarter of the time on windowed queries.
    """
    from litemongo._vendor.mongomock.filtering import filter_applies  # noqa: PLC0415

    def exact(document):
        return filter_applies(query, document)

    checks = []
    for name, condition in query.items():
        if name.startswith("$") or "." in name:
            return exact
        check = _condition_check(name, condition)
        if check is None:
            return exact
        checks.append(check)

    def quick(document):
        for check in checks:
            answer = check(document)
            if answer is None:
                return filter_applies(query, document)
            if not answer:
                return False
        return True

    return quick


def _condition_check(name: str, condition):
    """check(document) -> True, False, or None (let the full filter decide); None: not handled."""
    if isinstance(condition, str):
        return lambda document: _text_equals(document.get(name), (condition,))
    if not isinstance(condition, dict) or not condition:
        return None
    if set(condition) == {"$in"} and all(isinstance(v, str) for v in condition["$in"]):
        choices = frozenset(condition["$in"])
        return lambda document: _text_equals(document.get(name), choices)
    negated = set(condition) == {"$not"} and isinstance(condition["$not"], dict)
    bounds = condition["$not"] if negated else condition
    if not bounds or not set(bounds) <= set(_ORDER):
        return None
    if not all(isinstance(bound, datetime) and bound.tzinfo for bound in bounds.values()):
        return None
    compare = [(_ORDER[operator], bound) for operator, bound in bounds.items()]

    def within(document):
        value = document.get(name, _MISSING)
        if value is _MISSING or value is None:
            return negated  # a missing value meets no bound
        if not isinstance(value, datetime) or value.tzinfo is None:
            return None
        inside = all(test(value, bound) for test, bound in compare)
        return not inside if negated else inside

    return within


_MISSING = object()


def _text_equals(value, choices) -> bool | None:
    if isinstance(value, str):
        return value in choices
    return None if isinstance(value, list | dict) else False


def version(name: str) -> tuple:
    """A value that changes when a document is inserted into or deleted from a collection.

    (number of documents, largest `_id`): an insert brings a new, larger ObjectId, a delete
    lowers the count. Updates in place do not change it, so use it only for collections whose
    documents are written once (tests) or whose updated fields the caller does not read. Cheap
    on every store: a count and an index lookup on MongoDB, one SQL statement on the embedded
    store (12 ms at 24,000 tests, where `find().sort()` would copy every document first).
    """
    target = collection(name)
    if _current_kind() == EMBEDDED:
        connection = target._store._connection  # noqa: SLF001 - litemongo layout, as in stream()
        return tuple(connection.execute("SELECT COUNT(*), MAX(_id) FROM documents").fetchone())
    newest = target.find_one({}, {"_id": 1}, sort=[("_id", pymongo.DESCENDING)])
    # count_documents, not the collection's metadata: exact after an unclean shutdown too.
    return (target.count_documents({}), newest["_id"] if newest else None)


# Rows read per SQLite statement when fetching candidates by key (old SQLite allows 999 "?").
_ROWS_PER_FETCH = 500


def _embedded_rows(store, query: dict):
    """The raw BSON of every document that may match the query, in insertion order.

    litemongo keeps hash indexes of the declared index fields: an equality or $in on one of them
    names the candidate rows, so only those are read and decoded (the ZIP's six per-type reads
    decode each test once instead of six times; one participant's tests are found without reading
    the others). Any other query reads every row.
    """
    index = store._get_query_index()  # noqa: SLF001
    keys = _candidates(index, query)
    if keys is None:
        for (raw,) in store._connection.execute("SELECT doc FROM documents ORDER BY ROWID"):  # noqa: SLF001
            yield raw
        return
    yield from _fetch(store, index.in_natural_order(keys))


def _embedded_rows_by(store, query: dict, by: str):
    """The raw BSON of the documents that may match, grouped by the text field `by`, ascending.

    Documents whose `by` is not one text value (missing, null, a number, a list) come first.
    """
    index = store._get_query_index()  # noqa: SLF001
    field_index = index._fields[by]  # noqa: SLF001
    groups = field_index._entries  # noqa: SLF001 - {("s", value): {row key, ...}}
    values_of = field_index._doc_keys  # noqa: SLF001 - {row key: its index keys, or None}
    keys = _candidates(index, query)

    def under_one_text(row) -> bool:
        found = values_of.get(row)
        return found is not None and len(found) == 1 and next(iter(found))[0] == "s"

    every = index._docs if keys is None else keys  # noqa: SLF001
    yield from _fetch(store, index.in_natural_order(r for r in every if not under_one_text(r)))
    pending = []
    for key in sorted(key for key in groups if key[0] == "s"):
        members = groups[key] if keys is None else groups[key] & keys
        pending += index.in_natural_order(row for row in members if under_one_text(row))
        if len(pending) >= _ROWS_PER_FETCH:
            yield from _fetch(store, pending)
            pending = []
    yield from _fetch(store, pending)


def _candidates(index, query: dict):
    """Row keys of the documents that may match the query (a superset), or None: all of them.

    litemongo plans equality and $in on indexed fields; a lower bound (`$gte`, `$gt`) on an
    indexed date-time field is planned here from the same hash index, whose keys are the
    distinct values truncated to the second (so a `since` reads only the newer rows).
    """
    keys = index.candidates(query)
    for name, condition in query.items():
        if not isinstance(condition, dict) or name not in index._fields:  # noqa: SLF001
            continue
        bound = condition.get("$gte", condition.get("$gt"))
        if not isinstance(bound, datetime):
            continue
        floor = bound.astimezone(UTC).replace(tzinfo=None, microsecond=0)
        entries = index._fields[name]._entries  # noqa: SLF001 - {("t", naive UTC second): {row key}}
        newer = set(index._fields[name]._unkeyed)  # noqa: SLF001 - values it could not key
        for key, members in entries.items():
            if key[0] == "t" and key[1] >= floor:
                newer |= members
        keys = newer if keys is None else keys & newer
    return keys


def _fetch(store, ordered: list):
    """The raw BSON of these row keys, in this order, a few hundred per SQLite statement."""
    for start in range(0, len(ordered), _ROWS_PER_FETCH):
        chunk = ordered[start : start + _ROWS_PER_FETCH]
        placeholders = ",".join("?" * len(chunk))
        found = dict(
            store._connection.execute(  # noqa: SLF001
                f"SELECT _id, doc FROM documents WHERE _id IN ({placeholders})",  # noqa: S608
                chunk,
            )
        )
        for key in chunk:
            if key in found:
                yield found[key]


def count(name: str, query: dict) -> int:
    """How many documents match: on the embedded store through `stream`'s index planning
    (a `since` reads only the newer rows), on MongoDB with count_documents."""
    if _current_kind() == EMBEDDED:
        return sum(1 for _ in stream(name, query, fields=()))
    return collection(name).count_documents(query)


def ping() -> None:
    """Raise DatabaseUnavailable unless the database answers (embedded: can take a write lock)."""
    try:
        if _current_kind() == EMBEDDED:
            _probe_embedded_write()
        else:
            get_db().command("ping")
    except (PyMongoError, sqlite3.OperationalError) as error:
        raise DatabaseUnavailable(str(error)) from error


def _probe_embedded_write() -> None:
    """Take and release the write lock of the tests file: what a submission needs, nothing written.

    mongomock's ping answers without touching a file, so it would say "ok" while submissions fail.
    """
    connection = collection("tests")._store._connection  # noqa: SLF001 - litemongo layout
    if not connection.in_transaction:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
