"""Security headers on every answer: a strict Content-Security-Policy for pages, no sniffing,
no framing, no referrer, no caching of participant data.
"""

from flask import request

# Pages (dashboard, /docs): scripts and styles only from files this app serves, so an injected
# <script> or inline handler never runs; no plugins; forms post only here; no framing.
HTML_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Anything else (JSON, CSV, ZIP): nothing in it may load or run anything, even if opened as a page.
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"

ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    # Dashboard URLs carry participant and study ids: never send them to another site.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
HTML_ONLY = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
# A year; this host only (no includeSubDomains: other services on the domain are not ours).
HSTS = "max-age=31536000"


def init_app(app) -> None:
    """Add the headers to every response of this app."""
    app.after_request(add_security_headers)


def add_security_headers(response):
    """Set the headers this response lacks; a view that sets its own keeps it."""
    is_page = response.mimetype == "text/html"
    for name, value in ALWAYS.items():
        response.headers.setdefault(name, value)
    if is_page:
        for name, value in HTML_ONLY.items():
            response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Security-Policy", HTML_POLICY if is_page else OTHER_POLICY)
    is_static_file = (request.endpoint or "").rsplit(".", 1)[-1] == "static"
    if not is_static_file and "Cache-Control" not in response.headers:
        # Pages and data hold participant ids and results: no shared or back-button copy.
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response
