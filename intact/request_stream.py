"""A request body the server cannot read is the client's error: 400, never a 500.

The server hands the app the body as a stream (`wsgi.input`) and parses the transfer framing
while the app reads it: a malformed chunked body (RFC 9112 section 7.1: a chunk size that is not
hex, a chunk without its CRLF) surfaces as an exception in the middle of reading a JSON body or
a form, deep inside werkzeug's parsers, where it used to become a 500. This middleware wraps the
stream so that any such failure is a `BadRequest` naming the problem; the API answers it as 400
JSON, the dashboard as its 400 page.
"""

import logging

from werkzeug.exceptions import BadRequest, HTTPException

log = logging.getLogger(__name__)


class UnreadableBody(BadRequest):
    """The request body could not be read: broken transfer framing, or the connection failed."""


class _GuardedStream:
    """`wsgi.input` whose read errors become UnreadableBody."""

    def __init__(self, stream):
        self._stream = stream

    def read(self, *args):
        return self._guarded(self._stream.read, *args)

    def readline(self, *args):
        return self._guarded(self._stream.readline, *args)

    def readlines(self, *args):
        return self._guarded(self._stream.readlines, *args)

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def __getattr__(self, name):
        return getattr(self._stream, name)

    @staticmethod
    def _guarded(method, *args):
        try:
            return method(*args)
        # A read timeout is a client that stopped sending: intact/request_body.py answers 408.
        except (HTTPException, TimeoutError):
            raise
        # Whatever the server raises while it de-frames the body (gunicorn: InvalidChunkSize,
        # ChunkMissingTerminator, NoMoreData, or an OSError from the socket), the body is unusable.
        except Exception as error:  # noqa: BLE001
            log.info("unreadable request body: %s", error)
            raise UnreadableBody(
                f"The request body could not be read ({error}). Send it again, with a correct "
                "Content-Length or chunked transfer encoding."
            ) from error


class GuardedInput:
    """WSGI middleware: the app reads its request body through _GuardedStream."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        stream = environ.get("wsgi.input")
        if stream is not None:
            environ["wsgi.input"] = _GuardedStream(stream)
        return self.wsgi_app(environ, start_response)


def init_app(app) -> None:
    """Read every request body of this app through the guard."""
    app.wsgi_app = GuardedInput(app.wsgi_app)
