"""Settings from the environment (and `.env`), parsed and validated once at start-up.

The names of the original FastAPI backend are kept so that an existing deployment's
environment works unchanged.
"""

import email.utils
import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

import limits

from intact import store_kinds

# Placeholder password of the original backend: never accepted outside local mode.
INSECURE_PASSWORDS = frozenset({"", "password"})
LOCAL_SECRETS_FILE = "local-secrets.json"
# Generated on its own, so that a DATA_DIR made before de-identified exports existed gets one too.
LOCAL_PSEUDONYM_KEY_FILE = "local-pseudonym-key.json"
# A shorter key could be found by trying: then every pseudonym could be computed from guessed ids.
PSEUDONYM_KEY_MIN_LENGTH = 32
# The front-end's development server (Vite), allowed by CORS in local mode unless set otherwise.
LOCAL_FRONTEND_ORIGIN = "http://localhost:5173"


class ConfigError(Exception):
    """A setting is missing or invalid; the app must not start."""


def _text(value, default=""):
    return default if value is None else str(value).strip()


def _flag(name, value, default=False):
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _integer(name, value, default, minimum=0):
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    return number


def _rate_limits(name, value, default):
    text = _text(value, default) or default
    try:
        limits.parse_many(text)
    except ValueError:
        raise ConfigError(
            f"{name} must be rate limits such as '30 per minute; 1000 per day', got {text!r}"
        ) from None
    return text


def _percent(name, value, default):
    if value is None or str(value).strip() == "":
        return default
    try:
        number = float(str(value).strip().removesuffix("%"))
    except ValueError:
        raise ConfigError(f"{name} must be a percentage such as 90, got {value!r}") from None
    if not 50 <= number < 100:
        raise ConfigError(f"{name} must be from 50 up to (not including) 100, got {value!r}")
    return number


def _schedule_days(name, value, default):
    """'180, 365' → (180, 365): days after the baseline of follow-ups 1, 2, …; '' → ().

    Commas, semicolons or spaces separate the numbers; each is a whole number of at least 1,
    each larger than the one before.
    """
    # Settings already parsed (a test's, or the app's own passed on again) read as they were given.
    parts = [str(day) for day in value] if isinstance(value, list | tuple) else None
    days = []
    for part in parts if parts is not None else re.split(r"[,;\s]+", _text(value, default)):
        if not part:
            continue
        if not part.isdigit() or int(part) < 1:
            problem = f"each entry must be a whole number of days, at least 1, got {part!r}"
        elif days and int(part) <= days[-1]:
            problem = f"the days must increase (follow-up 1 first), got {part} after {days[-1]}"
        else:
            days.append(int(part))
            continue
        raise ConfigError(f"{name}: {problem}, for example 180,365")
    return tuple(days)


def _public_url(name, value, default):
    """The dashboard's address as people open it: http(s)://host[:port][/prefix], no trailing /."""
    text = _text(value, default).rstrip("/")
    if text and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", text):
        raise ConfigError(
            f"{name} must be the address people open, such as https://intact.example.org, "
            f"got {text!r}"
        )
    return text


def _mail_address(name, value, default):
    """'INTACT <intact@example.org>' or 'intact@example.org'; '' when unset."""
    text = _text(value, default)
    if text and "@" not in email.utils.parseaddr(text)[1]:
        raise ConfigError(
            f"{name} must be an e-mail address such as 'INTACT <intact@example.org>', got {text!r}"
        )
    return text


def _reference_file(name, value, default):
    # Read now, so a broken file stops the app at start-up with its line, not a page later.
    from intact.reliable_change import reference  # noqa: PLC0415 - config loads before the app

    path = _text(value, default)
    try:
        reference.load(path or reference.DEFAULT_PATH)
    except reference.ReferenceFileError as error:
        raise ConfigError(f"{name}: {error}") from None
    return path


# name -> (parser, default). Each parser takes (name, raw value, default).
_SETTINGS = {
    "LOCAL_MODE": (_flag, False),
    "DB_CONNECTION_STR": (lambda n, v, d: _text(v, d), ""),
    "DB_NAME": (lambda n, v, d: _text(v, d) or d, "intact"),
    "DB_TIMEOUT_MS": (lambda n, v, d: _integer(n, v, d, minimum=100), 3000),
    "DATA_DIR": (lambda n, v, d: _text(v, d) or d, "instance/data"),
    "ADMIN_PASSWORD": (lambda n, v, d: _text(v, d), ""),
    "SECRET_KEY": (lambda n, v, d: _text(v, d), ""),
    # Keys the pseudonyms of de-identified exports (intact/pseudonyms.py); unset: none can be made.
    "PSEUDONYM_KEY": (lambda n, v, d: _text(v, d), ""),
    "STUDY_URL_PREFIX": (lambda n, v, d: _text(v, d) or d, "http://localhost:5173"),
    "CORS_FRONTEND_ORIGIN": (lambda n, v, d: _text(v, d), "https://intact.sail.codes"),
    # Unset: the front-end's development server in local mode, nothing in a deployment.
    "CORS_LOCALHOST_ORIGIN": (lambda n, v, d: _text(v, d), ""),
    "HOST": (lambda n, v, d: _text(v, d) or d, "127.0.0.1"),
    "PORT": (lambda n, v, d: _integer(n, v, d, minimum=1), 8000),
    "LOG_LEVEL": (lambda n, v, d: (_text(v, d) or d).upper(), "INFO"),
    "MAX_CONTENT_LENGTH": (lambda n, v, d: _integer(n, v, d, minimum=1024), 1024 * 1024),
    # Seconds without a byte of a request's body before the client gets a 408 (request_body.py).
    "REQUEST_BODY_TIMEOUT": (lambda n, v, d: _integer(n, v, d, minimum=1), 60),
    # 26**6 ≈ 3e8 possible ids is the least that still makes guessing a valid study impractical.
    "STUDY_ID_LENGTH": (lambda n, v, d: _integer(n, v, d, minimum=6), 8),
    "MAX_STUDIES_PER_REQUEST": (lambda n, v, d: _integer(n, v, d, minimum=1), 10_000),
    # Dashboard: a session ends after this many hours without a request…
    "ADMIN_SESSION_HOURS": (lambda n, v, d: _integer(n, v, d, minimum=1), 8),
    # …and this many hours after it began, however busy (OWASP ASVS 4.0 V3.3, level 2).
    "ADMIN_SESSION_MAX_HOURS": (lambda n, v, d: _integer(n, v, d, minimum=1), 12),
    # The shared ADMIN_PASSWORD (the built-in admin). Off once named admins exist (README).
    "ADMIN_PASSWORD_ENABLED": (_flag, True),
    # Named admins must log in with a second factor (TOTP); they set it up at their first login.
    "ADMIN_TWO_FACTOR_REQUIRED": (_flag, False),
    # Dashboard: an opened or started study with no activity for this many days is "abandoned".
    "ABANDONED_AFTER_DAYS": (lambda n, v, d: _integer(n, v, d, minimum=1), 14),
    # Follow-up schedule (intact/participants/schedule.py): follow-up k is due this many days
    # after the baseline was started (empty: only due dates set by hand), and may be done from
    # due − window to due + window days.
    "FOLLOWUP_SCHEDULE_DAYS": (_schedule_days, ""),
    "FOLLOWUP_WINDOW_DAYS": (lambda n, v, d: _integer(n, v, d, minimum=0), 14),
    # A completed study takes results for this many hours more, then refuses them (kept in the
    # quarantine with the reason): intact/participants/intake.py.
    "COMPLETED_GRACE_HOURS": (lambda n, v, d: _integer(n, v, d, minimum=0), 24),
    # Data-quality rules of intact/scoring.py: plausible reaction times and elapsed-time checks.
    "RT_MIN_MS": (lambda n, v, d: _integer(n, v, d, minimum=0), 100),
    "RT_MAX_MS": (lambda n, v, d: _integer(n, v, d, minimum=1), 60_000),
    "ELAPSED_TOLERANCE_MS": (lambda n, v, d: _integer(n, v, d, minimum=0), 1_000),
    "ELAPSED_MAX_MS": (lambda n, v, d: _integer(n, v, d, minimum=1), 3_600_000),
    # What the quarantine keeps of refused submissions (intact/quarantine.py): per study in all,
    # and per client address per UTC day; beyond either, a refusal is counted, not kept.
    "QUARANTINE_MAX_PER_STUDY": (lambda n, v, d: _integer(n, v, d, minimum=0), 20),
    "QUARANTINE_MAX_BYTES_PER_STUDY": (lambda n, v, d: _integer(n, v, d, minimum=0), 5 * 2**20),
    "QUARANTINE_MAX_PER_CLIENT_DAY": (lambda n, v, d: _integer(n, v, d, minimum=0), 200),
    "QUARANTINE_MAX_BYTES_PER_CLIENT_DAY": (
        lambda n, v, d: _integer(n, v, d, minimum=0),
        20 * 2**20,
    ),
    # Reliable change (intact/reliable_change/): two-sided confidence level in percent, the
    # fewest participants with a baseline and a follow-up value to estimate r, SD1 and practice
    # from the study itself, and a reference file of published values (empty: the shipped one).
    "RCI_CONFIDENCE_LEVEL": (_percent, 90.0),
    "RCI_MIN_PAIRS": (lambda n, v, d: _integer(n, v, d, minimum=3), 30),
    "RCI_REFERENCE_FILE": (_reference_file, ""),
    # The dashboard's address as people open it, for links outside the browser (reminder
    # e-mails, `flask users` password links). Empty: http://HOST:PORT.
    "PUBLIC_URL": (_public_url, ""),
    # Outgoing mail for reminders (intact/reminders/): unset SMTP_HOST means no mail is sent.
    "SMTP_HOST": (lambda n, v, d: _text(v, d), ""),
    "SMTP_PORT": (lambda n, v, d: _integer(n, v, d, minimum=1), 587),
    "SMTP_USERNAME": (lambda n, v, d: _text(v, d), ""),
    "SMTP_PASSWORD": (lambda n, v, d: "" if v is None else str(v), ""),
    "SMTP_STARTTLS": (_flag, True),
    "MAIL_FROM": (_mail_address, ""),
    # Reverse proxies in front of the app whose X-Forwarded-For / -Proto are believed (0: none).
    "TRUSTED_PROXIES": (_integer, 0),
    # Rate limits per client address; only failures count (see intact/ratelimit.py).
    "RATELIMIT_ENABLED": (_flag, True),
    "RATELIMIT_STUDY_MISSES": (_rate_limits, "30 per minute; 1000 per day"),
    "RATELIMIT_TEST_REFUSALS": (_rate_limits, "60 per minute; 1000 per day"),
    "RATELIMIT_LOGIN_FAILURES": (_rate_limits, "10 per minute; 100 per day"),
    # Wrong passwords or codes given for one account, from anywhere (intact/accounts/throttle.py).
    "RATELIMIT_ACCOUNT_FAILURES": (_rate_limits, "20 per hour; 100 per day"),
}


# Every setting this module reads (the README and .env.example document each one).
SETTING_NAMES = frozenset(_SETTINGS)


def from_environ(environ: Mapping) -> dict:
    """Parse every known setting from an environment-like mapping; raise ConfigError."""
    settings = {
        name: parse(name, environ.get(name), default)
        for name, (parse, default) in _SETTINGS.items()
    }
    if environ.get("CORS_LOCALHOST_ORIGIN") is None and settings["LOCAL_MODE"]:
        settings["CORS_LOCALHOST_ORIGIN"] = LOCAL_FRONTEND_ORIGIN
    if settings["LOG_LEVEL"] not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ConfigError(
            f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {settings['LOG_LEVEL']!r}"
        )
    if settings["ADMIN_TWO_FACTOR_REQUIRED"] and settings["ADMIN_PASSWORD_ENABLED"]:
        raise ConfigError(
            "ADMIN_TWO_FACTOR_REQUIRED=true needs ADMIN_PASSWORD_ENABLED=false: the shared admin "
            "password has no second factor. Create a named admin first (README, 'Accounts')."
        )
    try:
        kind = store_kinds.store_kind(settings)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    least = store_kinds.MONGODB_MIN_TIMEOUT_MS
    if kind == store_kinds.MONGODB and settings["DB_TIMEOUT_MS"] < least:
        raise ConfigError(
            f"DB_TIMEOUT_MS must be at least {least} with MongoDB (the driver looks for a "
            f"returning server every {store_kinds.MONGODB_RECHECK_MS} ms), "
            f"got {settings['DB_TIMEOUT_MS']}"
        )
    if settings["PSEUDONYM_KEY"] and len(settings["PSEUDONYM_KEY"]) < PSEUDONYM_KEY_MIN_LENGTH:
        raise ConfigError(
            f"PSEUDONYM_KEY must be at least {PSEUDONYM_KEY_MIN_LENGTH} characters (a long random "
            "value, e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`), got "
            f"{len(settings['PSEUDONYM_KEY'])}"
        )
    if settings["SMTP_PORT"] > 65535:
        raise ConfigError(
            f"SMTP_PORT must be a port number up to 65535, got {settings['SMTP_PORT']}"
        )
    if bool(settings["SMTP_USERNAME"]) != bool(settings["SMTP_PASSWORD"]):
        raise ConfigError("SMTP_USERNAME and SMTP_PASSWORD go together: set both, or neither")
    if settings["RT_MIN_MS"] >= settings["RT_MAX_MS"]:
        raise ConfigError(
            f"RT_MIN_MS ({settings['RT_MIN_MS']}) must be below RT_MAX_MS ({settings['RT_MAX_MS']})"
        )
    # Anything else the caller passes (Flask's TESTING, a test's own keys) goes through untouched.
    extras = {
        key: value for key, value in environ.items() if key not in _SETTINGS and key.isupper()
    }
    return {**extras, **settings}


def require_secrets(settings: dict) -> None:
    """Refuse to run a deployment with the placeholder password or no session key.

    ADMIN_PASSWORD is needed only while the shared password is on (ADMIN_PASSWORD_ENABLED).
    """
    problems = []
    if settings["ADMIN_PASSWORD_ENABLED"] and settings["ADMIN_PASSWORD"] in INSECURE_PASSWORDS:
        problems.append("ADMIN_PASSWORD is unset or 'password': set a strong admin password")
    if not settings["SECRET_KEY"]:
        problems.append(
            "SECRET_KEY is unset: set a long random value, for example the output of "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`"
        )
    if problems:
        raise ConfigError("Refusing to start outside local mode: " + "; ".join(problems))


def fill_local_secrets(settings: dict) -> dict:
    """In local mode, generate the missing password and keys once and keep them in DATA_DIR.

    Keeping them on disk means sessions, the printed password and the pseudonyms of de-identified
    exports survive a restart of `make run`. A file is written only for what is missing: a
    deployment that sets every secret gets nothing written into its DATA_DIR.
    """
    folder = Path(settings["DATA_DIR"])
    filled = dict(settings)
    # The shared password is needed only while it is on (ADMIN_PASSWORD_ENABLED).
    needs_password = (
        settings["ADMIN_PASSWORD_ENABLED"] and settings["ADMIN_PASSWORD"] in INSECURE_PASSWORDS
    )
    if needs_password or not settings["SECRET_KEY"]:
        stored = _read_or_create(
            folder / LOCAL_SECRETS_FILE,
            {"ADMIN_PASSWORD": secrets.token_urlsafe(12), "SECRET_KEY": secrets.token_hex(32)},
        )
        if needs_password:
            filled["ADMIN_PASSWORD"] = stored["ADMIN_PASSWORD"]
        if not settings["SECRET_KEY"]:
            filled["SECRET_KEY"] = stored["SECRET_KEY"]
    if not settings["PSEUDONYM_KEY"]:
        stored = _read_or_create(
            folder / LOCAL_PSEUDONYM_KEY_FILE, {"PSEUDONYM_KEY": secrets.token_hex(32)}
        )
        filled["PSEUDONYM_KEY"] = stored["PSEUDONYM_KEY"]
    return filled


def _read_or_create(path: Path, fresh: dict) -> dict:
    """The JSON kept at path, or `fresh`, written there first if the file does not exist yet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: when several processes start at once, exactly one writes the file.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return json.loads(path.read_text(encoding="utf-8"))
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(fresh, handle)
    return fresh


def public_url(settings: Mapping) -> str:
    """Where people open this server: PUBLIC_URL, else http://HOST:PORT (no trailing /)."""
    return settings["PUBLIC_URL"] or f"http://{settings['HOST']}:{settings['PORT']}"


def load(environ: Mapping) -> dict:
    """Settings ready for the app: parsed, secrets checked or (in local mode) filled in."""
    settings = from_environ(environ)
    if settings["LOCAL_MODE"]:
        settings = fill_local_secrets(settings)
    require_secrets(settings)
    return settings
