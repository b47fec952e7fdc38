"""Researcher reminders: a daily e-mail of the follow-ups due and overdue, for those who ask.

- `mail.py`: the SMTP settings and sending, with the standard library's smtplib (one connection,
  STARTTLS, login, per-message outcome).
- `digest_mail.py`: the e-mail of a digest (`participants.schedule.due_digest`): plain text with
  an HTML alternative, counts and participant ids, a link to the Due page, never a study link.
- `sending.py`: who gets it (active accounts that opted in on My account), once per UTC day,
  audited.
- `cli.py`: `flask reminders send`, which the compose `scheduler` profile runs daily.

The My account page shows the same digest (templates/mail/_digest.html) beside the opt-in.
"""


def init_app(app) -> None:
    """Add the `flask reminders` commands."""
    from intact.reminders import cli  # noqa: PLC0415 - imports the app's database modules

    cli.init_app(app)
