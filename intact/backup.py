"""Backups of the whole database, on any store: one gzip'd BSON file that restores exactly.

BSON is MongoDB's own encoding, so every value keeps its type: timezone-aware UTC datetimes,
ObjectIds, 32- vs 64-bit integers, None, nested lists and documents, field order.

File layout (gzip; two gzip members, which every gzip reader reads as one stream):
  1. a header document: {"format": "intact-backup", "version": 1, "created_at": <UTC datetime>,
     "database": <name>, "collections": {<name>: <number of documents>, ...}}
  2. one document per stored document: {"collection": <name>, "document": <the document>}
The documents are written first to a temporary file beside the target, so the header holds the
exact counts of what the file contains; the finished file then replaces the target in one rename,
so a backup interrupted half-way never looks like a complete one.
"""

import gzip
import logging
import os
import shutil
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import bson
from bson.codec_options import CodecOptions

from intact import counters, db

log = logging.getLogger(__name__)

FORMAT = "intact-backup"
VERSION = 1
INSERT_BATCH = 500
# Decoding as the app's clients do: datetimes come back aware, in UTC.
CODEC_OPTIONS = CodecOptions(tz_aware=True, tzinfo=UTC)


class BackupError(Exception):
    """The backup file cannot be restored, or the database refuses it; nothing was changed."""


def target_file(path: str | os.PathLike, now: datetime | None = None) -> Path:
    """Where `flask backup PATH` writes: PATH itself when it names a .gz file, else a file
    named by time inside the folder PATH (created when missing).

    `backups/` for a folder that does not exist yet is a folder, as a person means it, not a
    file named "backups"; a file that exists already is never overwritten (BackupError).
    """
    typed = os.fspath(path)
    target = Path(typed)
    names_a_file = target.suffix == ".gz" and not typed.endswith(("/", os.sep))
    if not names_a_file or target.is_dir():
        return target / default_file_name(now)
    if target.exists():
        raise BackupError(
            f"{target} exists already; name a new file, or a folder to write a new file into"
        )
    return target


def default_file_name(now: datetime | None = None) -> str:
    """A file name that sorts by time, for a backup written into a folder."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"intact-backup-{stamp}.bson.gz"


def data_collections(database) -> list[str]:
    """Every collection holding data, in a stable order.

    Not MongoDB's own system.*, nor the rate-limit counters (intact/counters.py): they are the
    server's passing state, not data, and a restored deployment starts its windows afresh.
    """
    return sorted(
        name
        for name in database.list_collection_names()
        if not name.startswith("system.") and name != counters.COUNTERS
    )


def write_backup(path: str | os.PathLike) -> dict:
    """Write every document of the app's database to `path`; return the header written."""
    database = db.get_db()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    counts = Counter()
    body_fd, body_name = tempfile.mkstemp(prefix=".intact-backup-", dir=target.parent)
    final_fd, final_name = tempfile.mkstemp(prefix=".intact-backup-", dir=target.parent)
    try:
        with os.fdopen(body_fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as body:
            for name in data_collections(database):
                counts[name] = 0
                for document in db.stream(name):
                    body.write(bson.encode({"collection": name, "document": document}))
                    counts[name] += 1
        header = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": datetime.now(UTC),
            "database": database.name,
            "collections": dict(counts),
        }
        with os.fdopen(final_fd, "wb") as final:
            with gzip.GzipFile(fileobj=final, mode="wb") as head:
                head.write(bson.encode(header))
            with open(body_name, "rb") as body:
                shutil.copyfileobj(body, final)
            final.flush()
            os.fsync(final.fileno())
        os.replace(final_name, target)
    finally:
        for leftover in (body_name, final_name):
            Path(leftover).unlink(missing_ok=True)
    log.info("backup written: %s collections, %s documents", len(counts), sum(counts.values()))
    return header


def read_header(path: str | os.PathLike) -> dict:
    """The header of a backup file; BackupError when it is not one this version can read."""
    with _open(path) as stream:
        header = _next_document(stream, path)
    if header is None or header.get("format") != FORMAT:
        raise BackupError(f"{path} is not an INTACT backup")
    if header.get("version") != VERSION:
        raise BackupError(
            f"{path} is backup format version {header.get('version')}; this app reads {VERSION}"
        )
    return header


def iter_documents(path: str | os.PathLike):
    """Yield (collection name, document) for every document in a backup file, in file order."""
    read_header(path)
    with _open(path) as stream:
        _next_document(stream, path)
        while (entry := _next_document(stream, path)) is not None:
            yield entry["collection"], entry["document"]


def verify(path: str | os.PathLike) -> dict:
    """Read the whole file and check it against its header; return the header."""
    header = read_header(path)
    found = Counter(name for name, _ in iter_documents(path))
    expected = {name: count for name, count in header["collections"].items() if count}
    if dict(found) != expected:
        raise BackupError(
            f"{path} is incomplete or damaged: the header lists {expected}, the file holds "
            f"{dict(found)}"
        )
    return header


def stored_document_count(database) -> int:
    """How many documents the database holds, all collections together."""
    return sum(database[name].count_documents({}) for name in data_collections(database))


def restore_backup(path: str | os.PathLike, force: bool = False) -> dict:
    """Load a backup into the app's database; return its header.

    The file is verified in full before the database is touched. An empty database is required
    unless `force`, which drops every existing collection first so the result equals the backup.
    """
    header = verify(path)
    database = db.get_db()
    existing = stored_document_count(database)
    if existing and not force:
        raise BackupError(
            f"the database already holds {existing} documents; restore into an empty database, "
            "or pass --force to replace everything in it with the backup"
        )
    if force:
        for name in data_collections(database):
            database.drop_collection(name)
    batch, batch_collection = [], None
    for name, document in iter_documents(path):
        if batch and name != batch_collection:
            database[batch_collection].insert_many(batch, ordered=True)
            batch = []
        batch_collection = name
        batch.append(document)
        if len(batch) >= INSERT_BATCH:
            database[name].insert_many(batch, ordered=True)
            batch = []
    if batch:
        database[batch_collection].insert_many(batch, ordered=True)
    # --force dropped the collections and their indexes; a fresh database may never have had them.
    db.ensure_indexes(database)
    log.info("backup restored: %s documents", sum(header["collections"].values()))
    return header


def _open(path):
    try:
        return gzip.open(path, "rb")
    except OSError as error:
        raise BackupError(f"cannot read {path}: {error}") from error


def _next_document(stream, path):
    """The next BSON document of the stream, None at its end; BackupError if damaged."""
    try:
        size_bytes = stream.read(4)
        if not size_bytes:
            return None
        size = int.from_bytes(size_bytes, "little")
        if size < 5:
            raise BackupError(f"{path} is damaged: a document claims {size} bytes")
        rest = stream.read(size - 4)
        if len(rest) != size - 4:
            raise BackupError(f"{path} is truncated")
        return bson.decode(size_bytes + rest, codec_options=CODEC_OPTIONS)
    except (OSError, EOFError, bson.errors.InvalidBSON) as error:
        raise BackupError(f"{path} is damaged or not a gzip'd backup: {error}") from error
