"""Accounts, for admins: invite people, change roles, deactivate, reset links, others' tokens."""

from flask import abort, flash, render_template, request, url_for

from intact import audit
from intact.accounts import links, principal, sessions, tokens, twofactor, users
from intact.accounts.permissions import ROLE_DESCRIPTIONS, ROLES, Permission, requires
from intact.admin import bp, pages


def _link_url(link: links.Link) -> str:
    return url_for("dashboard.set_password", key=link.key, _external=True)


def _accounts_page(status: int = 200, **shown):
    context = {
        "accounts": users.list_accounts(),
        "roles": ROLES,
        "role_descriptions": ROLE_DESCRIPTIONS,
        "errors": {},
        "values": {},
        **shown,
    }
    return render_template("admin/accounts.html", **context), status


@bp.get("/accounts")
@requires(Permission.MANAGE_ACCOUNTS)
def accounts():
    """Everyone who may log in, and a form to invite someone."""
    return _accounts_page()


@bp.post("/accounts")
@requires(Permission.MANAGE_ACCOUNTS)
def invite_account():
    """Create an account and show its one-time link (72 h) to hand over."""
    email, role = request.form.get("email", ""), request.form.get("role", "")
    try:
        account = users.create_account(email, role, created_by=principal.current().name)
    except users.AccountError as error:
        return _accounts_page(422, errors={"invite": str(error)}, values=request.form)
    link = links.create(account.account_id, links.INVITE, created_by=principal.current().name)
    audit.record(audit.ACCOUNT_CREATED, account=account.email, role=account.role)
    audit.record(audit.PASSWORD_LINK_CREATED, account=account.email, purpose=links.INVITE)
    return _accounts_page(201, new_link=_link_url(link), new_link_account=account, link=link)


def _account_or_404(account_id: str) -> users.Account:
    try:
        return users.get(account_id)
    except users.AccountNotFound:
        abort(404, description="There is no account with this id.")


def _detail_page(account: users.Account, status: int = 200, **shown):
    context = {
        "account": account,
        "roles": ROLES,
        "tokens": tokens.list_for(account.account_id),
        "sessions": sessions.active(account.account_id),
        "error": None,
        **shown,
    }
    return render_template("admin/account_detail.html", **context), status


@bp.get("/accounts/<account_id>")
@requires(Permission.MANAGE_ACCOUNTS)
def account_detail(account_id):
    """One account: role, access, password link, two-factor, sessions and tokens."""
    return _detail_page(_account_or_404(account_id))


def _back(account: users.Account, message: str):
    flash(message, "success")
    return pages.redirect_to(url_for(".account_detail", account_id=account.account_id))


@bp.post("/accounts/<account_id>/role")
@requires(Permission.MANAGE_ACCOUNTS)
def change_account_role(account_id):
    """Give the account another role (it applies at their next request)."""
    account = _account_or_404(account_id)
    role = request.form.get("role", "")
    try:
        users.set_role(account.account_id, role)
    except users.AccountError as error:
        return _detail_page(account, 422, error=str(error))
    audit.record(audit.ACCOUNT_ROLE_CHANGED, account=account.email, role=role)
    return _back(account, f"{account.email} is now {role}.")


@bp.post("/accounts/<account_id>/deactivate")
@requires(Permission.MANAGE_ACCOUNTS)
def deactivate_account(account_id):
    """Take the account's access away now: its sessions end and its tokens stop working."""
    account = _account_or_404(account_id)
    try:
        users.deactivate(account.account_id)
    except users.AccountError as error:
        return _detail_page(account, 422, error=str(error))
    ended = sessions.end_all(account.account_id)
    audit.record(audit.ACCOUNT_DEACTIVATED, account=account.email, sessions_ended=ended)
    return _back(account, f"{account.email} is deactivated; {ended} session(s) ended.")


@bp.post("/accounts/<account_id>/reactivate")
@requires(Permission.MANAGE_ACCOUNTS)
def reactivate_account(account_id):
    """Give a deactivated account its access back."""
    account = _account_or_404(account_id)
    users.reactivate(account.account_id)
    audit.record(audit.ACCOUNT_REACTIVATED, account=account.email)
    return _back(account, f"{account.email} can log in again.")


@bp.post("/accounts/<account_id>/reset-link")
@requires(Permission.MANAGE_ACCOUNTS)
def account_reset_link(account_id):
    """A one-time link for the person to choose a new password (earlier links stop working)."""
    account = _account_or_404(account_id)
    purpose = links.RESET if account.has_password else links.INVITE
    link = links.create(account.account_id, purpose, created_by=principal.current().name)
    audit.record(audit.PASSWORD_LINK_CREATED, account=account.email, purpose=purpose)
    return _detail_page(account, 201, new_link=_link_url(link), link=link)


@bp.post("/accounts/<account_id>/two-factor/off")
@requires(Permission.MANAGE_ACCOUNTS)
def account_two_factor_off(account_id):
    """Switch the account's two-factor login off (a lost phone and lost recovery codes)."""
    account = _account_or_404(account_id)
    twofactor.disable(account.account_id)
    audit.record(audit.TWO_FACTOR_DISABLED, account=account.email)
    return _back(account, f"Two-factor login is off for {account.email}.")


@bp.post("/accounts/<account_id>/sessions/end")
@requires(Permission.MANAGE_ACCOUNTS)
def end_account_sessions(account_id):
    """Log the account out everywhere."""
    account = _account_or_404(account_id)
    ended = sessions.end_all(account.account_id)
    audit.record(audit.SESSIONS_ENDED, count=ended, account=account.email)
    return _back(account, f"{ended} session(s) of {account.email} ended.")


@bp.post("/accounts/<account_id>/tokens/<token_id>/revoke")
@requires(Permission.MANAGE_ACCOUNTS)
def revoke_account_token(account_id, token_id):
    """Revoke one of the account's API tokens."""
    account = _account_or_404(account_id)
    if not tokens.revoke(token_id, account.account_id, revoked_by=principal.current().name):
        abort(404, description="This account has no active token with this id.")
    audit.record(audit.TOKEN_REVOKED, account=account.email, token_id=token_id)
    return _back(account, "The token is revoked.")
