"""Failure counters in the app's own database, in every store mode: what every limit counts on.

A counter that lives in a worker's memory is reset when the worker is replaced and split when
there are two: stalling a worker until it was killed used to reset the study-id guessing limit and
the daily wrong-password limit (issue 10). So counters live where the app's data lives, in the
collection `ratelimit_counters` of the app's database, one document per key and window:
`{"_id": key, "count": int, "expireAt": datetime}` (a TTL index, created with the app's other
indexes in intact/db.py, removes ended windows):

- MongoDB: limits' own MongoDB storage (`AppDatabaseCounters`) on the app's client, so its
  timeouts and connection pool are the app's; its update is one atomic pipeline update.
- embedded store and `mongomock://` (`PortableCounters`): the same documents, updated with what
  litemongo and mongomock support (`$inc`, `$setOnInsert`, upsert). The embedded store runs one
  worker whose requests share one thread (gunicorn.conf.py), and an update does not wait on the
  network, so its two steps are never interleaved with another request's.

Flask-Limiter gets this storage from `storage_for` (intact/ratelimit.py). Any other limit counts on
the same storage with limits' fixed-window strategy, which the app's limiter already holds:

    from limits import parse
    from intact import ratelimit

    strategy = ratelimit.limiter.limiter          # this app's FixedWindowRateLimiter
    strategy.hit(parse("5 per minute"), "login-failures-account", email)   # count one failure
    strategy.test(parse("5 per minute"), "login-failures-account", email)  # False: limit reached

Only fixed windows: limits' moving and sliding windows need updates litemongo cannot make.
`flask limiter clear --key ADDRESS -y` (Flask-Limiter's CLI) deletes an address's counters of the
limits declared on routes (`ratelimit.limit_*`); counters kept by hand under other scopes are
documents of the same collection, cleared by deleting them.
"""

from datetime import UTC, datetime, timedelta

from limits.storage import MongoDBStorage
from pymongo import ReturnDocument

from intact import db

COUNTERS = "ratelimit_counters"
# limits' collection for moving windows: named so that it is the app's too, never used.
WINDOWS = "ratelimit_windows"
MONGODB_SCHEME = "intact-app-db"
PORTABLE_SCHEME = "intact-app-db-portable"


class AppDatabaseCounters(MongoDBStorage):
    """limits' MongoDB counter storage on the app's own client instead of a second one.

    Same database, same timeouts (an unreachable server gives the app's quick 503), one connection
    pool per worker. The app owns the client, so this storage never closes it.
    """

    STORAGE_SCHEME = [MONGODB_SCHEME]

    def __init__(self, uri: str, client=None, **options) -> None:
        super().__init__(uri, **options)
        self._app_client = client

    @property
    def storage(self):
        """The app's client (the TTL index comes with the app's other indexes)."""
        return self._app_client

    def _init_mongo_client(self, uri, **options):
        return self._app_client

    def __del__(self) -> None:
        # The parent would connect (and wait for an unreachable server) only to close the client.
        pass


class PortableCounters(AppDatabaseCounters):
    """The same counters on the embedded store and mongomock, which lack pipeline updates."""

    STORAGE_SCHEME = [PORTABLE_SCHEME]

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` to the key's window, which starts (for `expiry` s) if there is none."""
        now = datetime.now(UTC)
        # A window that has ended starts again from zero; the TTL index may not have removed it.
        self.counters.delete_one({"_id": key, "expireAt": {"$lte": now}})
        counter = self.counters.find_one_and_update(
            {"_id": key},
            {
                "$inc": {"count": amount},
                "$setOnInsert": {"expireAt": now + timedelta(seconds=expiry)},
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(counter["count"])


def storage_for(settings: dict, client) -> tuple[str, dict]:
    """The storage URI and options (limits' `storage_from_string`) for the app's counters."""
    options = {
        "client": client,
        "database_name": settings["DB_NAME"],
        "counter_collection_name": COUNTERS,
        "window_collection_name": WINDOWS,
    }
    if db.store_kind(settings) == db.MONGODB:
        return f"{MONGODB_SCHEME}://", options
    return f"{PORTABLE_SCHEME}://", options
