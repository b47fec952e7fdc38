"""Two-factor login: TOTP codes from an authenticator app (pyotp), and one-time recovery codes.

RFC 6238 TOTP, 6 digits, 30-second steps, one step of clock drift either way; a code is accepted
once (the step of the last accepted code is kept, so a code seen over a shoulder cannot be
replayed). The QR code for the authenticator app is drawn here as inline SVG (segno), so no
image service learns the secret. Ten recovery codes of 50 random bits each, stored as SHA-256
digests, each usable once.

An account's `two_factor` field: {secret, confirmed_at, last_step, recovery_hashes} once set up;
{pending_secret} while the person is scanning the QR code.
"""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
import segno

from intact.accounts import keys, users

ISSUER = "INTACT"
DIGITS = 6
DRIFT_STEPS = 1
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or copied


class CodeRefused(ValueError):
    """A wrong, reused or malformed code; the message is for the person typing it."""


@dataclass(frozen=True)
class Enrolment:
    """What the person needs to add the account to an authenticator app."""

    secret: str
    uri: str
    qr_svg: str


def _settings(account_id: str) -> dict:
    return users.document(account_id).get("two_factor") or {}


def qr_svg(text: str, title: str) -> str:
    """`text` as a QR code in inline SVG (black on white, with a title for screen readers)."""
    return segno.make(text, error="m").svg_inline(
        scale=5, border=4, dark="#000", light="#fff", title=title, omitsize=False
    )


def begin(account_id: str) -> Enrolment:
    """Start setting up two-factor login: a new secret that works once confirmed with a code."""
    account = users.get(account_id)
    settings = _settings(account_id)
    secret = pyotp.random_base32()
    settings["pending_secret"] = secret
    users.update_two_factor(account_id, settings)
    uri = pyotp.TOTP(secret, digits=DIGITS).provisioning_uri(name=account.email, issuer_name=ISSUER)
    return Enrolment(
        secret=secret, uri=uri, qr_svg=qr_svg(uri, "QR code for your authenticator app")
    )


def _normalise_code(code) -> str:
    return "".join(str(code or "").split()).replace("-", "").lower()


def _matching_step(secret: str, code: str, after_step: int, now: datetime) -> int | None:
    """The time step whose TOTP equals `code`, within the allowed drift and after `after_step`."""
    totp = pyotp.TOTP(secret, digits=DIGITS)
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if step > after_step and keys.same(totp.generate_otp(step), code):
            return step
    return None


def confirm(account_id: str, code, now: datetime | None = None) -> list[str]:
    """Finish the setup with a code from the app; return the recovery codes (shown once)."""
    settings = _settings(account_id)
    secret = settings.get("pending_secret")
    if not secret:
        raise CodeRefused("Start the two-factor setup again: no QR code is waiting for a code.")
    now = now or datetime.now(UTC)
    step = _matching_step(secret, _normalise_code(code), -1, now)
    if step is None:
        raise CodeRefused("That code is not right. Type the 6 digits your app shows now.")
    codes = _new_recovery_codes()
    users.update_two_factor(
        account_id,
        {
            "secret": secret,
            "confirmed_at": now,
            "last_step": step,
            "recovery_hashes": [keys.digest(_normalise_code(c)) for c in codes],
        },
    )
    return codes


def _new_recovery_codes() -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODES):
        text = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{text[:5]}-{text[5:]}")
    return codes


def enabled(account_id: str) -> bool:
    """True when the account logs in with a second factor."""
    return bool(_settings(account_id).get("confirmed_at"))


def verify(account_id: str, code, now: datetime | None = None) -> str:
    """Check a login's second factor: "totp" or "recovery code" when accepted; else CodeRefused.

    A recovery code works once; a TOTP code once (its step is remembered).
    """
    settings = _settings(account_id)
    if not settings.get("confirmed_at"):
        raise CodeRefused("Two-factor login is not set up for this account.")
    typed = _normalise_code(code)
    now = now or datetime.now(UTC)
    if typed.isdigit() and len(typed) == DIGITS:
        step = _matching_step(settings["secret"], typed, settings.get("last_step", -1), now)
        if step is None:
            raise CodeRefused("That code is not right, or was used already. Wait for the next one.")
        # Only a step later than the stored one is written, so two racing logins with the same
        # code cannot both succeed.
        claimed = users.claim_two_factor_step(account_id, step)
        if not claimed:
            raise CodeRefused("That code was used already. Wait for the next one.")
        return "totp"
    if len(typed) == 10 and users.use_recovery_code(account_id, keys.digest(typed)):
        return "recovery code"
    raise CodeRefused("That code is not right.")


def recovery_codes_left(account_id: str) -> int:
    """How many unused recovery codes the account has."""
    return len(_settings(account_id).get("recovery_hashes") or [])


def new_recovery_codes(account_id: str) -> list[str]:
    """Replace the recovery codes (the old ones stop working); return the new ones, shown once."""
    settings = _settings(account_id)
    if not settings.get("confirmed_at"):
        raise CodeRefused("Two-factor login is not set up for this account.")
    codes = _new_recovery_codes()
    settings["recovery_hashes"] = [keys.digest(_normalise_code(c)) for c in codes]
    users.update_two_factor(account_id, settings)
    return codes


def disable(account_id: str) -> None:
    """Switch two-factor login off for the account."""
    users.update_two_factor(account_id, None)
