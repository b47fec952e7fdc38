"""Reminder e-mails: `flask reminders send` through a real SMTP server (aiosmtpd), and the opt-in.

The schedule (hand-computed): follow-up 1 is due 30 days after the baseline was started, with a
window of 7 days either side. On 2026-02-15 (UTC):
- P001's baseline started 2026-01-01 → due 2026-01-31, window closed 2026-02-07: overdue, 15 days.
- P002's baseline started 2026-01-20 → due 2026-02-19, window open since 2026-02-12: due, in 4.
- P003's baseline started 2026-02-10 → due 2026-03-12: not yet due, not in the digest.
"""

import socket
from datetime import UTC, datetime

import pytest
from conftest import (
    REFUSED_DOMAIN,
    SMTP_PASSWORD,
    SMTP_USERNAME,
    csrf_from,
    make_account,
    start_session,
)

from intact import config, create_app, db
from intact.accounts import users

DAY = "2026-02-15"
PUBLIC_URL = "https://intact.example.org"


@pytest.fixture
def mail_config(app_config, smtp):
    """Settings of an app that sends through the test SMTP server."""
    app_config.update(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp.port),
        SMTP_STARTTLS="false",
        MAIL_FROM="INTACT study team <intact@example.org>",
        PUBLIC_URL=PUBLIC_URL,
        FOLLOWUP_SCHEDULE_DAYS="30,60",
        FOLLOWUP_WINDOW_DAYS="7",
    )
    return app_config


@pytest.fixture
def schedule_app(mail_config):
    return create_app(mail_config)


def seed_followups(app):
    """Three participants, each a baseline (one test) and follow-up 1, as in the module doc."""
    created = {}
    with app.app_context():
        for number, started in ((1, "2026-01-01"), (2, "2026-01-20"), (3, "2026-02-10")):
            participant = f"P00{number}"
            baseline, followup = f"base{'abc'[number - 1]}aaaa", f"foll{'abc'[number - 1]}aaaa"
            moment = datetime.fromisoformat(started).replace(hour=9, tzinfo=UTC)
            db.studies().insert_many(
                [
                    _study(app, baseline, participant, "baseline", started_at=moment),
                    _study(app, followup, participant, "followup", followup_number=1),
                ]
            )
            created[participant] = (baseline, followup)
    return created


def _study(app, study_id, participant_id, study_type, **fields):
    document = {
        "study_id": study_id,
        "participant_id": participant_id,
        "study_type": study_type,
        "url": f"{app.config['STUDY_URL_PREFIX']}/{study_id}",
        "created_at": datetime(2025, 12, 1, tzinfo=UTC),
        "batch_id": "b1",
        **fields,
    }
    if study_type == "baseline":
        # The counters of one immediate recall with answers (intact/participants/counters.py).
        document.update(tests_count=1, submissions={"immediate_recall": 1}, empty_count={})
    return document


def opted_in(app, email, role="researcher", reminders=True, active=True):
    account = make_account(app, email, role)
    with app.app_context():
        users.set_reminders(account.account_id, reminders)
        if not active:
            users.deactivate(account.account_id)
    return account


def send(app, *options):
    return app.test_cli_runner().invoke(args=["reminders", "send", "--date", DAY, *options])


def test_without_smtp_settings_the_command_says_so_and_exits_non_zero(app, runner):
    result = runner.invoke(args=["reminders", "send"])
    assert result.exit_code == 1
    assert "No mail settings: set SMTP_HOST and MAIL_FROM" in result.output


def test_preview_shows_recipients_and_the_digest_without_mail_settings(app_config):
    app_config.update(FOLLOWUP_SCHEDULE_DAYS="30,60", FOLLOWUP_WINDOW_DAYS="7")
    app = create_app(app_config)
    followups = seed_followups(app)
    opted_in(app, "pi@uni.example")

    result = app.test_cli_runner().invoke(args=["reminders", "preview", "--date", DAY])

    assert result.exit_code == 0, result.output
    assert "Digest of 2026-02-15: INTACT follow-ups on 2026-02-15: 1 overdue, 1 due now." in (
        result.output
    )
    assert "It goes to: pi@uni.example." in result.output
    assert "Not sent from this server yet: No mail settings" in result.output
    assert "- P001, Follow-up 1, due 2026-01-31 (15 days ago)" in result.output
    assert "http://127.0.0.1:8000/admin/due" in result.output
    assert not any(study_id in result.output for pair in followups.values() for study_id in pair)


def test_the_digest_reaches_each_opted_in_researcher_with_plain_and_html_parts(schedule_app, smtp):
    followups = seed_followups(schedule_app)
    opted_in(schedule_app, "pi@uni.example")
    opted_in(schedule_app, "ra@uni.example", role="analyst")
    opted_in(schedule_app, "not-asked@uni.example", reminders=False)
    opted_in(schedule_app, "left@uni.example", active=False)

    result = send(schedule_app)

    assert result.exit_code == 0, result.output
    assert "1 overdue, 1 due now on 2026-02-15: sent to pi@uni.example, ra@uni.example" in (
        result.output
    )
    received = smtp.handler.received
    assert sorted(mail.rcpt_tos[0] for mail in received) == ["pi@uni.example", "ra@uni.example"]
    assert all(len(mail.rcpt_tos) == 1 for mail in received)
    mail = next(m for m in received if m.rcpt_tos == ["pi@uni.example"])
    message = mail.message
    assert mail.mail_from == "intact@example.org"
    assert message["From"] == "INTACT study team <intact@example.org>"
    assert message["To"] == "pi@uni.example"
    assert message["Subject"] == "INTACT follow-ups on 2026-02-15: 1 overdue, 1 due now"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"] and message["Message-ID"].endswith("@example.org>")
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Overdue: 1 follow-up of 1 participant" in plain
    assert "- P001, Follow-up 1, due 2026-01-31 (15 days ago)" in plain
    assert "Due now: 1 follow-up of 1 participant" in plain
    assert "- P002, Follow-up 1, due 2026-02-19 (in 4 days)" in plain
    assert "P003" not in plain
    assert f"{PUBLIC_URL}/admin/due" in plain and f"{PUBLIC_URL}/admin/account" in plain
    assert '<th scope="row">P001</th><td>Follow-up 1</td>' in html
    assert '<time datetime="2026-02-19">2026-02-19</time>' in html
    assert f'<a class="button" href="{PUBLIC_URL}/admin/due">' in html
    # Never a study id or link: they are the participants' credentials.
    for baseline, followup in followups.values():
        assert baseline.encode() not in mail.raw and followup.encode() not in mail.raw
    assert b"localhost:5173" not in mail.raw
    with schedule_app.app_context():
        entry = db.collection("audit_log").find_one({"action": "reminders_sent"})
    assert entry["count"] == 2
    assert entry["details"]["due"] == 1 and entry["details"]["overdue"] == 1


def test_each_person_gets_one_digest_a_day_unless_asked_again(schedule_app, smtp):
    seed_followups(schedule_app)
    opted_in(schedule_app, "pi@uni.example")
    assert send(schedule_app).exit_code == 0
    assert len(smtp.handler.received) == 1

    second = send(schedule_app)
    assert second.exit_code == 0
    assert "Already sent today to pi@uni.example (--again resends)." in second.output
    assert len(smtp.handler.received) == 1

    assert send(schedule_app, "--again").exit_code == 0
    assert len(smtp.handler.received) == 2
    # The next day is a new digest.
    next_day = schedule_app.test_cli_runner().invoke(
        args=["reminders", "send", "--date", "2026-02-16"]
    )
    assert next_day.exit_code == 0
    assert len(smtp.handler.received) == 3


def test_nothing_due_sends_nothing_unless_asked(schedule_app, smtp):
    opted_in(schedule_app, "pi@uni.example")

    quiet = send(schedule_app)

    assert quiet.exit_code == 0
    assert "0 overdue, 0 due now on 2026-02-15: no e-mail sent" in quiet.output
    assert smtp.handler.received == []
    assert send(schedule_app, "--even-if-empty").exit_code == 0
    (mail,) = smtp.handler.received
    assert mail.message["Subject"] == "INTACT follow-ups on 2026-02-15: nothing due or overdue"
    assert "Overdue: no follow-up" in mail.message.get_body(("plain",)).get_content()


def test_nobody_opted_in(schedule_app, smtp):
    seed_followups(schedule_app)
    opted_in(schedule_app, "pi@uni.example", reminders=False)
    result = send(schedule_app)
    assert result.exit_code == 0
    assert "Nobody asked for reminder e-mails" in result.output
    assert smtp.handler.received == []


def test_logs_in_and_reports_a_refused_recipient_which_the_next_run_retries(mail_config, smtp):
    mail_config.update(SMTP_USERNAME=SMTP_USERNAME, SMTP_PASSWORD=SMTP_PASSWORD)
    app = create_app(mail_config)
    seed_followups(app)
    opted_in(app, "pi@uni.example")
    opted_in(app, f"gone@{REFUSED_DOMAIN}")

    result = send(app)

    assert result.exit_code == 1
    assert f"Not sent to gone@{REFUSED_DOMAIN}: 550 No such user here" in result.output
    assert smtp.handler.logins == [SMTP_USERNAME]
    assert [mail.rcpt_tos for mail in smtp.handler.received] == [["pi@uni.example"]]
    with app.app_context():
        reminded = {a.email: a.reminded_on for a in users.list_accounts()}
    assert reminded == {"pi@uni.example": DAY, f"gone@{REFUSED_DOMAIN}": None}


def closed_port() -> str:
    """A loopback port nothing listens on."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        return str(closed.getsockname()[1])


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        (
            {"SMTP_USERNAME": SMTP_USERNAME, "SMTP_PASSWORD": "not-the-password"},
            "the login was refused (535",
        ),
        ({"SMTP_STARTTLS": "true"}, "does not offer STARTTLS"),
        ({"SMTP_PORT": closed_port}, "Could not send through 127.0.0.1:"),
    ],
    ids=["wrong password", "no STARTTLS", "unreachable"],
)
def test_a_server_that_cannot_be_used_fails_the_run_and_marks_nobody(
    mail_config, smtp, settings, problem
):
    mail_config.update({k: v() if callable(v) else v for k, v in settings.items()})
    app = create_app(mail_config)
    seed_followups(app)
    opted_in(app, "pi@uni.example")

    result = send(app)

    assert result.exit_code == 1
    assert problem in result.output
    assert smtp.handler.received == []
    with app.app_context():
        assert users.find_by_email("pi@uni.example").reminded_on is None


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"SMTP_PORT": "70000"}, "SMTP_PORT must be a port number"),
        ({"SMTP_PORT": "smtp"}, "SMTP_PORT must be a whole number"),
        ({"SMTP_USERNAME": "someone"}, "SMTP_USERNAME and SMTP_PASSWORD go together"),
        ({"SMTP_STARTTLS": "maybe"}, "SMTP_STARTTLS must be true or false"),
        ({"MAIL_FROM": "the study team"}, "MAIL_FROM must be an e-mail address"),
        ({"PUBLIC_URL": "intact.example.org"}, "PUBLIC_URL must be the address people open"),
    ],
)
def test_mail_settings_are_checked_at_start_up(settings, problem):
    with pytest.raises(config.ConfigError, match=problem):
        config.from_environ(settings)


def test_public_url_defaults_to_host_and_port():
    assert config.public_url(config.from_environ({})) == "http://127.0.0.1:8000"
    settings = config.from_environ({"PUBLIC_URL": "https://intact.example.org/study/"})
    assert config.public_url(settings) == "https://intact.example.org/study"


# --- the opt-in and the same digest on My account ---------------------------------------------


def test_my_account_switches_reminders_on_and_shows_todays_digest(schedule_app, smtp):
    with schedule_app.app_context():
        today = datetime.now(UTC).date().isoformat()
        db.studies().insert_many(
            [
                _study(
                    schedule_app,
                    "basezzzz",
                    "P009",
                    "baseline",
                    started_at=datetime(2020, 1, 1, tzinfo=UTC),
                ),
                _study(schedule_app, "follzzzz", "P009", "followup", followup_number=1),
            ]
        )
    account = make_account(schedule_app, "pi@uni.example", "researcher")
    client = schedule_app.test_client()
    start_session(schedule_app, client, account)

    page = client.get("/admin/account")
    text = page.get_data(as_text=True)
    assert "Reminder e-mails" in text and "Switch reminder e-mails on" in text
    assert f"Today's digest ({today}, UTC)" in text
    assert "Overdue: 1 follow-up of 1 participant" in text
    assert '<th scope="row">P009</th><td>Follow-up 1</td>' in text
    assert "follzzzz" not in text.split("Reminder e-mails")[1].split("</section>")[0]

    answer = client.post(
        "/admin/account/reminders", data={"csrf_token": csrf_from(page), "reminders": "on"}
    )
    assert answer.status_code in (302, 303)
    with schedule_app.app_context():
        assert users.get(account.account_id).reminders is True
        entry = db.collection("audit_log").find_one({"action": "reminders_changed"})
    assert entry["who"] == "pi@uni.example" and entry["details"] == {"reminders": "on"}
    assert "Switch reminder e-mails off" in client.get("/admin/account").get_data(as_text=True)

    client.post("/admin/account/reminders", data={"csrf_token": csrf_from(page)})
    with schedule_app.app_context():
        assert users.get(account.account_id).reminders is False


def test_the_due_page_points_named_accounts_to_the_reminders(app, admin):
    account = make_account(app, "pi@uni.example", "researcher")
    client = app.test_client()
    start_session(app, client, account)
    link = 'href="/admin/account#reminders-title">My account → Reminder e-mails</a>'
    assert link in client.get("/admin/due").get_data(as_text=True)
    # The shared admin password has no account, so no e-mail either.
    assert link not in admin.get("/admin/due").get_data(as_text=True)


def test_my_account_says_when_the_server_sends_no_mail(app):
    account = make_account(app, "pi@uni.example", "researcher")
    client = app.test_client()
    start_session(app, client, account)
    text = client.get("/admin/account").get_data(as_text=True)
    assert "This server sends no e-mail yet. No mail settings: set SMTP_HOST and MAIL_FROM" in text


def test_the_reminders_switch_needs_the_csrf_token(app):
    account = make_account(app, "pi@uni.example", "researcher")
    client = app.test_client()
    start_session(app, client, account)
    assert client.post("/admin/account/reminders", data={"reminders": "on"}).status_code == 403
    with app.app_context():
        assert users.get(account.account_id).reminders is False
