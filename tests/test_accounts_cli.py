"""flask users … and flask tokens …: accounts and tokens from the server's command line."""

import re

from intact import audit, db
from intact.accounts import links, tokens, users

STRONG = "violet-lantern-orbit-73"


def test_create_prints_a_one_time_link_that_sets_the_password(app, runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "Alice@Example.org",
            "--role",
            "admin",
            "--base-url",
            "https://intact.example.org/",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Created alice@example.org (admin)." in result.output
    [key] = re.findall(r"https://intact\.example\.org/admin/password/(\S+)", result.output)
    with app.app_context():
        links.use(key, STRONG)
        assert users.authenticate("alice@example.org", STRONG).role == "admin"


def test_links_start_with_public_url_unless_a_base_url_is_given(app_config):
    from intact import create_app

    app_config["PUBLIC_URL"] = "https://dashboard.example.org/intact/"
    runner = create_app(app_config).test_cli_runner()
    made = runner.invoke(args=["users", "create", "carol@example.org", "--role", "analyst"])
    assert "https://dashboard.example.org/intact/admin/password/" in made.output
    again = runner.invoke(
        args=["users", "reset-link", "carol@example.org", "--base-url", "http://10.0.0.5:8000"]
    )
    assert "http://10.0.0.5:8000/admin/password/" in again.output


def test_create_with_password_stdin_makes_no_link(app, runner):
    result = runner.invoke(
        args=["users", "create", "bob@example.org", "--role", "analyst", "--password-stdin"],
        input=STRONG + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "/admin/password/" not in result.output
    with app.app_context():
        assert users.authenticate("bob@example.org", STRONG).role == "analyst"
        assert db.collection("account_links").count_documents({}) == 0


def test_a_weak_password_or_bad_role_is_refused_with_the_reason(runner):
    weak = runner.invoke(
        args=["users", "create", "bob@example.org", "--role", "admin", "--password-stdin"],
        input="password1234\n",
    )
    assert weak.exit_code == 1 and "common password" in weak.output
    role = runner.invoke(args=["users", "create", "bob@example.org", "--role", "owner"])
    assert role.exit_code == 2 and "owner" in role.output


def test_list_deactivate_and_the_audit_log(app, runner):
    runner.invoke(args=["users", "create", "boss@example.org", "--role", "admin"])
    runner.invoke(args=["users", "create", "alice@example.org", "--role", "researcher"])
    listing = runner.invoke(args=["users", "list"]).output
    assert re.search(r"alice@example.org\s+researcher\s+invited", listing)
    result = runner.invoke(args=["users", "deactivate", "ALICE@example.org"])
    assert result.exit_code == 0, result.output
    assert re.search(
        r"alice@example.org\s+researcher\s+deactivated",
        runner.invoke(args=["users", "list"]).output,
    )
    assert runner.invoke(args=["users", "deactivate", "nobody@example.org"]).exit_code == 1
    with app.app_context():
        entries = audit.find_entries().items
    actions = [(entry["action"], entry["who"]) for entry in entries]
    assert (audit.ACCOUNT_DEACTIVATED, audit.COMMAND_LINE) in actions
    assert (audit.ACCOUNT_CREATED, audit.COMMAND_LINE) in actions


def test_the_last_admin_stays(runner):
    runner.invoke(args=["users", "create", "boss@example.org", "--role", "admin"])
    result = runner.invoke(args=["users", "deactivate", "boss@example.org"])
    assert result.exit_code == 1 and "only active admin" in result.output


def test_tokens_create_prints_the_token_once_and_list_revoke_work(app, runner):
    runner.invoke(args=["users", "create", "alice@example.org", "--role", "researcher"])
    result = runner.invoke(
        args=[
            "tokens",
            "create",
            "alice@example.org",
            "--name",
            "nightly",
            "--scope",
            "write",
            "--days",
            "30",
        ]
    )
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("intact_")
    assert "not shown again" in result.stderr
    with app.app_context():
        token, owner = tokens.verify(secret)
    assert (token.scope, owner.email) == ("write", "alice@example.org")
    listing = runner.invoke(args=["tokens", "list", "alice@example.org"]).output
    assert token.token_id in listing and "active" in listing and secret not in listing
    assert runner.invoke(args=["tokens", "revoke", token.token_id]).exit_code == 0
    assert "revoked" in runner.invoke(args=["tokens", "list", "alice@example.org"]).output
    assert runner.invoke(args=["tokens", "revoke", token.token_id]).exit_code == 1


def test_tokens_create_checks_days(runner):
    runner.invoke(args=["users", "create", "alice@example.org", "--role", "researcher"])
    result = runner.invoke(
        args=["tokens", "create", "alice@example.org", "--name", "x", "--days", "0"]
    )
    assert result.exit_code == 1 and "1 to 366 days" in result.output
