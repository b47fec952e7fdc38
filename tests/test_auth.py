"""Admin authentication: password field or session + CSRF token."""

import pytest
from conftest import TEST_PASSWORD
from flask import Flask

from intact import auth


@pytest.fixture
def guarded(app):
    """A throw-away route behind admin_required on the test app."""

    @app.route("/_guarded", methods=["GET", "POST"])
    @auth.admin_required
    def _guarded():
        return {"ok": True}

    @app.post("/_login")
    def _login():
        from flask import session

        session[auth.SESSION_FLAG] = True
        return {"csrf": auth.csrf_token()}

    return app.test_client()


def test_password_field_lets_scripts_in(guarded):
    assert guarded.post("/_guarded", data={"password": TEST_PASSWORD}).status_code == 200


@pytest.mark.parametrize("form", [{}, {"password": ""}, {"password": "wrong"}])
def test_wrong_or_missing_password_is_401_with_the_original_message(guarded, form):
    response = guarded.post("/_guarded", data=form)
    assert response.status_code == 401
    assert response.json["message"] == "Wrong admin password"


def test_session_needs_its_csrf_token_to_change_things(guarded):
    token = guarded.post("/_login").json["csrf"]
    assert guarded.get("/_guarded").status_code == 200
    assert guarded.post("/_guarded").status_code == 401
    assert guarded.post("/_guarded", data={"csrf_token": "forged"}).status_code == 401
    assert guarded.post("/_guarded", data={"csrf_token": token}).status_code == 200
    assert guarded.post("/_guarded", headers={"X-CSRF-Token": token}).status_code == 200


def test_password_comparison_is_constant_time(monkeypatch):
    calls = []
    real = auth.hmac.compare_digest
    monkeypatch.setattr(auth.hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    app = Flask(__name__)
    app.config["ADMIN_PASSWORD"] = "secret-one"
    with app.app_context():
        assert auth.password_matches("secret-one")
        assert not auth.password_matches("secret-two")
    assert len(calls) == 2


def test_scripts_still_get_the_json_401(client):
    response = client.post("/studies/download-file", data={"password": "wrong", "csrf_token": "x"})
    assert response.status_code == 401
    assert response.json["message"] == "Wrong admin password"
