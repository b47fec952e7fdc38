"""The reminder e-mail of a digest: plain text with an HTML alternative, never a study link.

Study ids and links are the participants' credentials (anyone holding one can submit results in
that participant's name), and e-mail is forwarded, archived and read on shared screens: the
digest carries counts, participant ids, follow-up numbers and due dates, and links only to the
dashboard's Due page, which shows the study links after a login.
"""

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage

from flask import render_template

from intact.participants import followups
from intact.participants.schedule import Digest, DigestEntry

# Follow-ups listed per section; the rest are counted ("and 12 more") and on the Due page.
LISTED_PER_SECTION = 50


@dataclass(frozen=True)
class Section:
    """One part of the digest (overdue, due now): its follow-ups, the first few listed."""

    key: str  # "overdue" or "due"
    title: str
    entries: tuple[DigestEntry, ...]
    participants: int

    @property
    def listed(self) -> tuple[DigestEntry, ...]:
        """The entries shown one by one (the earliest due first)."""
        return self.entries[:LISTED_PER_SECTION]

    @property
    def more(self) -> int:
        """How many entries are counted but not listed."""
        return max(0, len(self.entries) - LISTED_PER_SECTION)

    @property
    def summary(self) -> str:
        """'2 follow-ups of 2 participants', 'no follow-up'."""
        count = len(self.entries)
        if not count:
            return "no follow-up"
        people = f"{self.participants} participant{'s' if self.participants != 1 else ''}"
        return f"{count} follow-up{'s' if count != 1 else ''} of {people}"


def sections(digest: Digest) -> tuple[Section, Section]:
    """The digest's overdue and due-now parts, as the e-mail and the dashboard show them."""
    return (
        Section("overdue", "Overdue", digest.overdue, len(digest.overdue_participant_ids)),
        Section("due", "Due now", digest.due, len(digest.due_participant_ids)),
    )


def entry_label(entry: DigestEntry) -> str:
    """'Follow-up 2' (the number every page uses)."""
    return followups.label(followups.FOLLOWUP, entry.followup_number)


def subject(digest: Digest) -> str:
    """'INTACT follow-ups on 2026-11-30: 2 overdue, 3 due now' (or 'nothing due')."""
    day = digest.today.isoformat()
    if not digest:
        return f"INTACT follow-ups on {day}: nothing due or overdue"
    parts = []
    if digest.overdue_count:
        parts.append(f"{digest.overdue_count} overdue")
    if digest.due_count:
        parts.append(f"{digest.due_count} due now")
    return f"INTACT follow-ups on {day}: {', '.join(parts)}"


def _context(digest: Digest, due_url: str, account_url: str) -> dict:
    return {
        "digest": digest,
        "sections": sections(digest),
        "entry_label": entry_label,
        "due_url": due_url,
        "account_url": account_url,
        "subject": subject(digest),
    }


def plain_text(digest: Digest, *, due_url: str, account_url: str) -> str:
    """The e-mail's plain-text part; needs an app context (the template)."""
    return render_template("mail/digest.txt", **_context(digest, due_url, account_url))


def compose(
    digest: Digest, *, recipient: str, sender: str, due_url: str, account_url: str
) -> EmailMessage:
    """One e-mail of `digest` to `recipient`; needs an app context (the templates).

    Plain text first, HTML as its alternative (multipart/alternative, RFC 2046 §5.1.4): every
    client shows one of them, the richest it can. Marked `Auto-Submitted: auto-generated`
    (RFC 3834) so that out-of-office replies are not sent back.
    """
    context = _context(digest, due_url, account_url)
    message = EmailMessage()
    message["Subject"] = context["subject"]
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = email.utils.format_datetime(datetime.now(UTC))
    message["Message-ID"] = email.utils.make_msgid(domain=_domain(sender))
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(render_template("mail/digest.txt", **context))
    message.add_alternative(render_template("mail/digest.html", **context), subtype="html")
    return message


def _domain(address: str) -> str:
    return email.utils.parseaddr(address)[1].rpartition("@")[2] or "localhost"
