"""Logging in and out: password (and second factor), the one-time password links, logout.

Named accounts log in with their e-mail address and password, then a TOTP or recovery code if
they use two-factor login; leaving the address empty uses the shared ADMIN_PASSWORD (the built-in
admin) while it is switched on. Only wrong passwords and codes count towards the throttle.
"""

from datetime import UTC, datetime, timedelta

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask import session as cookie

from intact import audit, auth
from intact.accounts import guard, links, passwords, principal, sessions, throttle, twofactor, users
from intact.accounts.permissions import Permission, public, requires
from intact.admin import bp, creation, pages, session

# How long the second-factor step may wait after the password was right.
PENDING_LOGIN_MINUTES = 5
PENDING_LOGIN_KEY = "pending_login"


def _render_login(error: str | None, status: int, come_back: str | None, email: str = ""):
    page = render_template(
        "admin/login.html",
        error=error,
        next=come_back,
        email=email,
        shared_password=current_app.config["ADMIN_PASSWORD_ENABLED"],
    )
    return page, status


WRONG_LOGIN = "That e-mail address and password do not match an active account. Please try again."
WRONG_SHARED_PASSWORD = "That password is not right. Please try again."  # noqa: S105


@bp.route("/login", methods=["GET", "POST"])
@public
def login():  # noqa: PLR0911 - one answer per outcome of a login
    """The login form; the right password starts a session (or asks for the two-factor code)."""
    come_back = session.safe_next(request.values.get("next"), url_for(".overview"))
    if request.method == "GET":
        if principal.current() is not None:
            return redirect(come_back or url_for(".overview"))
        return _render_login(None, 200, come_back)
    typed_email = request.form.get("email", "").strip()
    if not auth.csrf_token_matches():
        # Not a guess: no counter moves (a hostile page cannot make anyone's login count).
        return _render_login(
            "The login form had expired. Please enter the password again.", 400, come_back
        )
    password = request.form.get("password", "")
    if not password:
        return _render_login("Enter your password.", 401, come_back, typed_email)
    try:
        if typed_email:
            return _log_in_account(typed_email, password, come_back)
        return _log_in_builtin(password, come_back)
    except throttle.TooManyFailures as error:
        response = make_response(_render_login(error.description, 429, come_back, typed_email))
        response.headers["Retry-After"] = str(error.retry_after_seconds)
        return response


def _refused_login(message: str, come_back: str | None, typed_email: str = ""):
    """The login form again, or the carried create-studies form, saying why it was refused."""
    if creation.carried(request.form):
        return creation.create_form({"password": message}, 401, request.form, relogin=True)
    return _render_login(message, 401, come_back, typed_email)


def _logged_in(come_back: str | None):
    """Where a login goes: the carried create-studies form filled in again, or the page asked."""
    if creation.carried(request.form):
        # The list comes back filled in and is created only when sent again.
        flash(
            "You are logged in again. Nothing was created yet: check the list and press "
            "Create studies.",
            "success",
        )
        return creation.create_form({}, 200, request.form)
    return redirect(come_back or url_for(".overview"), 303)


def _log_in_builtin(password: str, come_back: str | None):
    """The shared ADMIN_PASSWORD: the built-in admin."""
    if not current_app.config["ADMIN_PASSWORD_ENABLED"]:
        return _render_login(
            "Enter your e-mail address too: this server has no shared admin password.",
            401,
            come_back,
        )
    throttle.check()
    if not auth.password_matches(password):
        throttle.record_failure()
        audit.record(audit.LOGIN_FAILURE)
        return _refused_login(WRONG_SHARED_PASSWORD, come_back)
    session.log_in(None)
    audit.record(audit.LOGIN_SUCCESS)
    return _logged_in(come_back)


def _log_in_account(typed_email: str, password: str, come_back: str | None):
    """A named account: its password, then its second factor if it has one."""
    account_key = _account_key(typed_email)
    throttle.check(account_key)
    account = users.authenticate(typed_email, password)
    if account is None:
        throttle.record_failure(account_key)
        audit.record(audit.LOGIN_FAILURE, who=_tried_account(typed_email))
        return _refused_login(WRONG_LOGIN, come_back, typed_email)
    if account.two_factor:
        return _ask_for_code(account, come_back)
    return finish_login(account, come_back)


def _account_key(typed_email: str) -> str:
    """The per-account throttle key: the normalised address, or what was typed."""
    try:
        return users.normalise_email(typed_email)
    except users.InvalidEmail:
        return typed_email.lower()[:254]


def _tried_account(typed_email: str) -> dict:
    """Who a refused login names: a known account, never what else was typed (a password?)."""
    try:
        account = users.find_by_email(typed_email)
    except users.AccountNotFound:
        return {"who": audit.ANONYMOUS}
    return {"who": account.email, "account_id": account.account_id}


def finish_login(account: users.Account, come_back: str | None, how: str = "password"):
    """Start the account's session and go where it asked (or to two-factor setup, if due)."""
    session.log_in(account)
    audit.record(audit.LOGIN_SUCCESS, method=how)
    if guard.must_set_up_two_factor(principal.current()):
        return redirect(url_for(".two_factor_setup"), 303)
    return _logged_in(come_back)


@bp.post("/logout")
@requires(Permission.OWN_ACCOUNT)
def logout():
    """End the session and show the login page."""
    audit.record(audit.LOGOUT)
    session.log_out()
    flash("You have logged out.", "success")
    return pages.redirect_to(url_for(".login"))


def _ask_for_code(account: users.Account, come_back: str | None):
    """Remember (in the signed cookie) that the password was right, and ask for the code."""
    cookie.clear()
    cookie[PENDING_LOGIN_KEY] = {
        "account_id": account.account_id,
        "at": datetime.now(UTC).timestamp(),
        "next": come_back,
    }
    auth.csrf_token()
    return redirect(url_for(".login_code"), 303)


def _pending_account() -> tuple[users.Account, str | None] | None:
    """The account whose password was right a moment ago, and where to go after the code."""
    pending = cookie.get(PENDING_LOGIN_KEY)
    if not isinstance(pending, dict):
        return None
    started = datetime.fromtimestamp(pending.get("at", 0), UTC)
    if datetime.now(UTC) - started > timedelta(minutes=PENDING_LOGIN_MINUTES):
        return None
    try:
        account = users.get(pending.get("account_id"))
    except users.AccountNotFound:
        return None
    return (account, pending.get("next")) if account.active else None


@bp.route("/login/code", methods=["GET", "POST"])
@public
def login_code():
    """The second step of a two-factor login: a code from the app, or a recovery code."""
    pending = _pending_account()
    if pending is None:
        flash("Please log in again: the code was not entered within 5 minutes.", "info")
        return redirect(url_for(".login"), 303)
    account, come_back = pending
    if request.method == "GET":
        return render_template("admin/login_code.html", error=None)
    if not auth.csrf_token_matches():
        return render_template(
            "admin/login_code.html", error="The form had expired. Try again."
        ), 400
    try:
        throttle.check(account.email)
        how = twofactor.verify(account.account_id, request.form.get("code"))
    except throttle.TooManyFailures as error:
        response = make_response(
            render_template("admin/login_code.html", error=error.description), 429
        )
        response.headers["Retry-After"] = str(error.retry_after_seconds)
        return response
    except twofactor.CodeRefused as refused:
        throttle.record_failure(account.email)
        audit.record(
            audit.LOGIN_FAILURE,
            who={"who": account.email, "account_id": account.account_id},
            step="second factor",
        )
        return render_template("admin/login_code.html", error=str(refused)), 401
    return finish_login(account, come_back, how=how)


@bp.route("/password/<key>", methods=["GET", "POST"])
@public
def set_password(key):  # noqa: PLR0911 - one answer per outcome
    """A one-time link (invite or reset): the person chooses their own password here."""
    try:
        account, purpose = links.peek(key)
    except links.LinkNotUsable as refused:
        return render_template("admin/set_password.html", unusable=refused.reason), 404
    context = {"account": account, "purpose": purpose, "unusable": None, "error": None}
    if request.method == "GET":
        return render_template("admin/set_password.html", **context)
    if not auth.csrf_token_matches():
        context["error"] = "The form had expired. Please type the password again."
        return render_template("admin/set_password.html", **context), 400
    password = request.form.get("password", "")
    if password != request.form.get("password_again", ""):
        context["error"] = "The two passwords are not the same."
        return render_template("admin/set_password.html", **context), 422
    try:
        account = links.use(key, password)
    except passwords.WeakPassword as weak:
        context["error"] = str(weak)
        return render_template("admin/set_password.html", **context), 422
    except links.LinkNotUsable as refused:
        return render_template("admin/set_password.html", unusable=refused.reason), 404
    # A password set by link replaces whatever was before: every other session ends.
    sessions.end_all(account.account_id)
    audit.record(
        audit.PASSWORD_SET,
        who={"who": account.email, "account_id": account.account_id},
        via=purpose,
    )
    flash("Your password is set. Log in with your e-mail address and the new password.", "success")
    return redirect(url_for(".login"), 303)
