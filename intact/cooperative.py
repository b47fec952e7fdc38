"""Long work gives other requests a turn: nothing a researcher downloads holds up a submission.

gunicorn's gevent workers (gunicorn.conf.py) run every request of a process on one thread and
switch between them only when one waits for the network. An export that reads 24,000 tests from
the embedded store waits for nothing, so on its own it would keep the thread for its whole
13 seconds while phones' submissions queue. Two tools, the only code that knows about gevent:

- `pause()`, called in the loops that read many documents (`db.stream` calls it for every
  document it yields): once the current request has had the thread for SLICE_SECONDS, every
  other request that is ready runs until it waits, then the loop goes on (`turn()` is the same
  check made at once, for loops with longer steps);
- `in_thread(function)`: run a long step that touches neither the database nor the request (the
  workbook's final ZIP compression) in a real OS thread from gevent's pool, while this request's
  greenlet waits for it and the others run.

Outside gevent (Flask's test client, `flask` commands, a sync server) both do nothing special:
`pause()` returns at once and `in_thread` calls the function.
bench/submissions_during_export.py measures the effect (README, "Server model").
"""

import sys
import time

SLICE_SECONDS = 0.005
# pause() looks at the clock on every PAUSE_CHECK_EVERY-th call only: a loop calls it per document
# (about 25 µs of work each in an export), so 8 calls stay well inside a slice, and the other
# calls cost one counter step instead of a module lookup and a clock read (97,000 calls in the
# 12,000-test ZIP).
PAUSE_CHECK_EVERY = 8
_last_turn = 0.0
_calls = 0


def _gevent():
    """The gevent module when it has patched this process (a gevent worker), else None."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("socket"):
        return None
    return sys.modules["gevent"]


def pause() -> None:
    """Let every other ready request run, if this one has had the thread for SLICE_SECONDS.

    Checked on every PAUSE_CHECK_EVERY-th call: for loops whose steps are short (one document).
    A loop whose steps may be long (a batch of rows) calls `turn()`.
    """
    global _calls  # noqa: PLW0603 - one thread per process: one counter for it
    _calls += 1
    if _calls >= PAUSE_CHECK_EVERY:
        _calls = 0
        turn()


def turn() -> None:
    """`pause()` checked now: let others run if this request has had the thread a slice."""
    global _last_turn  # noqa: PLW0603 - one thread per process: one clock for it
    gevent = _gevent()
    if gevent is None:
        return
    now = time.monotonic()
    if now - _last_turn >= SLICE_SECONDS:
        # idle(): back once the event loop has nothing else to run, so sockets that became ready
        # are served too (sleep(0) may resume this greenlet before polling them).
        gevent.idle()
        _last_turn = time.monotonic()


def in_thread(function, *args):
    """function(*args) in a real thread under gevent (this request waits, others run); its result.

    The function must not touch the embedded store (its SQLite handles belong to the worker's
    thread) nor Flask's request or app context.
    """
    gevent = _gevent()
    if gevent is None:
        return function(*args)
    return gevent.get_hub().threadpool.apply(function, args)
