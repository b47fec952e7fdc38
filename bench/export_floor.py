"""What any data ZIP costs before it computes a single score: read, decode, write CSV, compress.

    .venv/bin/python bench/export_floor.py [participants]     (default 1000)

Fills a temporary embedded store as bench/exports.py does (participants × baseline and follow-up
× the six tests), then measures, in CPU time (best of 5), the steps no design of the ZIP can skip
on this stack, each on its own and with nothing of the app around it:

1. read every test's stored BSON from SQLite (one statement);
2. decode each with the app's codec (`bson.decode`, tz-aware, as `db.stream` does);
3. lay out the result tables' rows (one per answer, the test's own columns first, made CSV cells
   once per test) and write them with `csv.writer` in the download's dialect, the answers' values
   as stored, without the per-cell spreadsheet safety;
4. compress that CSV with zlib at the ZIP's level.

Then the full ZIP as downloaded (`archive.zip_archive`: scores, change with reliable change,
studies, codebook, datapackage.json) the same way, for comparison. The difference is what the
derived tables, the per-cell spreadsheet safety and the rest cost above that floor.
"""

import io
import sys
import tempfile
import time
import zlib
from pathlib import Path

import bson

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH_DIR.parent), str(BENCH_DIR)]

from summaries import embedded_app, fill  # noqa: E402 - bench/summaries.py: same data

from intact import db, exports  # noqa: E402
from intact.exports import archive, tables  # noqa: E402

ROUNDS = 5


def best_cpu(work) -> tuple[float, object]:
    """(the least CPU seconds of ROUNDS runs of work(), its last result)."""
    least, result = float("inf"), None
    for _ in range(ROUNDS):
        began = time.process_time()
        result = work()
        least = min(least, time.process_time() - began)
    return least, result


def raw_tests() -> list[bytes]:
    """Every stored test's BSON, straight from the embedded store's SQLite table."""
    connection = db.tests()._store._connection  # noqa: SLF001 - as db.stream reads it
    return [row[0] for row in connection.execute("SELECT doc FROM documents")]


def rows_of(documents: list[dict]) -> list[list]:
    """The result rows: a test's own columns (as CSV cells, made once), then each answer's values.

    An answer's values go as stored: no spreadsheet safety, no true/false for booleans.
    """
    rows = []
    for test in documents:
        own = [tables.cell(test.get(name)) for name in tables.TEST_COLUMNS]
        result = test.get("result")
        if isinstance(result, list):
            rows += [[*own, number, *answer.values()] for number, answer in enumerate(result, 1)]
        else:
            rows.append([*own, *(result or {}).values()])
    return rows


def csv_text(rows: list[list]) -> bytes:
    buffer = io.StringIO()
    tables.csv_writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def compressed(data: bytes) -> bytes:
    packer = zlib.compressobj(archive.ZIP_COMPRESSLEVEL, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def measure(participants: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = embedded_app(folder)
        tests = fill(app, participants)
        with app.app_context():
            db.tests().find_one({"test_id": ""})  # litemongo's indexes, built once
            read, raws = best_cpu(raw_tests)
            decode, documents = best_cpu(
                lambda: [bson.decode(raw, codec_options=db._EMBEDDED_CODEC) for raw in raws]  # noqa: SLF001
            )
            layout, rows = best_cpu(lambda: rows_of(documents))
            write, text = best_cpu(lambda: csv_text(rows))
            compress, _ = best_cpu(lambda: compressed(text))
            floor = read + decode + layout + write + compress
            whole, size = best_cpu(
                lambda: sum(len(chunk) for chunk in archive.zip_archive(exports.Selection()))
            )
    print(f"{participants:,} participants, {tests:,} tests, {len(rows):,} result rows")
    for label, seconds in (
        ("read the stored BSON (SQLite)", read),
        ("decode it", decode),
        ("lay out the result rows", layout),
        (f"write them as CSV ({len(text) / 2**20:.1f} MiB)", write),
        ("compress that (zlib)", compress),
        ("floor: the five above", floor),
        (f"the ZIP as downloaded ({size / 2**20:.2f} MiB)", whole),
    ):
        print(f"  {label}: {seconds * 1000:.0f} ms CPU")


def main() -> None:
    for participants in [int(arg) for arg in sys.argv[1:]] or [1000]:
        measure(participants)


if __name__ == "__main__":
    main()
