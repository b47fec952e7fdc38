"""People, roles and permissions, sessions, API tokens and two-factor login.

- permissions.py  the roles, the one table of permissions → roles, the per-view declaration
- guard.py        the check before every request: who is asking, may they use this route
- principal.py    who is asking (an account by session or token, or the built-in admin)
- users.py        named accounts (e-mail address, role, argon2id password hash, active)
- passwords.py    hashing (argon2-cffi) and the strength rule (zxcvbn)
- links.py        one-time invite and reset links (hashed, single use, 72 h)
- sessions.py     dashboard sessions recorded server-side (logout everywhere, lifetimes)
- tokens.py       personal API tokens (named, read/write, expiring, hashed, revocable)
- twofactor.py    TOTP (pyotp), the QR code as SVG (segno), recovery codes
- throttle.py     wrong passwords, codes and tokens counted per client and per account
- keys.py         random one-time secrets and their digests
- cli.py          `flask users …` and `flask tokens …`
"""


def init_app(app) -> None:
    """Check every request against the permission table, and add the commands."""
    # Imported here: these modules import the app's database and audit modules.
    from intact.accounts import cli, guard  # noqa: PLC0415

    guard.init_app(app)
    cli.init_app(app)
