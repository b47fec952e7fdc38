"""The data ZIP's CPU time in two checkouts of this project, side by side on the same data.

    git worktree add /tmp/intact-before <commit>
    .venv/bin/python bench/zip_side_by_side.py /tmp/intact-before . [participants] [rounds]

Fills one temporary embedded store (bench/summaries.py's data, default 1,000 participants), then
runs each checkout's own code on it in fresh processes, taking turns `rounds` times (default 3):
each process times its first ZIP as downloaded and the best of five more (CPU time). On a shared
machine whose speed drifts, taking turns and keeping each checkout's least time compares them
fairly. Both checkouts must be able to open the store (the second runs any start-up migrations
the first did not).
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BUILDS = 5


def child(folder: str) -> None:
    """In a checkout's own process: its first build and its best later build, in ms of CPU."""
    from summaries import embedded_app  # noqa: PLC0415 - the checkout's own bench/summaries.py

    from intact import db, exports  # noqa: PLC0415 - the checkout's own code
    from intact.exports import archive  # noqa: PLC0415

    app = embedded_app(folder)
    with app.app_context():
        db.tests().find_one({"test_id": ""})  # litemongo's indexes, built once
        times = []
        for _ in range(1 + BUILDS):
            began = time.process_time()
            sum(len(chunk) for chunk in archive.zip_archive(exports.Selection()))
            times.append(time.process_time() - began)
    print(f"{times[0] * 1000:.0f} {min(times[1:]) * 1000:.0f}")


def run_in(tree: Path, folder: str) -> tuple[float, float]:
    environment = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{tree / 'bench'}"}
    output = subprocess.run(
        [sys.executable, __file__, "--child", folder],
        env=environment,
        cwd=tree,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    first, later = output.split()[-2:]
    return float(first), float(later)


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
        return
    before, after = (Path(arg).resolve() for arg in sys.argv[1:3])
    participants = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    sys.path[:0] = [str(after), str(after / "bench")]
    from summaries import embedded_app, fill  # noqa: PLC0415 - the second checkout's

    from intact import db  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as folder:
        app = embedded_app(folder)
        tests = fill(app, participants)
        db.client_of(app).close()  # the embedded store is one process's at a time
        best = {tree: [float("inf"), float("inf")] for tree in (before, after)}
        for _ in range(rounds):
            for tree in (before, after):
                first, later = run_in(tree, folder)
                best[tree] = [min(best[tree][0], first), min(best[tree][1], later)]
    print(f"{participants:,} participants, {tests:,} tests; least CPU time of {rounds} processes")
    for tree, (first, later) in best.items():
        print(f"  {tree}: first ZIP {first:.0f} ms, later ZIPs (best of {BUILDS}) {later:.0f} ms")


if __name__ == "__main__":
    main()
