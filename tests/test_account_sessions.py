"""Sessions recorded on the server, tried as an attacker would (issue 11's findings) and as a team.

A cookie copied before logout, a restart with a new ADMIN_PASSWORD, a session used every few
hours; and another device's session after deactivation, a role change, a password change and
"log out everywhere".
"""

from datetime import UTC, datetime, timedelta

from conftest import CSRF_FIELD, STRONG_PASSWORD, TEST_PASSWORD, csrf_from, make_account

from intact import create_app, db

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


def log_in(client, password=TEST_PASSWORD, email="", user_agent=FIREFOX):
    token = csrf_from(client.get("/admin/login"))
    response = client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": token},
        headers={"User-Agent": user_agent},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


def copy_of(app, client):
    """Another client holding a copy of this client's session cookie."""
    thief = app.test_client()
    cookie = client.get_cookie("session")
    thief.set_cookie("session", cookie.value)
    return thief


def test_a_cookie_copied_before_logout_is_worthless_after_it(app, client, make_study):
    make_study("P1")
    log_in(client)
    thief = copy_of(app, client)
    assert thief.get("/admin/participants/P1").status_code == 200
    client.post("/admin/logout", data={"csrf_token": csrf_from(client.get("/admin/"))})
    assert thief.get("/admin/participants/P1").status_code == 302
    token = CSRF_FIELD.search(thief.get("/admin/login").get_data(as_text=True))
    created = thief.post("/studies", data={"participant_ids": "P9", "csrf_token": token.group(1)})
    assert created.status_code == 401
    with app.app_context():
        assert db.studies().count_documents({"participant_id": "P9"}) == 0


def test_a_new_admin_password_ends_every_old_session(app_config):
    app_config["DB_CONNECTION_STR"] = ""  # the embedded store: both apps see one database
    before = create_app(app_config)
    client = log_in(before.test_client())
    assert client.get("/admin/").status_code == 200
    after = create_app({**app_config, "ADMIN_PASSWORD": "a-new-password-after-someone-left"})
    copied = copy_of(after, client)
    assert copied.get("/admin/").status_code == 302


def test_a_session_used_every_few_hours_still_ends_after_12(app, client):
    log_in(client)
    with app.app_context():
        db.collection("sessions").update_many(
            {},
            {
                "$set": {
                    "created_at": datetime.now(UTC) - timedelta(hours=12, minutes=1),
                    "last_seen_at": datetime.now(UTC) - timedelta(hours=1),
                }
            },
        )
    assert client.get("/admin/").status_code == 302


def test_deactivation_and_role_changes_act_at_the_next_request_everywhere(app):
    make_account(app, "boss@example.org", "admin")
    make_account(app, "alice@example.org", "researcher")
    boss = log_in(app.test_client(), STRONG_PASSWORD, "boss@example.org")
    alice = log_in(app.test_client(), STRONG_PASSWORD, "alice@example.org")
    assert alice.get("/admin/refused").status_code == 200
    page = boss.get("/admin/accounts").get_data(as_text=True)
    alice_id = page.split('href="/admin/accounts/')[1].split('"')[0]
    token = csrf_from(boss.get("/admin/accounts"))
    boss.post(f"/admin/accounts/{alice_id}/role", data={"role": "analyst", "csrf_token": token})
    assert alice.get("/admin/refused").status_code == 403
    assert alice.get("/admin/progress").status_code == 200
    boss.post(f"/admin/accounts/{alice_id}/deactivate", data={"csrf_token": token})
    assert alice.get("/admin/progress").status_code == 302


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app):
    make_account(app, "alice@example.org", "researcher")
    laptop = log_in(app.test_client(), STRONG_PASSWORD, "alice@example.org")
    phone = log_in(app.test_client(), STRONG_PASSWORD, "alice@example.org")
    changed = laptop.post(
        "/admin/account/password",
        data={
            "current_password": STRONG_PASSWORD,
            "new_password": "amber-quarry-lantern-58",
            "new_password_again": "amber-quarry-lantern-58",
            "csrf_token": csrf_from(laptop.get("/admin/account")),
        },
    )
    assert changed.status_code == 303
    assert laptop.get("/admin/").status_code == 200
    assert phone.get("/admin/").status_code == 302


def test_sessions_are_listed_with_their_browser_and_log_out_everywhere_ends_them_all(app):
    make_account(app, "alice@example.org", "researcher")
    laptop = log_in(app.test_client(), STRONG_PASSWORD, "alice@example.org")
    iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
    )
    phone = log_in(app.test_client(), STRONG_PASSWORD, "alice@example.org", iphone)
    page = laptop.get("/admin/account").get_data(as_text=True)
    assert "Firefox" in page and "Mobile Safari" in page and "iOS" in page
    assert "this session" in page
    ended = laptop.post(
        "/admin/account/sessions/end-all", data={"csrf_token": csrf_from(laptop.get("/admin/"))}
    )
    assert ended.headers["Location"] == "/admin/login"
    assert laptop.get("/admin/").status_code == 302
    assert phone.get("/admin/").status_code == 302
