"""Every route declares who may use it, and every role gets exactly what the table allows.

The matrix walks app.url_map, so a route added anywhere is checked here without editing this
file; an analyst's answers are searched for every study id (the participants' credentials).
"""

import io
import itertools
import json
import zipfile
from datetime import UTC, datetime

import pytest
from conftest import (
    TEST_PASSWORD,
    bearer,
    make_account,
    make_token,
    start_session,
    stored_test,
)
from flask import request
from werkzeug.exceptions import HTTPException

from intact import db
from intact.accounts import guard, permissions
from intact.accounts.permissions import ANALYST, PUBLIC, ROLES, Permission
from intact.accounts.principal import Principal

STUDY_IDS = ("kqwmzrta", "hvbnxeup", "ldjfwqop")
QUARANTINE_ID = "6a1f00000000000000000001"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
# A value for every URL argument a route may take. A new argument name: add a sample here.
SAMPLE_ARGUMENTS = {
    "participant_id": "P001",
    "study_id": STUDY_IDS[0],
    "batch_id": "seed-batch",
    "quarantine_id": QUARANTINE_ID,
    "unknown": "no-such-page",
    "filename": "admin.css",
    "key": "no-such-link",
    "session_ref": "no-such-session",
    "token_id": "no-such-token",
    "kind": "archive",
    "score": "ir_score",
    # account_id: the matrix's own target account, filled in by the fixture
}
HOW_TO_DECLARE = """\
Route {rule} ({endpoint}, defined in {module}) declares no permission, so nobody may use it.
Add one line directly under its route decorator:

    from intact.accounts.permissions import Permission, public, requires

    @requires(Permission.VIEW_PROGRESS)   # or another Permission: see ROLES_FOR in
                                          # intact/accounts/permissions.py for who holds each
    @public                               # only for participants' endpoints, login pages, health

On a flask-smorest MethodView, decorate the class. Then run tests/test_permissions.py again."""


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    """An app with a small study, an account per role, and a target account to manage."""
    from intact import create_app

    app = create_app(
        {
            "DB_CONNECTION_STR": "mongomock://",
            "ADMIN_PASSWORD": TEST_PASSWORD,
            "SECRET_KEY": "matrix-secret",
            "DATA_DIR": str(tmp_path_factory.mktemp("data")),
            "TESTING": True,
            "RATELIMIT_ENABLED": "0",
        }
    )
    now = datetime.now(UTC)
    studies = [
        {
            "study_id": study_id,
            "participant_id": participant,
            "study_type": study_type,
            "url": f"http://localhost:5173/{study_id}",
            "created_at": now,
            "batch_id": "seed-batch",
        }
        for study_id, participant, study_type in zip(
            STUDY_IDS, ("P001", "P001", "P002"), ("baseline", "followup", "baseline"), strict=True
        )
    ]
    with app.app_context():
        db.studies().insert_many([dict(study) for study in studies])
        db.tests().insert_many(
            [
                stored_test(studies[0], "choice_reaction_time"),
                stored_test(studies[1], "choice_reaction_time"),
                stored_test(studies[2], "immediate_recall"),
            ]
        )
        db.quarantine().insert_one(
            {
                "quarantine_id": QUARANTINE_ID,
                "study_id": STUDY_IDS[0],
                "participant_id": "P001",
                "study_type": "baseline",
                "received_at": now,
                "content_type": "application/json",
                "message": "Invalid submission",
                "errors": [],
                "raw_body": json.dumps({"study_id": STUDY_IDS[0]}),
                "size_bytes": 10,
                "truncated": False,
            }
        )
    _watch_the_guard(app)
    accounts = {role: make_account(app, f"{role}@example.org", role) for role in ROLES}
    target = make_account(app, "target@example.org", "researcher")
    tokens = {
        (role, scope): make_token(app, accounts[role], scope)
        for role, scope in itertools.product(ROLES, ("read", "write"))
    }
    return {"app": app, "accounts": accounts, "target": target, "tokens": tokens}


def _routes(app):
    """(rule, method) for every route and method of the app, in a stable order."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        for method in sorted(rule.methods - IGNORED_METHODS):
            yield rule, method


def _url(app, rule, target) -> str:
    values = {**SAMPLE_ARGUMENTS, "account_id": target.account_id}
    missing = [name for name in rule.arguments if name not in values]
    assert not missing, (
        f"Route {rule.rule} takes {missing}: add a sample value to SAMPLE_ARGUMENTS in "
        "tests/test_permissions.py."
    )
    adapter = app.url_map.bind("localhost")
    return adapter.build(rule.endpoint, {name: values[name] for name in rule.arguments})


# Endpoints the guard refused, as recorded by the matrix app's wrapped guard (see `matrix`).
GUARD_REFUSED: list[str] = []


def _watch_the_guard(app) -> None:
    """Record each refusal of the app's guard, so a test knows the guard (not a view) said no."""
    checks = app.before_request_funcs[None]
    position = checks.index(guard.check_request)

    def recording_check():
        try:
            return guard.check_request()
        except HTTPException:
            GUARD_REFUSED.append(request.endpoint)
            raise

    checks[position] = recording_check


def _refused(response) -> bool:
    """Whether the guard refused the request that gave `response` (the last one made)."""
    return bool(GUARD_REFUSED)


def _declared(app, rule):
    return permissions.declaration_of(rule.endpoint, app.view_functions[rule.endpoint])


def test_every_route_declares_who_may_use_it(matrix):
    app = matrix["app"]
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        assert _declared(app, rule) is not None, HOW_TO_DECLARE.format(
            rule=rule.rule, endpoint=rule.endpoint, module=getattr(view, "__module__", "?")
        )


def test_an_undeclared_route_is_refused_to_everyone(app, client):
    @app.get("/undeclared")
    def undeclared():
        return "should never be seen"

    start_session(app, client)
    response = client.get("/undeclared")
    assert response.status_code == 403
    assert "declares no permission" in response.json["message"]


def _request(client, method, url, csrf=None, headers=None):
    GUARD_REFUSED.clear()
    data = {"csrf_token": csrf} if csrf and method != "GET" else None
    return client.open(url, method=method, data=data, headers=headers or {})


def _content(response) -> bytes:
    """The answer's bytes; for a ZIP or workbook, every member's bytes (they are compressed)."""
    body = response.get_data()
    if body.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return b"".join(archive.read(name) for name in archive.namelist())
    return body


def _shows_a_study_id(response) -> list[str]:
    content = _content(response)
    return [study_id for study_id in STUDY_IDS if study_id.encode() in content]


def _assert_no_study_id(response, what):
    leaked = _shows_a_study_id(response)
    assert not leaked, f"{what} showed an analyst the study ids {leaked}"


def test_each_role_gets_what_the_table_allows_on_every_route(matrix):
    """Sessions of every role, and logged out, against every route and method."""
    app, accounts = matrix["app"], matrix["accounts"]
    admin_saw_ids = False
    for rule, method in _routes(app):
        declared = _declared(app, rule)
        url = _url(app, rule, matrix["target"])
        anonymous = _request(app.test_client(), method, url)
        if declared == PUBLIC:
            assert not _refused(anonymous), f"{method} {url} is public"
            continue
        assert _refused(anonymous), f"{method} {url} answered {anonymous.status_code} logged out"
        for role in ROLES:
            client = app.test_client()
            csrf = start_session(app, client, accounts[role])
            response = _request(client, method, url, csrf)
            expected = permissions.allowed(Principal(role=role, via="session"), declared)
            assert _refused(response) != expected, (
                f"{method} {url} ({declared}) as {role}: {response.status_code}, "
                f"expected {'allowed' if expected else 'refused'}"
            )
            if role == ANALYST:
                _assert_no_study_id(response, f"{method} {url}")
            elif _shows_a_study_id(response):
                admin_saw_ids = True
    # The search means something only if the study team does see the ids somewhere.
    assert admin_saw_ids


def test_api_tokens_get_what_their_role_and_scope_allow(matrix):
    """Every JSON and download route outside the dashboard, with a read and a write token."""
    app = matrix["app"]
    for rule, method in _routes(app):
        declared = _declared(app, rule)
        if declared == PUBLIC or rule.endpoint.startswith("dashboard."):
            continue
        url = _url(app, rule, matrix["target"])
        for (role, scope), secret in matrix["tokens"].items():
            response = _request(app.test_client(), method, url, headers=bearer(secret))
            expected = permissions.allowed(Principal(role=role, via="token", scope=scope), declared)
            assert _refused(response) != expected, (
                f"{method} {url} ({declared}) with a {scope} token of a {role}: "
                f"{response.status_code}"
            )
            if role == ANALYST:
                _assert_no_study_id(response, f"{method} {url} (analyst token)")


def test_tokens_are_not_a_way_into_the_dashboard(matrix):
    app = matrix["app"]
    secret = matrix["tokens"][("admin", "write")]
    response = _request(app.test_client(), "GET", "/admin/", headers=bearer(secret))
    assert _refused(response)
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")


def test_the_table_has_a_row_for_every_permission():
    assert set(permissions.ROLES_FOR) == set(Permission)
    assert all(roles <= set(ROLES) for roles in permissions.ROLES_FOR.values())
