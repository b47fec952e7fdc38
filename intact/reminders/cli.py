"""`flask reminders send`: the daily digest of due and overdue follow-ups, by e-mail.

Run once a day by the compose `scheduler` profile (or cron). Exits non-zero when mail is not set
up or could not be sent, so a scheduler's log shows it.
"""

import click
from flask import current_app
from flask.cli import AppGroup

from intact.participants import schedule
from intact.reminders import digest_mail, mail, sending

reminders_cli = AppGroup("reminders", help="Reminder e-mails to researchers: the due digest.")


def init_app(app) -> None:
    """Register the command group."""
    app.cli.add_command(reminders_cli)


DATE_OPTION = click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The UTC day of the digest (YYYY-MM-DD; default: today).",
)


@reminders_cli.command("preview")
@DATE_OPTION
def preview_command(day):
    """Show who would get the digest and what it says; send nothing (no mail settings needed)."""
    digest = schedule.due_digest(day.date() if day else None)
    people = [account.email for account in sending.recipients()]
    click.echo(f"Digest of {digest.today.isoformat()}: {digest_mail.subject(digest)}.")
    if people:
        click.echo(f"It goes to: {', '.join(people)}.")
    else:
        click.echo("Nobody has asked for reminder e-mails yet (My account → Reminder e-mails).")
    try:
        settings = mail.SmtpSettings.from_config(current_app.config)
        click.echo(f"Sent through {settings.where} as {settings.sender}.")
    except mail.MailNotConfigured as missing:
        click.echo(f"Not sent from this server yet: {missing}")
    click.echo("")
    click.echo(digest_mail.plain_text(digest, **sending.links()), nl=False)


@reminders_cli.command("send")
@DATE_OPTION
@click.option(
    "--even-if-empty", is_flag=True, help="Send even when nothing is due or overdue (a test)."
)
@click.option("--again", is_flag=True, help="Send to those who had this day's digest already.")
def send_command(day, even_if_empty, again):
    """E-mail the digest of due and overdue follow-ups to everyone who asked for it.

    Each person who switched reminders on (My account) gets it once per UTC day: running the
    command again the same day sends nothing twice unless --again.
    """
    try:
        report = sending.send_reminders(
            day.date() if day else None, even_if_empty=even_if_empty, again=again
        )
    except (mail.MailNotConfigured, mail.MailFailed) as error:
        raise click.ClickException(str(error)) from None
    digest = report.digest
    what = (
        f"{digest.overdue_count} overdue, {digest.due_count} due now on {digest.today.isoformat()}"
    )
    if not report.recipients:
        click.echo(
            f"{what}. Nobody asked for reminder e-mails (each person switches them on under "
            "My account), so none was sent."
        )
        return
    if report.skipped_empty:
        click.echo(f"{what}: no e-mail sent (--even-if-empty sends one anyway).")
        return
    if report.sent:
        click.echo(f"{what}: sent to {', '.join(report.sent)}.")
    if report.already_sent:
        click.echo(f"Already sent today to {', '.join(report.already_sent)} (--again resends).")
    if report.failed:
        for address, reason in report.failed:
            click.echo(f"Not sent to {address}: {reason}", err=True)
        raise click.exceptions.Exit(1)
