"""The shared checks of every login: ADMIN_PASSWORD and the CSRF token, through real routes."""

import pytest
from conftest import TEST_PASSWORD, start_session
from flask import Flask

from intact import auth

FORM = {"participant_ids": "P1"}


def test_password_field_lets_scripts_in(client):
    assert client.post("/studies", data={**FORM, "password": TEST_PASSWORD}).status_code == 200


@pytest.mark.parametrize("form", [{}, {"password": ""}, {"password": "wrong"}])
def test_wrong_or_missing_password_is_401_with_the_original_message(client, form):
    response = client.post("/studies", data={**FORM, **form})
    assert response.status_code == 401
    assert response.json["message"] == "Wrong admin password"


def test_session_needs_its_csrf_token_to_change_things(app, client):
    token = start_session(app, client)
    assert client.post("/studies", data=FORM).status_code == 403
    assert client.post("/studies", data={**FORM, "csrf_token": "forged"}).status_code == 403
    assert client.post("/studies", data={**FORM, "csrf_token": token}).status_code == 200
    assert client.post("/studies", data=FORM, headers={"X-CSRF-Token": token}).status_code == 200


def test_password_comparison_is_constant_time(monkeypatch):
    calls = []
    real = auth.hmac.compare_digest
    monkeypatch.setattr(auth.hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    app = Flask(__name__)
    app.config.update(ADMIN_PASSWORD="secret-one", ADMIN_PASSWORD_ENABLED=True)
    with app.app_context():
        assert auth.password_matches("secret-one")
        assert not auth.password_matches("secret-two")
    assert len(calls) == 2


def test_a_switched_off_shared_password_never_matches():
    app = Flask(__name__)
    app.config.update(ADMIN_PASSWORD="secret-one", ADMIN_PASSWORD_ENABLED=False)
    with app.app_context():
        assert not auth.password_matches("secret-one")
