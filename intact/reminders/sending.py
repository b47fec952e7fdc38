"""Who gets the daily digest, and sending it: once per person per UTC day, each send audited.

Recipients are the active named accounts that switched reminders on (My account) and whose role
may see the Due page. Each gets the digest at most once per UTC day: a scheduler restarted
mid-day, or two runs at once, send nothing twice (`users.claim_reminder`). A message the server
refuses is released again, so the next run retries it.
"""

from dataclasses import dataclass, field
from datetime import date

from flask import current_app

from intact import audit, config
from intact.accounts import principal, users
from intact.accounts.permissions import Permission, allowed
from intact.participants import schedule
from intact.reminders import digest_mail, mail


@dataclass
class Report:
    """What one run did: the digest, and to whom it went, was skipped or failed."""

    digest: schedule.Digest
    sent: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (address, server's reason)
    recipients: int = 0

    @property
    def skipped_empty(self) -> bool:
        """True when nothing was due or overdue, so no e-mail was sent."""
        return not self.digest and not self.sent and not self.failed


def recipients() -> list[users.Account]:
    """The accounts that get the digest: active, opted in, allowed to see the Due page."""
    return [
        account
        for account in users.list_accounts()
        if account.active
        and account.reminders
        and allowed(principal.for_account(account), Permission.VIEW_PROGRESS)
    ]


def dashboard_url(endpoint: str, **values) -> str:
    """An absolute dashboard address for an e-mail: PUBLIC_URL (else http://HOST:PORT) + path."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return config.public_url(current_app.config) + path


def links() -> dict:
    """The digest's two dashboard links: the Due page and My account (to stop the e-mails)."""
    return {
        "due_url": dashboard_url("dashboard.due"),
        "account_url": dashboard_url("dashboard.my_account"),
    }


def send_reminders(
    today: date | None = None, *, even_if_empty: bool = False, again: bool = False
) -> Report:
    """E-mail `today`'s digest (UTC; default today) to every recipient who has not had it yet.

    Nothing is sent when no follow-up is due or overdue, unless `even_if_empty`; `again` sends
    to those who had today's digest already. Raises mail.MailNotConfigured (no SMTP_HOST or
    MAIL_FROM) before reading anything, and mail.MailFailed when the server cannot be used (then
    nobody is marked as reminded). Needs an app context.
    """
    settings = mail.SmtpSettings.from_config(current_app.config)
    digest = schedule.due_digest(today)
    report = Report(digest)
    people = recipients()
    report.recipients = len(people)
    if not people or (not digest and not even_if_empty):
        return report
    day = digest.today.isoformat()
    claimed = []
    for account in people:
        if users.claim_reminder(account.account_id, day) or again:
            claimed.append(account)
        else:
            report.already_sent.append(account.email)
    messages = [
        digest_mail.compose(digest, recipient=account.email, sender=settings.sender, **links())
        for account in claimed
    ]
    try:
        outcomes = mail.send_all(settings, messages)
    except mail.MailFailed:
        for account in claimed:
            users.release_reminder(account.account_id, day, account.reminded_on)
        raise
    for account, outcome in zip(claimed, outcomes, strict=True):
        if outcome.sent:
            report.sent.append(account.email)
        else:
            users.release_reminder(account.account_id, day, account.reminded_on)
            report.failed.append((account.email, outcome.error))
    if report.sent or report.failed:
        audit.record(
            audit.REMINDERS_SENT,
            count=len(report.sent),
            day=day,
            due=digest.due_count,
            overdue=digest.overdue_count,
            failed=[address for address, _ in report.failed],
        )
    return report
