"""My account, for everyone logged in: password, two-factor login, reminder e-mails, sessions,
API tokens.

A secret made here (an API token, recovery codes) is shown once, in the answer to the form that
made it, and never stored in a form the server can show again.
"""

from flask import abort, current_app, flash, render_template, request, url_for

from intact import audit
from intact.accounts import passwords, principal, sessions, tokens, twofactor, users
from intact.accounts.permissions import ADMIN, TOKEN_SCOPES, Permission, requires
from intact.admin import bp, pages
from intact.participants import schedule
from intact.reminders import digest_mail, mail


def _me() -> principal.Principal:
    return principal.current()


def _my_account() -> users.Account:
    """The named account of the person asking; the built-in admin has none (404)."""
    who = _me()
    if who.builtin:
        abort(404, description="The shared admin password has no account settings.")
    return users.get(who.account_id)


def _two_factor_mandatory(account: users.Account) -> bool:
    return account.role == ADMIN and current_app.config["ADMIN_TWO_FACTOR_REQUIRED"]


def account_page(status: int = 200, **shown):
    """My account, with anything just made (a token, codes) or a form's error in `shown`."""
    who = _me()
    account = None if who.builtin else users.get(who.account_id)
    context = {
        "account": account,
        "sessions": sessions.active(who.account_id),
        "this_session": sessions.ref_of(who.session_id) if who.session_id else None,
        "tokens": tokens.list_for(account.account_id) if account else [],
        "scopes": TOKEN_SCOPES,
        "default_days": tokens.DEFAULT_DAYS,
        "max_days": tokens.MAX_DAYS,
        "recovery_left": (
            twofactor.recovery_codes_left(account.account_id)
            if account and account.two_factor
            else 0
        ),
        "two_factor_mandatory": bool(account) and _two_factor_mandatory(account),
        **(_reminders_context() if account else {}),
        "errors": {},
        **shown,
    }
    return render_template("admin/account.html", **context), status


def _reminders_context() -> dict:
    """Today's digest as the reminder e-mail shows it, and whether this server can send mail."""
    digest = schedule.due_digest()
    try:
        mail.SmtpSettings.from_config(current_app.config)
        mail_problem = None
    except mail.MailNotConfigured as missing:
        mail_problem = str(missing)
    return {
        "digest": digest,
        "sections": digest_mail.sections(digest),
        "entry_label": digest_mail.entry_label,
        "mail_problem": mail_problem,
    }


@bp.get("/account")
@requires(Permission.OWN_ACCOUNT)
def my_account():
    """Your password, two-factor login, where you are logged in, and your API tokens."""
    return account_page()


@bp.post("/account/password")
@requires(Permission.OWN_ACCOUNT)
def change_password():
    """Change your password (the current one first); your other sessions end."""
    account = _my_account()
    if users.authenticate(account.email, request.form.get("current_password", "")) is None:
        return account_page(422, errors={"password": "Your current password is not right."})
    new = request.form.get("new_password", "")
    if new != request.form.get("new_password_again", ""):
        return account_page(422, errors={"password": "The two new passwords are not the same."})
    try:
        users.set_password(account.account_id, new)
    except passwords.WeakPassword as weak:
        return account_page(422, errors={"password": str(weak)})
    ended = sessions.end_all(account.account_id, keep=_me().session_id)
    audit.record(audit.PASSWORD_SET, via="my account", sessions_ended=ended)
    flash(f"Your password is changed. {ended} other session(s) ended.", "success")
    return pages.redirect_to(url_for(".my_account"))


@bp.route("/account/two-factor", methods=["GET", "POST"])
@requires(Permission.OWN_ACCOUNT)
def two_factor_setup():
    """Set up two-factor login: scan the QR code, type a code, keep the recovery codes."""
    account = _my_account()
    mandatory = _two_factor_mandatory(account)
    if request.method == "GET":
        if account.two_factor:
            return pages.redirect_to(url_for(".my_account"))
        enrolment = twofactor.begin(account.account_id)
        return render_template(
            "admin/two_factor_setup.html", enrolment=enrolment, error=None, mandatory=mandatory
        )
    try:
        codes = twofactor.confirm(account.account_id, request.form.get("code"))
    except twofactor.CodeRefused as refused:
        enrolment = twofactor.begin(account.account_id)
        page = render_template(
            "admin/two_factor_setup.html",
            enrolment=enrolment,
            error=str(refused),
            mandatory=mandatory,
        )
        return page, 422
    audit.record(audit.TWO_FACTOR_ENABLED)
    return render_template("admin/recovery_codes.html", codes=codes, first_time=True)


@bp.post("/account/two-factor/recovery-codes")
@requires(Permission.OWN_ACCOUNT)
def new_recovery_codes():
    """Replace your recovery codes with ten new ones (shown once)."""
    account = _my_account()
    try:
        codes = twofactor.new_recovery_codes(account.account_id)
    except twofactor.CodeRefused as refused:
        abort(409, description=str(refused))
    return render_template("admin/recovery_codes.html", codes=codes, first_time=False)


@bp.post("/account/two-factor/off")
@requires(Permission.OWN_ACCOUNT)
def two_factor_off():
    """Switch two-factor login off (with your password), unless admins must use it."""
    account = _my_account()
    if _two_factor_mandatory(account):
        return account_page(422, errors={"two_factor": "Admins must use two-factor login here."})
    if users.authenticate(account.email, request.form.get("current_password", "")) is None:
        return account_page(422, errors={"two_factor": "Your password is not right."})
    twofactor.disable(account.account_id)
    audit.record(audit.TWO_FACTOR_DISABLED)
    flash("Two-factor login is off.", "success")
    return pages.redirect_to(url_for(".my_account"))


@bp.post("/account/reminders")
@requires(Permission.OWN_ACCOUNT)
def set_reminders():
    """Switch your daily e-mail of due and overdue follow-ups on or off."""
    account = _my_account()
    wanted = request.form.get("reminders") == "on"
    users.set_reminders(account.account_id, wanted)
    audit.record(audit.REMINDERS_CHANGED, reminders="on" if wanted else "off")
    if wanted:
        flash(f"Reminder e-mails are on: the digest goes to {account.email} once a day.", "success")
    else:
        flash("Reminder e-mails are off.", "success")
    return pages.redirect_to(url_for(".my_account") + "#reminders-title")


@bp.post("/account/sessions/<session_ref>/end")
@requires(Permission.OWN_ACCOUNT)
def end_session(session_ref):
    """Log out one of your sessions (another browser or device)."""
    if not sessions.end_by_ref(_me().account_id, session_ref):
        abort(404, description="That session has ended already.")
    audit.record(audit.SESSIONS_ENDED, count=1)
    flash("That session is logged out.", "success")
    return pages.redirect_to(url_for(".my_account"))


@bp.post("/account/sessions/end-all")
@requires(Permission.OWN_ACCOUNT)
def end_all_sessions():
    """Log out everywhere: every session of yours ends, this one too."""
    ended = sessions.end_all(_me().account_id)
    audit.record(audit.SESSIONS_ENDED, count=ended)
    flash(f"You are logged out everywhere ({ended} session(s) ended).", "success")
    return pages.redirect_to(url_for(".login"))


@bp.post("/account/tokens")
@requires(Permission.OWN_ACCOUNT)
def create_token():
    """Make an API token for your scripts; it is shown on the next page only."""
    account = _my_account()
    try:
        days = int(request.form.get("days") or tokens.DEFAULT_DAYS)
    except ValueError:
        days = -1
    try:
        secret, token = tokens.create(
            account.account_id, request.form.get("name", ""), request.form.get("scope", ""), days
        )
    except tokens.InvalidToken as error:
        return account_page(422, errors={"token": str(error)}, token_form=request.form)
    audit.record(audit.TOKEN_CREATED, token_name=token.name, scope=token.scope)
    return account_page(201, new_token=secret, new_token_record=token)


@bp.post("/account/tokens/<token_id>/revoke")
@requires(Permission.OWN_ACCOUNT)
def revoke_token(token_id):
    """Revoke one of your tokens: scripts using it get 401 from now on."""
    if not tokens.revoke(token_id, _my_account().account_id, revoked_by=_me().name):
        abort(404, description="You have no active token with this id.")
    audit.record(audit.TOKEN_REVOKED, token_id=token_id)
    flash("The token is revoked.", "success")
    return pages.redirect_to(url_for(".my_account"))
