"""Accounts: e-mail usernames, roles, argon2id passwords with a strength rule, one-time links."""

from datetime import UTC, datetime, timedelta

import pytest

from intact import db
from intact.accounts import links, passwords, users

STRONG = "violet-lantern-orbit-73"


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("alice@example.org", "alice@example.org"),
        ("  Alice@Example.ORG ", "alice@example.org"),
        ("jose\u0301@example.org", "jos\u00e9@example.org"),  # NFD typed on a Mac
    ],
)
def test_email_addresses_are_normalised_once(typed, stored):
    assert users.normalise_email(typed) == stored


@pytest.mark.parametrize("typed", ["", "alice", "alice@", "@example.org", "a b@example.org", None])
def test_what_is_not_an_email_address_is_refused(typed):
    with pytest.raises(users.InvalidEmail):
        users.normalise_email(typed)


def test_an_account_is_stored_with_an_argon2id_hash_never_the_password(ctx):
    account = users.create_account("alice@example.org", "researcher", password=STRONG)
    stored = db.collection("accounts").find_one({"email": "alice@example.org"})
    assert stored["password_hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert STRONG not in repr(stored)
    assert account.role == "researcher" and account.active and account.has_password


def test_one_account_per_address_whatever_the_capitals(ctx):
    users.create_account("alice@example.org", "analyst")
    with pytest.raises(users.AccountExists):
        users.create_account("ALICE@example.org", "admin")


def test_unknown_role_is_refused(ctx):
    with pytest.raises(users.AccountError, match="admin, researcher, analyst"):
        users.create_account("bob@example.org", "owner")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1!", "at least 12 characters"),
        ("password1234", "common password"),
        ("aaaaaaaaaaaaaaaa", "Repeats"),
        ("alice@example.org1", ""),  # the person's own address
        ("intactintact2024", ""),  # this service's name
    ],
)
def test_weak_passwords_are_refused_with_a_reason(ctx, password, reason):
    with pytest.raises(passwords.WeakPassword) as refused:
        users.create_account("alice@example.org", "admin", password=password)
    assert reason in str(refused.value)
    assert str(refused.value).strip()


def test_a_strong_passphrase_of_common_words_is_accepted():
    passwords.check_strength("correct horse battery staple river", ("alice@example.org",))


def test_authenticate_checks_the_password_and_the_account_being_active(ctx):
    account = users.create_account("alice@example.org", "admin", password=STRONG)
    users.create_account("bob@example.org", "admin", password=STRONG)
    assert users.authenticate(" Alice@example.org", STRONG).account_id == account.account_id
    assert users.authenticate("alice@example.org", STRONG + "x") is None
    assert users.authenticate("nobody@example.org", STRONG) is None
    users.deactivate(account.account_id)
    assert users.authenticate("alice@example.org", STRONG) is None


def test_an_unknown_address_costs_a_password_check_too(ctx, monkeypatch):
    checked = []
    real = passwords.verify
    monkeypatch.setattr(passwords, "verify", lambda h, p: checked.append(h) or real(h, p))
    users.authenticate("nobody@example.org", STRONG)
    assert checked == [None]


def test_checking_against_no_hash_does_the_work_of_a_real_one():
    # verify(None, …) checks the dummy hash: as slow as a real account, and always False.
    assert (
        passwords.verify(None, "not a password anyone has: the cost of a login for nobody") is False
    )
    assert passwords.verify(passwords.hash_password(STRONG), STRONG) is True


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(ctx):
    admin = users.create_account("alice@example.org", "admin")
    with pytest.raises(users.LastAdmin):
        users.set_role(admin.account_id, "researcher")
    with pytest.raises(users.LastAdmin):
        users.deactivate(admin.account_id)
    users.create_account("bob@example.org", "admin")
    assert users.set_role(admin.account_id, "analyst").role == "analyst"


def test_invite_link_sets_the_password_once(ctx):
    account = users.create_account("alice@example.org", "researcher")
    assert not account.has_password
    link = links.create(account.account_id, links.INVITE)
    stored = db.collection("account_links").find_one({})
    assert link.key not in repr(stored)
    assert stored["expires_at"] - stored["created_at"] == timedelta(hours=72)
    assert links.peek(link.key)[0].email == "alice@example.org"
    links.use(link.key, STRONG)
    assert users.authenticate("alice@example.org", STRONG) is not None
    with pytest.raises(links.LinkNotUsable) as refused:
        links.use(link.key, STRONG + "2")
    assert refused.value.reason == "used"


def test_a_weak_password_leaves_the_link_usable(ctx):
    account = users.create_account("alice@example.org", "researcher")
    link = links.create(account.account_id, links.INVITE)
    with pytest.raises(passwords.WeakPassword):
        links.use(link.key, "password1234")
    links.use(link.key, STRONG)


def test_links_expire_after_72_hours_and_a_new_one_cancels_the_old(ctx):
    account = users.create_account("alice@example.org", "researcher")
    first = links.create(account.account_id, links.INVITE)
    second = links.create(account.account_id, links.RESET)
    with pytest.raises(links.LinkNotUsable) as refused:
        links.peek(first.key)
    assert refused.value.reason == "cancelled"
    db.collection("account_links").update_one(
        {"used_at": None}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    with pytest.raises(links.LinkNotUsable) as refused:
        links.peek(second.key)
    assert refused.value.reason == "expired"
    for key in ("", "made-up", None):
        with pytest.raises(links.LinkNotUsable):
            links.peek(key)


def test_a_deactivated_account_cannot_use_its_link(ctx):
    users.create_account("boss@example.org", "admin")
    account = users.create_account("alice@example.org", "researcher")
    link = links.create(account.account_id, links.INVITE)
    users.deactivate(account.account_id)
    with pytest.raises(links.LinkNotUsable):
        links.use(link.key, STRONG)
