"""bench/load_post_tests.py works: a short run finds every acknowledged test stored, once."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "load_post_tests.py"


def test_a_short_load_run_loses_nothing():
    spec = importlib.util.spec_from_file_location("load_post_tests", BENCH)
    load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(load)
    figures = load.run(clients=3, seconds=2)
    assert figures["problems"] == []
    assert figures["ok"] == figures["stored"] == figures["posts"] > 0
