"""The Accounts page (admins) and the My account page (everyone), through the test client."""

import re

import pyotp
from conftest import STRONG_PASSWORD, csrf_from, make_account

from intact import audit, db

NEW_PASSWORD = "amber-quarry-lantern-58"


def log_in(client, email, password=STRONG_PASSWORD):
    token = csrf_from(client.get("/admin/login"))
    return client.post(
        "/admin/login", data={"email": email, "password": password, "csrf_token": token}
    )


def test_an_admin_invites_someone_who_sets_their_own_password(app):
    make_account(app, "boss@example.org", "admin")
    boss = app.test_client()
    assert log_in(boss, "boss@example.org").status_code == 303
    invited = boss.post(
        "/admin/accounts",
        data={
            "email": "Sam@Example.org",
            "role": "analyst",
            "csrf_token": csrf_from(boss.get("/admin/accounts")),
        },
    )
    assert invited.status_code == 201
    [link] = re.findall(r'id="new-link">([^<]+)<', invited.get_data(as_text=True))
    path = link.replace("http://localhost", "")
    sam = app.test_client()
    page = sam.get(path)
    assert "sam@example.org" in page.get_data(as_text=True)
    weak = sam.post(
        path,
        data={
            "password": "password1234",
            "password_again": "password1234",
            "csrf_token": csrf_from(page),
        },
    )
    assert weak.status_code == 422 and "common password" in weak.get_data(as_text=True)
    done = sam.post(
        path,
        data={
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD,
            "csrf_token": csrf_from(page),
        },
    )
    assert done.status_code == 303
    assert sam.get(path).status_code == 404  # used
    assert log_in(sam, "sam@example.org", NEW_PASSWORD).status_code == 303
    menu = sam.get("/admin/").get_data(as_text=True)
    assert "Accounts" not in menu and "Refused submissions" not in menu and "My account" in menu
    with app.app_context():
        actions = {e["action"]: e["who"] for e in db.collection("audit_log").find()}
    assert actions[audit.ACCOUNT_CREATED] == "boss@example.org"
    assert actions[audit.PASSWORD_SET] == "sam@example.org"


def test_a_token_made_on_my_account_is_shown_once_works_and_can_be_revoked(app):
    make_account(app, "alice@example.org", "researcher")
    alice = app.test_client()
    log_in(alice, "alice@example.org")
    made = alice.post(
        "/admin/account/tokens",
        data={
            "name": "nightly",
            "scope": "read",
            "days": "30",
            "csrf_token": csrf_from(alice.get("/admin/account")),
        },
    )
    assert made.status_code == 201
    [secret] = re.findall(r'id="new-token">(intact_[^<]+)<', made.get_data(as_text=True))
    assert secret not in alice.get("/admin/account").get_data(as_text=True)
    headers = {"Authorization": f"Bearer {secret}"}
    assert app.test_client().get("/api/v1/participants", headers=headers).status_code == 200
    page = alice.get("/admin/account").get_data(as_text=True)
    [revoke] = re.findall(r'action="(/admin/account/tokens/[^"]+/revoke)"', page)
    assert (
        alice.post(revoke, data={"csrf_token": csrf_from(alice.get("/admin/account"))}).status_code
        == 303
    )
    refused = app.test_client().get("/api/v1/participants", headers=headers)
    assert refused.status_code == 401 and refused.json["reason"] == "revoked"


def test_two_factor_setup_then_login_asks_for_the_code(app):
    make_account(app, "alice@example.org", "researcher")
    alice = app.test_client()
    log_in(alice, "alice@example.org")
    setup = alice.get("/admin/account/two-factor").get_data(as_text=True)
    assert "<svg" in setup
    [secret] = re.findall(r'id="totp-secret">([A-Z2-7]+)<', setup)
    codes = alice.post(
        "/admin/account/two-factor",
        data={
            "code": pyotp.TOTP(secret).now(),
            "csrf_token": csrf_from(alice.get("/admin/account")),
        },
    ).get_data(as_text=True)
    recovery = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", codes)
    assert len(recovery) == 10
    fresh = app.test_client()
    asked = log_in(fresh, "alice@example.org")
    assert asked.headers["Location"] == "/admin/login/code"
    assert fresh.get("/admin/").status_code == 302  # the password alone is not a login
    code_page = fresh.get("/admin/login/code")
    entered = fresh.post(
        "/admin/login/code", data={"code": recovery[0], "csrf_token": csrf_from(code_page)}
    )
    assert entered.status_code == 303
    assert fresh.get("/admin/").status_code == 200


def test_admins_must_set_up_two_factor_when_the_setting_says_so(app_config):
    from intact import create_app

    app = create_app(
        {**app_config, "ADMIN_PASSWORD_ENABLED": "0", "ADMIN_TWO_FACTOR_REQUIRED": "1"}
    )
    make_account(app, "boss@example.org", "admin")
    boss = app.test_client()
    assert log_in(boss, "boss@example.org").headers["Location"] == "/admin/account/two-factor"
    blocked = boss.get("/admin/progress")
    assert blocked.status_code == 303 and blocked.headers["Location"] == "/admin/account/two-factor"
    assert boss.get("/admin/account/two-factor").status_code == 200


def test_the_shared_password_switched_off_is_refused_everywhere(app_config, make_study):
    from intact import create_app

    app = create_app({**app_config, "ADMIN_PASSWORD_ENABLED": "0", "ADMIN_PASSWORD": ""})
    client = app.test_client()
    token = csrf_from(client.get("/admin/login"))
    page = client.post(
        "/admin/login", data={"password": app_config["ADMIN_PASSWORD"], "csrf_token": token}
    )
    assert page.status_code == 401 and "e-mail address" in page.get_data(as_text=True)
    api = client.post(
        "/studies", data={"participant_ids": "P1", "password": app_config["ADMIN_PASSWORD"]}
    )
    assert api.status_code == 401
