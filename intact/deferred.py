"""Work done after the answer has been sent: it neither delays the answer nor shapes its timing.

A refused submission that names a known study is kept in the quarantine, one that names no study
is not. Doing that write before answering would make a known study id answer measurably slower
than an unknown one, so guesses could be sorted by time (SECURITY.md, T1). `after_response(func,
*args)` runs `func(*args)` once the server has sent the whole answer: WSGI calls the response's
`close()` after writing its body (PEP 3333), and the work runs there, in a fresh app context.

Outside a request (a `flask` command, a script) the work runs at once. A failure is logged; the
answer has gone already.
"""

import logging

from flask import current_app, g, has_request_context

log = logging.getLogger(__name__)

_PENDING = "deferred_work"


def after_response(func, *args, **kwargs) -> None:
    """Run func(*args, **kwargs) after the current request's answer is sent (now, outside one)."""
    if not has_request_context():
        func(*args, **kwargs)
        return
    g.setdefault(_PENDING, []).append((func, args, kwargs))


def init_app(app) -> None:
    """Hand each request's deferred work to its response, to run when the server closes it."""
    app.after_request(_attach_pending_work)


def _attach_pending_work(response):
    work = g.pop(_PENDING, None)
    if work:
        app = current_app._get_current_object()
        response.call_on_close(lambda: _run(app, work))
    return response


def _run(app, work) -> None:
    with app.app_context():
        for func, args, kwargs in work:
            try:
                func(*args, **kwargs)
            except Exception:  # noqa: BLE001 - the answer is sent; the log is all that is left
                log.exception("work deferred after a response failed")
