"""Login throttling: wrong passwords, codes and tokens, counted per client and per account.

Only a credential that was tried and was wrong counts (issue 16 item 9): a request with no
password, a missing CSRF token, or a valid session never does, and a valid session or API token
is never throttled. So a hostile page that makes visitors' browsers post empty forms locks no
one out, and researchers who are logged in keep working while someone guesses.

- per client address: RATELIMIT_LOGIN_FAILURES, for every way of trying a credential (dashboard
  login, the form API's `password` field, a second-factor code, an API token, a one-time link);
- per account: RATELIMIT_ACCOUNT_FAILURES, for wrong passwords and codes given for one e-mail
  address (known or not, so the limit does not tell which accounts exist). OWASP ASVS 4.0
  V2.2.1 asks for no more than 100 failed attempts per hour on one account.

The counters use the rate limiter's storage (intact/ratelimit.py), so they live wherever its
counters live and are shared by every worker that shares them.
"""

import logging
import math
import time

from flask import current_app
from limits import parse_many
from werkzeug.exceptions import TooManyRequests

from intact import clients, ratelimit

log = logging.getLogger(__name__)

CLIENT_SCOPE = "login-failures-client"
ACCOUNT_SCOPE = "login-failures-account"


class TooManyFailures(TooManyRequests):
    """429: too many wrong credentials from this client or for this account."""

    def __init__(self, description: str, retry_after: int):
        super().__init__(description, retry_after=retry_after)
        self.retry_after_seconds = retry_after


def _counters(account: str | None):
    """(limit, scope, key) for each counter that applies to this attempt."""
    config = current_app.config
    counters = [
        (item, CLIENT_SCOPE, clients.address())
        for item in parse_many(config["RATELIMIT_LOGIN_FAILURES"])
    ]
    if account:
        counters += [
            (item, ACCOUNT_SCOPE, account)
            for item in parse_many(config["RATELIMIT_ACCOUNT_FAILURES"])
        ]
    return counters


def _enabled() -> bool:
    return bool(current_app.config["RATELIMIT_ENABLED"])


def check(account: str | None = None) -> None:
    """Raise TooManyFailures when this client, or this account, has no attempts left."""
    if not _enabled():
        return
    strategy = ratelimit.limiter.limiter
    for item, scope, key in _counters(account):
        if not strategy.test(item, scope, key):
            reset_at = strategy.get_window_stats(item, scope, key).reset_time
            retry_after = max(1, min(item.get_expiry(), math.ceil(reset_at - time.time())))
            who = "for this account" if scope == ACCOUNT_SCOPE else "from your network address"
            raise TooManyFailures(
                f"Too many wrong passwords or codes {who}. Try again in {retry_after} s.",
                retry_after,
            )


def record_failure(account: str | None = None) -> None:
    """Count one wrong credential against this client (and this account, if one was named)."""
    if not _enabled():
        return
    strategy = ratelimit.limiter.limiter
    for item, scope, key in _counters(account):
        strategy.hit(item, scope, key)
    log.info("wrong credential counted", extra={"fields": {"client": clients.address()}})
