"""Who is asking: the client's network address, seen through trusted reverse proxies only."""

from flask import request
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app) -> None:
    """Believe X-Forwarded-For / -Proto from as many proxies as TRUSTED_PROXIES says, no more.

    Without a proxy in front (the default), these headers come from the client itself and could
    be forged to dodge rate limits or to blame someone else in the audit log, so they are ignored.
    """
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def address() -> str:
    """The current request's client address (the proxy-reported one when proxies are trusted)."""
    return request.remote_addr or "unknown"
