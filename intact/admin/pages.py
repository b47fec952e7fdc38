"""View helpers: full page or htmx fragment, redirects that htmx follows, the login bounce."""

from urllib.parse import urlencode, urlsplit

from flask import make_response, redirect, render_template, request, url_for

from intact.admin.session import safe_next

HX_REQUEST = "HX-Request"
HX_HISTORY_RESTORE = "HX-History-Restore-Request"
HX_REDIRECT = "HX-Redirect"
HX_CURRENT_URL = "HX-Current-URL"


def is_htmx() -> bool:
    """True for a request htmx made (it sends HX-Request: true)."""
    return request.headers.get(HX_REQUEST) == "true"


def wants_fragment() -> bool:
    """True when htmx asks for a piece to swap in, not for a whole page to restore."""
    return is_htmx() and request.headers.get(HX_HISTORY_RESTORE) != "true"


def render_page(page_template: str, fragment_template: str, status: int = 200, **context):
    """The full page, or only its fragment for htmx; the same URL serves both, so say Vary."""
    template = fragment_template if wants_fragment() else page_template
    response = make_response(render_template(template, **context), status)
    response.vary.add(HX_REQUEST)
    response.vary.add(HX_HISTORY_RESTORE)
    return response


def redirect_to(location: str):
    """Go to `location`: 303 for a plain form, HX-Redirect (a full page load) for htmx."""
    if is_htmx():
        response = make_response("", 204)
        response.headers[HX_REDIRECT] = location
        return response
    return redirect(location, 303)


def _same_site_path(url: str) -> str | None:
    """The path and query of `url` when it is an address on this site, else None."""
    parts = urlsplit(url)
    if parts.netloc != request.host:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _path_to_come_back_to() -> str | None:
    prefix = url_for("dashboard.overview")
    if is_htmx():
        # The page the researcher is looking at, not the fragment URL htmx was calling.
        return safe_next(_same_site_path(request.headers.get(HX_CURRENT_URL, "")), prefix)
    if request.method == "GET":
        return safe_next(request.full_path.rstrip("?"), prefix)
    # A form posted after the session ended (a download left open): back to the page it was on,
    # when the browser says which (our pages send no Referer, so usually the overview).
    return safe_next(_same_site_path(request.referrer or ""), prefix)


def login_url_for_this_request() -> str:
    """The login page, remembering where to come back to afterwards."""
    come_back = _path_to_come_back_to()
    query = f"?{urlencode({'next': come_back})}" if come_back else ""
    return url_for("dashboard.login") + query


def send_to_login():
    """Answer a logged-out request: a redirect, or HX-Redirect so htmx loads the whole login page.

    Without HX-Redirect, htmx would swap the login page into whatever table cell asked.
    """
    location = login_url_for_this_request()
    if is_htmx():
        response = make_response("Please log in again.", 401)
        response.headers[HX_REDIRECT] = location
        return response
    # 303 after a form: the browser fetches the login page rather than posting to it.
    return redirect(location, 302 if request.method == "GET" else 303)
