"""Time and memory of the reliable change index on the embedded store.

    .venv/bin/python bench/reliable_change.py [participants ...]     (default 2000)

Each participant has a baseline and a follow-up with the six tests of the battery (the documents
of bench/summaries.py: 2,000 participants are 24,000 tests). No reference values are set, so
every score is estimated from the sample: the slowest case. Measured, each once after a warm-up:

- the estimate alone: one pass over every participant's held summaries (PairStatistics per score
  and follow-up number), and the peak of Python allocations it adds;
- the estimate as a page pays it when nothing is cached: read and score every test, then the pass;
- the cache check every later page makes instead (`db.version` of tests and studies);
- one participant's scores page data (`participant_overview`) with an empty and with a warm cache;
- change.csv with its RCI columns (and without, as before them, for comparison), and the
  dashboard's list of reliable declines.

Times are wall clock and, in brackets, CPU time of the process (the steadier figure on a shared
machine).
"""

import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH_DIR.parent), str(BENCH_DIR)]

from summaries import embedded_app, fill  # noqa: E402 - bench/summaries.py: same documents

from intact import db, exports, scoring, summaries  # noqa: E402
from intact.reliable_change import method, sources  # noqa: E402


def timed(label: str, produce) -> object:
    """Run once and print wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = produce()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"  {label}: {wall * 1000:,.1f} ms ({cpu * 1000:,.1f} ms CPU)")
    return result


def peak(label: str, produce) -> None:
    """Run under tracemalloc and print the peak of Python allocations it adds."""
    tracemalloc.start()
    produce()
    top = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"  {label}: peak {top / 1024:,.1f} KiB of Python allocations")


def forget_estimates(app) -> None:
    app.extensions.pop(sources._SAMPLE_KEY, None)  # noqa: SLF001 - the cache under test


def measure(participants: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = embedded_app(folder)
        tests = fill(app, participants)
        print(f"{participants:,} participants, {tests:,} tests (embedded store)")
        with app.test_request_context():
            list(db.stream("tests"))  # warm the store's in-memory indexes, as a running app has
            held = list(summaries.iter_summaries())
            columns = scoring.ALL_SCORE_COLUMNS

            def estimate():
                return method.estimate(scoring.by_participant(held), columns, 30)

            estimates = timed("estimate alone, one pass over held summaries", estimate)
            peak("estimate alone", estimate)
            pairs = {basis.pairs for basis in estimates.values()}
            print(f"  ({len(estimates)} score × follow-up estimates, {pairs} pairs each)")

            def cold():
                forget_estimates(app)
                return summaries.reliable_change_method()

            timed("estimate from the database (read, score, pass), nothing cached", cold)
            timed(
                "estimates kept: db.version of tests and studies", summaries.reliable_change_method
            )
            forget_estimates(app)
            timed(
                "participant scores page data, nothing cached",
                lambda: summaries.participant_overview("P00042"),
            )
            timed(
                "participant scores page data, estimates cached",
                lambda: summaries.participant_overview("P00042"),
            )
            size = timed(
                "change.csv with RCI columns",
                lambda: sum(map(len, summaries.change_table(_scores()).csv())),
            )
            print(f"  (change.csv: {size / 2**20:.1f} MiB)")

            def change_csv_without_rci():
                columns = scoring.CHANGE_COLUMNS
                rows = scoring.change_rows(summaries.iter_summaries())
                cells = ([exports.cell(row[name]) for name in columns] for row in rows)
                return sum(map(len, exports.csv_chunks(columns, cells)))

            timed("change.csv as before, without RCI columns", change_csv_without_rci)
            found = timed("reliable decline list", lambda: summaries.reliable_declines()[0].total)
            print(f"  ({found} participants listed)")


def _scores() -> summaries.ScoresPass:
    """A scores pass of everything, as the ZIP makes (change.csv's rows come from it)."""
    return summaries.ScoresPass(exports.Selection())


def main() -> None:
    for participants in [int(arg) for arg in sys.argv[1:]] or [2000]:
        measure(participants)


if __name__ == "__main__":
    main()
