"""Outgoing e-mail through the SMTP server the settings name: Python's own smtplib, one connection.

Settings (intact/config.py, README "Reminder e-mails"): SMTP_HOST (unset: no mail at all),
SMTP_PORT (587, the submission port, RFC 6409), SMTP_STARTTLS (true: upgrade the connection with
STARTTLS before logging in, and refuse to go on if the server does not offer it, RFC 3207),
SMTP_USERNAME and SMTP_PASSWORD (both or neither), MAIL_FROM. Port 465 means TLS from the first
byte ("implicit TLS", RFC 8314), as mail providers document it.
"""

import smtplib
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage

# Seconds to wait for the server at each step: a hung server must not hang the daily job.
TIMEOUT_SECONDS = 30
IMPLICIT_TLS_PORT = 465


class MailNotConfigured(RuntimeError):
    """SMTP_HOST or MAIL_FROM is unset: this server sends no e-mail."""


class MailFailed(RuntimeError):
    """The SMTP server could not be reached, refused the login, or refused every message."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send: the SMTP_* and MAIL_FROM settings."""

    host: str
    port: int
    username: str
    password: str
    starttls: bool
    sender: str

    @classmethod
    def from_config(cls, config: Mapping) -> "SmtpSettings":
        """The app's mail settings; MailNotConfigured names the ones missing."""
        missing = [name for name in ("SMTP_HOST", "MAIL_FROM") if not config.get(name)]
        if missing:
            raise MailNotConfigured(
                f"No mail settings: set {' and '.join(missing)} (README, 'Reminder e-mails')."
            )
        return cls(
            host=config["SMTP_HOST"],
            port=config["SMTP_PORT"],
            username=config["SMTP_USERNAME"],
            password=config["SMTP_PASSWORD"],
            starttls=config["SMTP_STARTTLS"],
            sender=config["MAIL_FROM"],
        )

    @property
    def where(self) -> str:
        """host:port, for messages."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Outcome:
    """What became of one message: sent, or refused with the server's reason."""

    message: EmailMessage
    error: str | None = None

    @property
    def sent(self) -> bool:
        """True when the server accepted the message for its recipient."""
        return self.error is None


def send_all(settings: SmtpSettings, messages: Iterable[EmailMessage]) -> list[Outcome]:
    """Send each message over one connection; return an Outcome per message, in order.

    A message the server refuses (a recipient it does not know) is reported and the others still
    go. Raises MailFailed when the server cannot be reached, refuses the login or STARTTLS is
    wanted but not offered: then nothing was sent.
    """
    messages = list(messages)
    if not messages:
        return []
    try:
        with _connect(settings) as server:
            return [_send_one(server, message) for message in messages]
    except (smtplib.SMTPException, OSError) as error:
        raise MailFailed(f"Could not send through {settings.where}: {_describe(error)}") from error


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if settings.port == IMPLICIT_TLS_PORT:
        server = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=TIMEOUT_SECONDS, context=context
        )
    else:
        server = smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT_SECONDS)
    try:
        server.ehlo()
        if settings.starttls and settings.port != IMPLICIT_TLS_PORT:
            if not server.has_extn("starttls"):
                raise MailFailed(
                    f"{settings.where} does not offer STARTTLS, so the password and the digest "
                    "would cross the network unencrypted. Use the server's submission port "
                    "(587, or 465), or set SMTP_STARTTLS=false for a server on this machine or "
                    "a trusted network."
                )
            server.starttls(context=context)
            server.ehlo()
        if settings.username:
            server.login(settings.username, settings.password)
    except BaseException:
        server.close()
        raise
    return server


def _send_one(server: smtplib.SMTP, message: EmailMessage) -> Outcome:
    try:
        refused = server.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        return Outcome(message, "; ".join(_reply(r) for r in error.recipients.values()))
    except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as error:
        return Outcome(message, _describe(error))
    if refused:
        return Outcome(message, "; ".join(_reply(r) for r in refused.values()))
    return Outcome(message)


def _reply(code_and_text) -> str:
    code, text = code_and_text
    return f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}"


def _describe(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return f"the login was refused ({_reply((error.smtp_code, error.smtp_error))})"
    if isinstance(error, smtplib.SMTPResponseException):
        return _reply((error.smtp_code, error.smtp_error))
    return str(error) or type(error).__name__
