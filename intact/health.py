"""Liveness and readiness: is the app up and does its database answer?"""

from flask import Blueprint, url_for

from intact import db
from intact.accounts.permissions import public
from intact.errors import error_response

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz():
    """200 when the database answers a ping, 503 otherwise."""
    try:
        db.ping()
    except db.DatabaseUnavailable:
        return error_response(503, "database not reachable", status="unavailable")
    return {"status": "ok"}


@bp.get("/")
@public
def index():
    """Point people to the right place, as the original backend did."""
    return {
        "message": "This is the INTACT backend. Developers: see /docs. Researchers: see /admin.",
        "health": url_for("health.healthz"),
    }
