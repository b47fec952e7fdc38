"""Accounts in real Chromium: invite → set password → two-factor setup → log in with a TOTP code
→ log out everywhere; and Swagger UI's Authorize button with an API token."""

import time

import pyotp
import pytest
from conftest import LAPTOP, PHONE, STRONG_PASSWORD, make_account, make_token, serving, shoot

from intact import create_app

pytestmark = pytest.mark.browser

SAM_PASSWORD = "amber-quarry-lantern-58"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """A live server with one named admin."""
    app = create_app(
        {
            "DB_CONNECTION_STR": "mongomock://",
            "ADMIN_PASSWORD": "shared-password-of-the-clinic",
            "SECRET_KEY": "accounts-browser-secret",
            "DATA_DIR": str(tmp_path_factory.mktemp("data")),
        }
    )
    make_account(app, "boss@example.org", "admin")
    with serving(app) as url:
        yield app, url


def log_in(page, url, email, password):
    page.goto(f"{url}/admin/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def next_step_code(secret: str) -> str:
    """A code the server has not seen yet: the next 30-second step (one step of drift is fine)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_invite_set_password_two_factor_login_and_log_out_everywhere(live_server, page_at):
    app, url = live_server
    boss = page_at(LAPTOP)
    log_in(boss, url, "boss@example.org", STRONG_PASSWORD)
    boss.get_by_role("link", name="Accounts").click()
    boss.get_by_label("E-mail address (their username)").fill("sam@example.org")
    boss.get_by_label("Role").select_option("researcher")
    boss.get_by_role("button", name="Create account and link").click()
    link = boss.locator("#new-link").inner_text()
    assert link.startswith(f"{url}/admin/password/")
    shoot(boss, "accounts-invite")

    sam = page_at(LAPTOP)
    sam.goto(link)
    sam.get_by_label("New password").fill(SAM_PASSWORD)
    sam.get_by_label("The same password again").fill(SAM_PASSWORD)
    sam.get_by_role("button", name="Set my password").click()
    assert "Your password is set" in sam.locator("#messages").inner_text()
    log_in(sam, url, "sam@example.org", SAM_PASSWORD)
    sam.get_by_role("link", name="My account").click()
    sam.get_by_role("link", name="Set up two-factor login").click()
    assert sam.locator(".qr-code svg").count() == 1
    shoot(sam, "two-factor-setup")
    secret = sam.locator("#totp-secret").inner_text()
    sam.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    sam.get_by_role("button", name="Switch two-factor login on").click()
    recovery = sam.locator("#recovery-codes code").all_inner_texts()
    assert len(recovery) == 10
    sam.get_by_role("link", name="Done").click()
    sam.get_by_role("button", name="Log out").first.click()

    # Logging in again: password, then the code from the app.
    log_in(sam, url, "sam@example.org", SAM_PASSWORD)
    assert sam.url.endswith("/admin/login/code")
    sam.get_by_label("Code").fill(next_step_code(secret))
    sam.get_by_role("button", name="Log in").click()
    assert sam.url == f"{url}/admin/"

    # The same person on a phone, with a recovery code.
    phone = page_at(PHONE)
    log_in(phone, url, "sam@example.org", SAM_PASSWORD)
    phone.get_by_label("Code").fill(recovery[0])
    phone.get_by_role("button", name="Log in").click()
    assert phone.url == f"{url}/admin/"

    sam.goto(f"{url}/admin/account")
    assert sam.locator("text=this session").count() == 1
    assert sam.locator("table").first.locator("tbody tr").count() == 2
    shoot(sam, "my-account")
    sam.get_by_role("button", name="Log out everywhere").click()
    assert "/admin/login" in sam.url
    phone.goto(f"{url}/admin/progress")
    assert "/admin/login" in phone.url
    assert not sam.errors and not phone.errors and not boss.errors


def test_swagger_ui_authorize_sends_the_token(live_server, page_at):
    app, url = live_server
    analyst = make_account(app, "ana@example.org", "analyst")
    token = make_token(app, analyst, "read")
    page = page_at(LAPTOP)
    page.goto(f"{url}/docs")
    page.get_by_role("button", name="Authorize").first.click()
    page.locator(".modal-ux input").first.fill(token)
    page.locator(".modal-ux button.authorize").click()
    page.locator(".modal-ux button.btn-done").click()
    operation = page.locator("#operations-api_v1-get_api_v1_summary")
    operation.locator(".opblock-summary").click()
    with page.expect_response(lambda response: "/api/v1/summary" in response.url) as answer:
        operation.get_by_role("button", name="Try it out").click()
        operation.get_by_role("button", name="Execute").click()
    assert answer.value.status == 200
    assert answer.value.request.headers["authorization"] == f"Bearer {token}"
