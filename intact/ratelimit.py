"""Rate limits per client address that count failures only: guessing study ids or passwords.

A study id is a participant's only credential (8 letters: 26**8, about 2.1e11 ids), so the
answers that tell a guesser "wrong id" are what we slow down: GET /studies/<id> misses (404) and
refused POST /tests (4xx). Wrong passwords, codes and API tokens are counted by
intact/accounts/throttle.py on the same storage. Successful requests are never counted,
so a clinic where 30 participants share one address never meets a limit in normal use.

Counters live in the app's own database in every store mode (intact/counters.py), so neither a
worker that is replaced nor a second worker or container resets or splits them.

Use in views, as the outermost decorator so that errors raised by argument parsing count too:

    @ratelimit.limit_study_lookups    # GET /studies/<study_id>: 404 answers count
    @ratelimit.limit_test_submissions # POST /tests: 4xx answers count

On a MethodView (flask-smorest's included) list it in the class's `decorators`: it then wraps the
whole view, argument parsing included, and Flask-Limiter knows which route it limits, which
`flask limiter clear` needs (a limit on a method is tied to its route only once a request has
reached it, in that process).

A view that must answer 200 to a failure (an htmx form re-rendered with its error) calls
`ratelimit.mark_failure()` so the attempt still counts.
"""

import logging
import math
import time

from flask import current_app, g, has_app_context
from flask_limiter import Limiter, RateLimitExceeded

from intact import clients, counters, db
from intact.errors import error_response

log = logging.getLogger(__name__)


class PerAppLimiter(Limiter):
    """Flask-Limiter whose storage and on/off switch belong to each app, not to the extension.

    The decorators must exist at import time, like the module-level blueprints they decorate, so
    there is one extension object; but a process may hold several apps (tests build one each), and
    Flask-Limiter keeps the storage of the last app initialised. Here every app keeps its own, and
    a request uses the one of the app serving it.
    """

    STATE = "intact_ratelimit"

    def init_app(self, app) -> None:
        """Initialise for this app and keep what belongs to it in app.extensions."""
        super().init_app(app)
        app.extensions[self.STATE] = {
            "enabled": bool(app.config["RATELIMIT_ENABLED"]),
            "limiter": self._limiter,
            "storage": self._storage,
        }

    def _app_state(self, key, default):
        if has_app_context() and self.STATE in current_app.extensions:
            return current_app.extensions[self.STATE][key]
        return default

    @property
    def enabled(self) -> bool:
        """Whether limits apply in the current app."""
        return self._app_state("enabled", self._enabled_outside_apps)

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self._enabled_outside_apps = value

    @property
    def limiter(self):
        """The rate-limiting strategy over the current app's storage."""
        return self._app_state("limiter", self._limiter)

    @property
    def storage(self):
        """The current app's counter storage."""
        return self._app_state("storage", self._storage)


# One extension object, initialised for every app create_app builds (see PerAppLimiter).
# No key prefix: the counters have a collection of their own, and `flask limiter clear --key
# ADDRESS` builds the keys it deletes from the address alone.
limiter = PerAppLimiter(key_func=clients.address)


def init_app(app) -> None:
    """Give this app its counter storage and the JSON 429 answer."""
    uri, options = counters.storage_for(app.config, db.client_of(app))
    app.config["RATELIMIT_STORAGE_URI"] = uri
    app.config["RATELIMIT_STORAGE_OPTIONS"] = options
    app.config["RATELIMIT_STRATEGY"] = "fixed-window"
    # Set explicitly on every app: the shared extension would otherwise keep an earlier app's value.
    app.config["RATELIMIT_ENABLED"] = bool(app.config["RATELIMIT_ENABLED"])
    # Storage errors must reach the app's 503 handler, not be skipped: skipping would make the view
    # wait for the same unreachable database a second time.
    app.config["RATELIMIT_SWALLOW_ERRORS"] = False
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, too_many_requests)


def mark_failure() -> None:
    """Count the current request as a failed attempt even though it answers 2xx."""
    g.ratelimit_failure = True


def _refused(response) -> bool:
    # A 429 is the limit itself answering: counting it would only push the client further back.
    # A 408 is a phone that lost its network mid-upload (intact/request_body.py), not a guess.
    failed_status = 400 <= response.status_code < 500 and response.status_code not in {408, 429}
    return failed_status or bool(g.get("ratelimit_failure"))


def _not_found(response) -> bool:
    return response.status_code == 404 or bool(g.get("ratelimit_failure"))


def _setting(name):
    return lambda: current_app.config[name]


limit_study_lookups = limiter.limit(
    _setting("RATELIMIT_STUDY_MISSES"),
    # HEAD too: it answers the same 404 or 200, without a body.
    methods=["GET", "HEAD"],
    deduct_when=_not_found,
    error_message=(
        "Too many unknown study ids from your network address. "
        "Check the study link and try again later."
    ),
)
limit_test_submissions = limiter.limit(
    _setting("RATELIMIT_TEST_REFUSALS"),
    methods=["POST"],
    deduct_when=_refused,
    error_message="Too many refused submissions from your network address. Try again later.",
)


def too_many_requests(error: RateLimitExceeded):
    """429 as JSON with a message and Retry-After, like every other API error."""
    retry_after = _seconds_until_reset(error)
    response = error_response(
        429,
        f"{error.description} Retry in {retry_after} s.",
        code=429,
        status="Too Many Requests",
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


def _seconds_until_reset(error: RateLimitExceeded) -> int:
    """Seconds until the breached window ends; the whole window when the storage cannot say."""
    window = int(error.limit.limit.get_expiry())
    breached = limiter.current_limit
    if breached is not None:
        try:
            # reset_at is rounded up to a whole second by the storage: never say more than a window.
            return min(window, max(1, math.ceil(breached.reset_at - time.time())))
        except Exception:  # noqa: BLE001 - a storage hiccup must not turn a 429 into a 500
            log.warning("could not read the rate-limit reset time", exc_info=True)
    return window
