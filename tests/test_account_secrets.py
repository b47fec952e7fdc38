"""Server-side sessions, API tokens and two-factor codes, at the service level."""

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from intact import db
from intact.accounts import sessions, tokens, twofactor, users

CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def alice(ctx):
    return users.create_account("alice@example.org", "researcher")


# --- sessions ----------------------------------------------------------------------------------


def test_a_session_is_stored_by_digest_with_its_browser_family(alice):
    session_id = sessions.start(alice.account_id, user_agent=CHROME_MAC, client="10.0.0.7")
    stored = db.collection("sessions").find_one({})
    assert session_id not in repr(stored)
    [listed] = sessions.active(alice.account_id)
    assert (listed.browser, listed.os, listed.client) == ("Chrome", "Mac OS X", "10.0.0.7")
    assert sessions.find_valid(session_id)["account_id"] == alice.account_id


def test_idle_and_absolute_lifetimes_end_a_session(ctx, alice):
    session_id = sessions.start(alice.account_id)
    now = datetime.now(UTC)
    # Used every 7 hours: the idle timeout (8 h) never strikes, the 12 h lifetime does.
    assert sessions.find_valid(session_id, now + timedelta(hours=7))
    assert sessions.find_valid(session_id, now + timedelta(hours=11, minutes=59))
    assert sessions.find_valid(session_id, now + timedelta(hours=12)) is None
    # And it stays ended.
    assert sessions.find_valid(session_id, now) is None
    idle = sessions.start(alice.account_id)
    assert sessions.find_valid(idle, datetime.now(UTC) + timedelta(hours=8, seconds=1)) is None


def test_lifetimes_are_settings(app_config):
    from intact import create_app

    app = create_app({**app_config, "ADMIN_SESSION_HOURS": "1", "ADMIN_SESSION_MAX_HOURS": "2"})
    with app.app_context():
        account = users.create_account("alice@example.org", "analyst")
        session_id = sessions.start(account.account_id)
        now = datetime.now(UTC)
        assert sessions.find_valid(session_id, now + timedelta(minutes=59))
        assert sessions.find_valid(session_id, now + timedelta(minutes=118))
        assert sessions.find_valid(session_id, now + timedelta(minutes=120)) is None


def test_ending_all_sessions_keeps_the_one_asked_for(alice):
    keep = sessions.start(alice.account_id)
    others = [sessions.start(alice.account_id) for _ in range(3)]
    assert sessions.end_all(alice.account_id, keep=keep) == 3
    assert sessions.find_valid(keep)
    assert all(sessions.find_valid(other) is None for other in others)


def test_a_builtin_session_ends_when_the_admin_password_changes(ctx):
    session_id = sessions.start(None)
    assert sessions.find_valid(session_id)
    ctx.config["ADMIN_PASSWORD"] = "a-new-password-after-someone-left"
    assert sessions.find_valid(session_id) is None


def test_a_builtin_session_ends_when_the_shared_password_is_switched_off(ctx):
    session_id = sessions.start(None)
    ctx.config["ADMIN_PASSWORD_ENABLED"] = False
    assert sessions.find_valid(session_id) is None


def test_expired_sessions_are_forgotten_at_the_next_login(alice):
    sessions.start(alice.account_id)
    db.collection("sessions").update_many(
        {}, {"$set": {"created_at": datetime.now(UTC) - timedelta(days=2)}}
    )
    sessions.start(alice.account_id)
    assert db.collection("sessions").count_documents({}) == 1


@pytest.mark.parametrize(
    ("user_agent", "browser", "system"),
    [
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Mobile Safari",
            "iOS",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Firefox",
            "Windows",
        ),
        ("", "Unknown", "Unknown"),
        ("curl/8.5.0", "curl", "Unknown"),
    ],
)
def test_browser_family_comes_from_ua_parser(user_agent, browser, system):
    assert sessions.browser_and_os(user_agent) == (browser, system)


# --- tokens ------------------------------------------------------------------------------------


def test_a_token_is_shown_once_and_stored_as_a_digest(alice):
    secret, token = tokens.create(alice.account_id, "nightly R script", "read")
    assert secret.startswith("intact_") and len(secret) > 40
    stored = db.collection("api_tokens").find_one({})
    assert secret not in repr(stored)
    assert token.expires_at - token.created_at == timedelta(days=90)
    found, owner = tokens.verify(secret)
    assert (found.token_id, owner.email) == (token.token_id, "alice@example.org")
    assert tokens.list_for(alice.account_id)[0].last_used_at is not None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("revoke", "revoked"),
        ("expire", "expired"),
        ("deactivate", "owner deactivated"),
        ("garble", "bad"),
    ],
)
def test_a_refused_token_names_why(alice, change, reason):
    secret, token = tokens.create(alice.account_id, "script", "write", days=1)
    if change == "revoke":
        assert tokens.revoke(token.token_id, alice.account_id)
    elif change == "expire":
        db.collection("api_tokens").update_one(
            {}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}}
        )
    elif change == "deactivate":
        users.deactivate(alice.account_id)
    else:
        secret = secret[:-2] + "xx"
    with pytest.raises(tokens.TokenRefused) as refused:
        tokens.verify(secret)
    assert refused.value.reason == reason
    assert reason.split()[-1] in refused.value.message.lower()


@pytest.mark.parametrize(
    ("name", "scope", "days"),
    [("", "read", 90), ("x" * 101, "read", 90), ("n", "admin", 90), ("n", "read", 0)],
)
def test_token_settings_are_checked(alice, name, scope, days):
    with pytest.raises(tokens.InvalidToken):
        tokens.create(alice.account_id, name, scope, days)


def test_only_the_owner_revokes_their_own_token_by_account(alice):
    bob = users.create_account("bob@example.org", "researcher")
    _, token = tokens.create(alice.account_id, "script", "read")
    assert not tokens.revoke(token.token_id, bob.account_id)
    assert tokens.revoke(token.token_id, alice.account_id)
    assert not tokens.revoke(token.token_id, alice.account_id)


# --- two-factor --------------------------------------------------------------------------------


def _enrol(account_id, now):
    enrolment = twofactor.begin(account_id)
    codes = twofactor.confirm(account_id, pyotp.TOTP(enrolment.secret).at(now), now)
    return enrolment, codes


def test_setup_shows_a_qr_code_drawn_here_and_needs_a_code_to_finish(alice):
    enrolment = twofactor.begin(alice.account_id)
    assert enrolment.qr_svg.startswith("<svg") and "http" not in enrolment.qr_svg.split(">")[0]
    assert enrolment.uri.startswith("otpauth://totp/INTACT:alice%40example.org?secret=")
    assert not twofactor.enabled(alice.account_id)
    with pytest.raises(twofactor.CodeRefused):
        twofactor.confirm(alice.account_id, "000000")
    assert not twofactor.enabled(alice.account_id)


def test_a_totp_code_works_once_within_one_step_of_drift(alice):
    now = datetime.now(UTC)
    enrolment, _ = _enrol(alice.account_id, now - timedelta(minutes=5))
    totp = pyotp.TOTP(enrolment.secret)
    assert twofactor.verify(alice.account_id, totp.at(now - timedelta(seconds=30)), now) == "totp"
    with pytest.raises(twofactor.CodeRefused):  # replayed
        twofactor.verify(alice.account_id, totp.at(now - timedelta(seconds=30)), now)
    assert twofactor.verify(alice.account_id, totp.at(now), now) == "totp"
    with pytest.raises(twofactor.CodeRefused):  # too far ahead
        twofactor.verify(alice.account_id, totp.at(now + timedelta(minutes=2)), now)


def test_recovery_codes_are_stored_hashed_and_each_works_once(alice):
    _, codes = _enrol(alice.account_id, datetime.now(UTC))
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = repr(db.collection("accounts").find_one({}))
    assert not any(code.replace("-", "") in stored or code in stored for code in codes)
    assert twofactor.verify(alice.account_id, codes[3].upper()) == "recovery code"
    with pytest.raises(twofactor.CodeRefused):
        twofactor.verify(alice.account_id, codes[3])
    assert twofactor.recovery_codes_left(alice.account_id) == 9
    fresh = twofactor.new_recovery_codes(alice.account_id)
    with pytest.raises(twofactor.CodeRefused):
        twofactor.verify(alice.account_id, codes[4])
    assert twofactor.verify(alice.account_id, fresh[0]) == "recovery code"


def test_disable_switches_two_factor_off(alice):
    _enrol(alice.account_id, datetime.now(UTC))
    assert users.get(alice.account_id).two_factor
    twofactor.disable(alice.account_id)
    assert not twofactor.enabled(alice.account_id)
