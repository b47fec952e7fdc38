"""A request body that stops arriving ends with a 408, not with a connection held open for ever.

A phone that loses its network mid-upload leaves the server waiting for the rest of a body that
may never come. Before any view runs, the body is read into memory (it is at most
MAX_CONTENT_LENGTH) with a read timeout on the client's socket: when REQUEST_BODY_TIMEOUT seconds
pass without a byte, the client gets `408 {"message": ...}` (the dashboard, its HTML error page).
Like nginx's `client_body_timeout`, the timeout is per read, not for the whole body, so a slow but
live connection can always finish. Under gunicorn's gevent workers the wait blocks only that
client's greenlet; the timeout frees it.

The socket is gunicorn's (`environ["gunicorn.socket"]`); servers that do not expose it (Flask's
test client, `flask run`) read the body as before.
"""

import io
import logging

from flask import abort, current_app, request
from werkzeug.exceptions import ClientDisconnected

log = logging.getLogger(__name__)


def init_app(app) -> None:
    """Read every request body within the timeout, before the app's other hooks and views."""
    app.before_request(read_body_in_time)


def read_body_in_time() -> None:
    """Buffer the request body for the app; abort(408) when the client stops sending it."""
    environ = request.environ
    socket = environ.get("gunicorn.socket")
    if socket is None or not _has_body(environ):
        return
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    length = request.content_length
    if length is not None and length > limit:
        return  # refused with a 413 before a byte of it is read
    seconds = current_app.config["REQUEST_BODY_TIMEOUT"]
    socket.settimeout(seconds)
    try:
        # A chunked body has no length: one byte past the limit shows it is too large (413).
        body = environ["wsgi.input"].read(limit + 1 if length is None else length)
    except TimeoutError:
        log.warning("request body not received within %s s", seconds)
        abort(408, f"The request body stopped arriving: nothing came for {seconds} s.")
    except OSError as error:  # the client hung up mid-body (gunicorn's NoMoreData, a reset)
        raise ClientDisconnected() from error
    finally:
        socket.settimeout(None)
    # The app's readers (form, JSON, files, raw body) read this copy, as they would the socket.
    environ["wsgi.input"] = io.BytesIO(body)


def _has_body(environ) -> bool:
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    return chunked or environ.get("CONTENT_LENGTH", "0") not in {"", "0"}
