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
import operator
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
    """Create every index the code relies on; safe to call again.

    An index that exists with the same keys and options is left alone: on the embedded store
    create_index reads every document again to check a unique index (2.3 s of a start with
    nothing else to do at 1,000 participants).
    """
    for name, indexes in INDEXES.items():
        target = database[name]
        existing = target.index_information()
        for key, options in indexes:
            if not _index_exists(existing, key, options):
                target.create_index(key, **options)


_INDEX_OPTIONS = ("unique", "partialFilterExpression", "expireAfterSeconds")


def _index_exists(existing: dict, key, options: dict) -> bool:
    """Whether index_information() lists this index with these options (different options: no,
    so create_index reports the conflict)."""
    keys = [(key, pymongo.ASCENDING)] if isinstance(key, str) else list(key)
    for spec in existing.values():
        if [tuple(k) for k in spec.get("key", ())] == keys:
            return all(spec.get(o) == options.get(o) for o in _INDEX_OPTIONS)
    return False


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
        matches = _matcher(self.query) if self.query else None
        seen = {}
        for raw in raws:
            if raw in self.documents:
                document = self.documents[raw]
            else:
                decoded = bson.decode(raw, codec_options=_EMBEDDED_CODEC)
                # None: the document does not match the query.
                matched = matches is None or matches(decoded)
                document = _only(decoded, self.fields) if matched else None
            seen[raw] = document
            if document is not None:
                yield document
        self.documents = seen


def _stream_embedded(target, query: dict, by: str | None):
    store = target._store  # noqa: SLF001 - the one place that knows litemongo's layout
    if by is None:
        chunks = _embedded_chunks(store, query)
    else:
        chunks = _fetched(store, _embedded_key_chunks_by(store, query, by))
    decode = bson.decode
    # An empty query matches every document: no filter to run (mongomock's costs 0.7 us each).
    matches = _matcher(query) if query else None
    for raws in chunks:
        for raw in raws:
            document = decode(raw, codec_options=_EMBEDDED_CODEC)
            if matches is None or matches(document):
                yield document


# The comparisons _matcher evaluates itself; anything else goes to mongomock's filter.
_ORDER = {"$gte": operator.ge, "$gt": operator.gt, "$lt": operator.lt, "$lte": operator.le}


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

    if any(name.startswith("$") or "." in name for name in query):
        return exact
    # The top-level conditions all have to hold: those not handled here go to mongomock together.
    checks, rest = [], {}
    for name, condition in query.items():
        check = _condition_check(name, condition)
        if check is None:
            rest[name] = condition
        else:
            checks.append(check)
    if not checks:
        return exact
    if len(checks) == 1 and not rest:
        # The ZIP's reads: one window on received_at. One call less for each document.
        (check,) = checks

        def single(document):
            answer = check(document)
            return filter_applies(query, document) if answer is None else answer

        return single

    def quick(document):
        for check in checks:
            answer = check(document)
            if answer is None:
                return filter_applies(query, document)
            if not answer:
                return False
        return not rest or filter_applies(rest, document)

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
    compare = [(_ORDER[op], bound) for op, bound in bounds.items()]

    def within(document):
        value = document.get(name)
        if value is None:
            return negated  # a missing value (or null) meets no bound
        if not isinstance(value, datetime) or value.tzinfo is None:
            return None
        for test, bound in compare:
            if not test(value, bound):
                return negated
        return not negated

    return within


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


# Rows read per SQLite statement (old SQLite allows 999 "?").
_ROWS_PER_FETCH = 500


def _embedded_rows(store, query: dict):
    """The raw BSON of every document that may match the query, in insertion order."""
    for raws in _embedded_chunks(store, query):
        yield from raws


def _embedded_chunks(store, query: dict):
    """Lists of the raw BSON of every document that may match the query, in insertion order.

    litemongo keeps hash indexes of the declared index fields: an equality or $in on one of them
    names the candidate rows, so only those are read and decoded (the ZIP's six per-type reads
    decode each test once instead of six times; one participant's tests are found without reading
    the others). Any other query reads every row. Rows are fetched _ROWS_PER_FETCH at a time and
    no statement stays open between fetches, so the caller may write to the collection while it
    reads (update_each does).
    """
    # Building the hash indexes decodes the whole collection: not for a query they cannot serve.
    index = store._get_query_index() if _indexed_fields_in(store, query) else None  # noqa: SLF001
    keys = None if index is None else _candidates(index, query)
    if keys is not None:
        ordered = index.in_natural_order(keys)
        yield from _fetched(
            store,
            (
                ordered[start : start + _ROWS_PER_FETCH]
                for start in range(0, len(ordered), _ROWS_PER_FETCH)
            ),
        )
        return
    last = 0
    while True:
        rows = store._connection.execute(  # noqa: SLF001
            "SELECT ROWID, doc FROM documents WHERE ROWID > ? ORDER BY ROWID LIMIT ?",
            (last, _ROWS_PER_FETCH),
        ).fetchall()
        if rows:
            last = rows[-1][0]
            yield [raw for _rowid, raw in rows]
        if len(rows) < _ROWS_PER_FETCH:
            return


def _indexed_fields_in(store, query: dict) -> bool:
    """Whether the query names a field of a declared index (or an operator such as $and), other
    than as null (which also matches a missing field: never planned)."""
    from litemongo._vendor.mongomock.indexing import index_paths  # noqa: PLC0415

    paths = index_paths(store.indexes.values())
    return any(
        name.startswith("$") or (name in paths and condition is not None)
        for name, condition in query.items()
    )


def _embedded_key_chunks_by(store, query: dict, by: str):
    """Lists of the row keys of the documents that may match, grouped by the text field `by`,
    ascending, oldest first within a group; at most _ROWS_PER_FETCH keys a list.

    Documents whose `by` is not one text value (missing, null, a number, a list) come first:
    they are found in one pass over the field's index (normally none). Then the groups' members
    are sorted group by group on their place in the natural order, with no other lookup for each
    document: at 240,000 tests, where these dicts no longer fit in the CPU's caches, a second
    lookup for each document made the ordering grow faster than the data (0.68 s, now 0.37 s).
    """
    index = store._get_query_index()  # noqa: SLF001
    field_index = index._fields[by]  # noqa: SLF001
    groups = field_index._entries  # noqa: SLF001 - {("s", value): {row key, ...}}
    values_of = field_index._doc_keys  # noqa: SLF001 - {row key: its index keys, or None}
    docs = index._docs  # noqa: SLF001 - {row key: its place in the natural order}
    keys = _candidates(index, query)

    # The rows not under exactly one text value: unkeyable (None), with no value or several
    # values (a set of another size), or under one value of another type (its group's key).
    odd = {row for row, found in values_of.items() if found is None or len(found) != 1}
    for key, members in groups.items():
        if key[0] != "s":
            odd |= members
    if len(values_of) != len(docs):  # not expected: litemongo indexes every row in every field
        odd |= {row for row in docs if row not in values_of}
    first = index.in_natural_order(odd if keys is None else odd & keys)
    for start in range(0, len(first), _ROWS_PER_FETCH):
        yield first[start : start + _ROWS_PER_FETCH]

    natural = docs.__getitem__
    pending = []
    # Every key is ("s", a distinct text): ordered by the text alone, not as tuples (12 ms, not
    # 32 ms, for 20,000 participants).
    for key in sorted((key for key in groups if key[0] == "s"), key=operator.itemgetter(1)):
        members = groups[key]
        if keys is not None:
            members = members & keys
        if odd:
            members = members - odd
        pending += sorted(members, key=natural)
        if len(pending) >= _ROWS_PER_FETCH:
            full = len(pending) - len(pending) % _ROWS_PER_FETCH
            for start in range(0, full, _ROWS_PER_FETCH):
                yield pending[start : start + _ROWS_PER_FETCH]
            pending = pending[full:]
    if pending:
        yield pending


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


def _fetched(store, key_chunks):
    """For each list of row keys (at most _ROWS_PER_FETCH), the raw BSON of those that exist, in
    that order: one SQLite statement a list."""
    connection = store._connection  # noqa: SLF001
    for chunk in key_chunks:
        found = _embedded_raw_documents(connection, chunk)
        yield [found[key] for key in chunk if key in found]


def _embedded_raw_documents(connection, keys: list) -> dict:
    """{SQLite key: raw BSON} of these keys (at most _ROWS_PER_FETCH) that exist."""
    placeholders = ",".join("?" * len(keys))
    return dict(
        connection.execute(
            f"SELECT _id, doc FROM documents WHERE _id IN ({placeholders})",  # noqa: S608
            keys,
        )
    )


# Updates per write of update_each: one SQLite transaction, or one bulk_write on MongoDB.
UPDATE_BATCH_SIZE = 500


def update_each(name: str, updates) -> int:
    """Apply many one-document updates, in their order and in batches; return how many changed.

    `updates`: iterable of (document `_id`, guard, update), each applied as
    `UpdateOne({"_id": _id, **guard}, update)` would be: only to a document that still matches the
    guard (a query) when it is written, so that work another process did meanwhile is not undone.
    The update may use `$set` and `$unset` of top-level fields. It may be a generator reading the
    same collection through `stream`.

    MongoDB: one ordered `bulk_write` per UPDATE_BATCH_SIZE updates. Embedded store: one SQLite
    transaction per batch that reads the documents, checks each guard and writes the changed ones
    back. This skips mongomock's per-update path, which looks each document up, copies it, commits
    it alone and checks every unique index by a query (5 ms a study: 2,000 participants' counters
    took 30 s), so the caller must not set a field of a unique index to a value another document
    may hold (raises ValueError for operators other than $set/$unset).
    A run cut short keeps every batch written before the cut: callers list their updates so that
    such a prefix is a state the next run can finish.
    """
    target = collection(name)
    write = {EMBEDDED: _update_embedded, MOCK: _update_one_by_one}.get(
        _current_kind(), _update_bulk
    )
    changed, batch = 0, []
    for update in updates:
        batch.append(update)
        if len(batch) == UPDATE_BATCH_SIZE:
            changed += write(target, batch)
            batch = []
    if batch:
        changed += write(target, batch)
    return changed


def _update_bulk(target, batch: list) -> int:
    requests = [pymongo.UpdateOne({"_id": _id, **guard}, update) for _id, guard, update in batch]
    return target.bulk_write(requests, ordered=True).modified_count


def _update_one_by_one(target, batch: list) -> int:
    # mongomock's bulk_write predates pymongo 4.11's UpdateOne (it refuses the `sort` it passes).
    return sum(
        target.update_one({"_id": _id, **guard}, update).modified_count
        for _id, guard, update in batch
    )


def _update_embedded(target, batch: list) -> int:
    store = target._store  # noqa: SLF001 - litemongo layout, as in stream()
    connection = store._connection  # noqa: SLF001
    keys = [store._documents.encode_key(_id) for _id, _, _ in batch]  # noqa: SLF001
    written: dict = {}
    with connection:  # commits at the end, rolls back on an error
        # The write lock first: no other process changes these documents between read and write.
        connection.execute("BEGIN IMMEDIATE")
        stored = _embedded_raw_documents(connection, sorted(set(keys)))
        documents = {}
        for key, (_, guard, update) in zip(keys, batch, strict=True):
            if key not in documents:
                raw = stored.get(key)
                documents[key] = raw and bson.decode(raw, codec_options=_EMBEDDED_CODEC)
            document = documents[key]
            if document is None or not _matcher(guard)(document):
                continue
            if _apply_update(document, update):
                written[key] = document
        connection.executemany(
            "UPDATE documents SET doc = ? WHERE _id = ?",
            [
                (bson.encode(document, codec_options=store._codec_options), key)  # noqa: SLF001
                for key, document in written.items()
            ],
        )
    # This process's hash indexes (another process sees the file change and rebuilds its own).
    query_index = store._query_index  # noqa: SLF001
    if query_index is not None:
        for key, document in written.items():
            query_index.add(key, document)
    return len(written)


def _apply_update(document: dict, update: dict) -> bool:
    """Apply {"$set": {...}, "$unset": {...}} of top-level fields in place; True if it changed."""
    if set(update) - {"$set", "$unset"} or any("." in f for op in update.values() for f in op):
        raise ValueError(f"update_each takes $set/$unset of top-level fields, not {update}")
    before = dict(document)
    document.update(update.get("$set", {}))
    for field in update.get("$unset", {}):
        document.pop(field, None)
    return document != before


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
