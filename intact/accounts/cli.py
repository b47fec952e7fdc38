"""`flask users …` and `flask tokens …`: accounts and API tokens from the server's command line.

Whoever can run these on the server owns the data anyway, so they need no login; each change goes
to the audit log as done from the command line.
"""

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from intact import audit, config
from intact.accounts import links, passwords, sessions, tokens, twofactor, users
from intact.accounts.permissions import ROLES, TOKEN_SCOPES

users_cli = AppGroup("users", help="Named accounts: create, list, deactivate, reset.")
tokens_cli = AppGroup("tokens", help="API tokens for scripts: create, list, revoke.")


def init_app(app) -> None:
    """Register the command groups."""
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)


def _account(email: str) -> users.Account:
    try:
        return users.find_by_email(email)
    except users.AccountNotFound:
        raise click.ClickException(f"No account has the e-mail address {email!r}.") from None


def _link_url(link: links.Link, base_url: str | None) -> str:
    base = (base_url or config.public_url(current_app.config)).rstrip("/")
    return f"{base}/admin/password/{link.key}"


def _print_link(link: links.Link, base_url: str | None) -> None:
    until = f"{link.expires_at:%Y-%m-%d %H:%M} UTC"
    click.echo(f"One-time link to set the password (works once, until {until}):")
    click.echo(_link_url(link, base_url))


BASE_URL_HELP = (
    "The server's address as people open it (default: PUBLIC_URL, else http://HOST:PORT)."
)


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the account may do.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of printing a one-time link.",
)
@click.option("--base-url", help=BASE_URL_HELP)
def create_user(email, role, password_stdin, base_url):
    """Create an account for EMAIL; print a one-time link to set its password.

    With --password-stdin the password is read from the first line of standard input (so it stays
    out of the shell history) and no link is made.
    """
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        account = users.create_account(
            email, role, password=password, created_by=audit.COMMAND_LINE
        )
    except (users.AccountError, passwords.WeakPassword) as error:
        raise click.ClickException(str(error)) from None
    audit.record(audit.ACCOUNT_CREATED, account=account.email, role=role)
    click.echo(f"Created {account.email} ({role}).")
    if password is None:
        link = links.create(account.account_id, links.INVITE, created_by=audit.COMMAND_LINE)
        audit.record(audit.PASSWORD_LINK_CREATED, account=account.email, purpose=links.INVITE)
        _print_link(link, base_url)


@users_cli.command("list")
def list_users():
    """List every account: e-mail, role, active, two-factor, created."""
    accounts = users.list_accounts()
    if not accounts:
        click.echo("No named accounts yet. Create one with: flask users create EMAIL --role admin")
        return
    width = max(len(account.email) for account in accounts)
    for account in accounts:
        state = "active" if account.active else "deactivated"
        if account.active and not account.has_password:
            state = "invited"
        two_factor = "2FA" if account.two_factor else "-"
        click.echo(
            f"{account.email:<{width}}  {account.role:<10}  {state:<11}  {two_factor:<3}  "
            f"created {account.created_at:%Y-%m-%d}"
        )


@users_cli.command("deactivate")
@click.argument("email")
def deactivate_user(email):
    """Take EMAIL's access away at once: sessions end, tokens stop working."""
    account = _account(email)
    try:
        users.deactivate(account.account_id)
    except users.AccountError as error:
        raise click.ClickException(str(error)) from None
    ended = sessions.end_all(account.account_id)
    audit.record(audit.ACCOUNT_DEACTIVATED, account=account.email, sessions_ended=ended)
    click.echo(f"Deactivated {account.email}; {ended} session(s) ended.")


@users_cli.command("reactivate")
@click.argument("email")
def reactivate_user(email):
    """Give a deactivated account its access back."""
    account = _account(email)
    users.reactivate(account.account_id)
    audit.record(audit.ACCOUNT_REACTIVATED, account=account.email)
    click.echo(f"Reactivated {account.email}.")


@users_cli.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
def set_role(email, role):
    """Change EMAIL's role (effective at their next request)."""
    account = _account(email)
    try:
        users.set_role(account.account_id, role)
    except users.AccountError as error:
        raise click.ClickException(str(error)) from None
    audit.record(audit.ACCOUNT_ROLE_CHANGED, account=account.email, role=role)
    click.echo(f"{account.email} is now {role}.")


@users_cli.command("reset-link")
@click.argument("email")
@click.option("--base-url", help=BASE_URL_HELP)
def reset_link(email, base_url):
    """Print a one-time link for EMAIL to choose a new password (earlier links stop working)."""
    account = _account(email)
    link = links.create(account.account_id, links.RESET, created_by=audit.COMMAND_LINE)
    audit.record(audit.PASSWORD_LINK_CREATED, account=account.email, purpose=links.RESET)
    _print_link(link, base_url)


@users_cli.command("disable-2fa")
@click.argument("email")
def disable_two_factor(email):
    """Switch EMAIL's two-factor login off (a lost phone and lost recovery codes)."""
    account = _account(email)
    twofactor.disable(account.account_id)
    audit.record(audit.TWO_FACTOR_DISABLED, account=account.email)
    click.echo(f"Two-factor login is off for {account.email}; they can set it up again.")


@tokens_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="What the token is for, e.g. 'nightly R script'.")
@click.option("--scope", type=click.Choice(TOKEN_SCOPES), default="read", show_default=True)
@click.option("--days", type=int, default=tokens.DEFAULT_DAYS, show_default=True)
def create_token(email, name, scope, days):
    """Create an API token for EMAIL and print it (this once: only its digest is kept)."""
    account = _account(email)
    try:
        secret, token = tokens.create(account.account_id, name, scope, days)
    except tokens.InvalidToken as error:
        raise click.ClickException(str(error)) from None
    audit.record(
        audit.TOKEN_CREATED, account=account.email, token_name=token.name, scope=token.scope
    )
    click.echo(secret)
    click.echo(
        f"Token {token.name!r} ({token.scope}) for {account.email}, id {token.token_id}, expires "
        f"{token.expires_at:%Y-%m-%d}. Copy it now: it is not shown again.",
        err=True,
    )


@tokens_cli.command("list")
@click.argument("email")
def list_tokens(email):
    """List EMAIL's tokens: id, name, scope, expiry, last use, state."""
    account = _account(email)
    for token in tokens.list_for(account.account_id):
        state = "revoked" if token.revoked_at else "expired" if token.expired else "active"
        used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
        click.echo(
            f"{token.token_id}  {token.scope:<5}  {state:<7}  expires {token.expires_at:%Y-%m-%d}"
            f"  last used {used}  {token.name}"
        )


@tokens_cli.command("revoke")
@click.argument("token_id")
def revoke_token(token_id):
    """Revoke the token with TOKEN_ID (as `flask tokens list` shows it)."""
    if not tokens.revoke(token_id, revoked_by=audit.COMMAND_LINE):
        raise click.ClickException(f"No active token has the id {token_id!r}.")
    audit.record(audit.TOKEN_REVOKED, token_id=token_id)
    click.echo(f"Revoked token {token_id}.")
