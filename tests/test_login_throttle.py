"""Login throttling (issue 16 item 9): only wrong credentials count; valid sessions never wait.

Through the real doors: the dashboard login, the original form API's `password` field, API tokens
and the two-factor step. Limits are set low here; the defaults are in intact/config.py.
"""

import re

import pyotp
import pytest
from conftest import TEST_PASSWORD, bearer, make_account, make_token, start_session

from intact import create_app
from intact.accounts import twofactor

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM = {"participant_ids": "P1"}
STRONG = "violet-lantern-orbit-73"


@pytest.fixture
def app(app_config):
    app_config["RATELIMIT_LOGIN_FAILURES"] = "3 per minute"
    app_config["RATELIMIT_ACCOUNT_FAILURES"] = "4 per hour"
    return create_app(app_config)


def login(client, password, email="", environ=None):
    token = CSRF_FIELD.search(client.get("/admin/login").get_data(as_text=True)).group(1)
    form = {"email": email, "password": password, "csrf_token": token}
    return client.post("/admin/login", data=form, environ_base=environ or {})


def test_requests_without_a_password_never_count(client):
    # What a hostile page can make any visitor's browser send: no password, no cookie.
    for _ in range(10):
        assert client.post("/studies", data=FORM).status_code == 401
        assert client.post("/tests/zip-archive/download-file").status_code == 401
    assert client.post("/studies", data={**FORM, "password": TEST_PASSWORD}).status_code == 200


def test_logins_without_the_form_token_or_a_password_never_count(client):
    for _ in range(10):
        assert client.post("/admin/login", data={"password": "guess"}).status_code == 400
        assert login(client, "").status_code == 401
    assert login(client, TEST_PASSWORD).status_code == 303


def test_wrong_passwords_count_on_every_door_and_then_even_the_right_one_waits(client):
    assert client.post("/studies", data={**FORM, "password": "guess-1"}).status_code == 401
    assert login(client, "guess-2").status_code == 401
    assert client.post("/studies", data={**FORM, "password": "guess-3"}).status_code == 401
    refused = client.post("/studies", data={**FORM, "password": TEST_PASSWORD})
    assert refused.status_code == 429
    assert "Too many wrong passwords" in refused.json["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    page = login(client, TEST_PASSWORD)
    assert page.status_code == 429
    assert 'type="password"' in page.get_data(as_text=True)


def test_a_valid_session_is_never_throttled(app, client):
    researcher = app.test_client()
    csrf = start_session(app, researcher)
    for attempt in range(5):
        client.post("/studies", data={**FORM, "password": f"guess-{attempt}"})
    assert client.post("/studies", data={**FORM, "password": TEST_PASSWORD}).status_code == 429
    # Same network address, logged in: works as before.
    assert researcher.get("/admin/").status_code == 200
    response = researcher.post("/studies", data=FORM, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200


def test_bad_tokens_count_and_a_valid_token_is_never_throttled(app, client):
    account = make_account(app, "alice@example.org", "researcher")
    secret = make_token(app, account, "read")
    for _ in range(3):
        response = client.get("/api/v1/summary", headers=bearer("intact_not-a-real-token"))
        assert response.status_code == 401
        assert response.json["reason"] == "bad"
    assert client.get("/api/v1/summary", headers=bearer("intact_still-wrong")).status_code == 429
    assert client.get("/api/v1/summary", headers=bearer(secret)).status_code == 200


def test_wrong_passwords_for_one_account_count_from_any_address(app):
    make_account(app, "alice@example.org", "researcher", STRONG)
    make_account(app, "bob@example.org", "researcher", STRONG)
    for number in range(4):
        client = app.test_client()
        address = {"REMOTE_ADDR": f"10.0.0.{number}"}
        assert login(client, "guess", "alice@example.org", address).status_code == 401
    fresh = login(app.test_client(), STRONG, "Alice@Example.org", {"REMOTE_ADDR": "10.0.0.9"})
    assert fresh.status_code == 429
    assert "for this account" in fresh.get_data(as_text=True)
    other = login(app.test_client(), STRONG, "bob@example.org", {"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 303


def test_wrong_two_factor_codes_count_for_the_account(app):
    account = make_account(app, "alice@example.org", "admin", STRONG)
    with app.app_context():
        enrolment = twofactor.begin(account.account_id)
        twofactor.confirm(account.account_id, pyotp.TOTP(enrolment.secret).now())
    for number in range(4):
        client = app.test_client()
        address = {"REMOTE_ADDR": f"10.0.1.{number}"}
        assert login(client, STRONG, "alice@example.org", address).status_code == 303
        token = CSRF_FIELD.search(client.get("/admin/login/code").get_data(as_text=True)).group(1)
        wrong = client.post(
            "/admin/login/code", data={"code": "000000", "csrf_token": token}, environ_base=address
        )
        assert wrong.status_code == 401
    assert login(app.test_client(), STRONG, "alice@example.org").status_code == 429
