"""A participant's life in a study, beyond creating the links (which is `intact/studies.py`).

- `followups.py`: the follow-up number each follow-up study gets when it is created (1, 2, … per
  participant, kept for ever), its label ("Follow-up 2"), and the start-up numbering of studies
  created before numbers existed.
- `counters.py`: per-study counts and dates (submissions by type, empty and refused ones, when
  started, last received, completed) refreshed with every submission, so pages read one document
  per study.
- `lifecycle.py`: what happens after the links are made: more studies, a link deactivated and
  reissued, withdrawal, erasure (the audit log keeps a keyed hash), and accepting a result that
  arrived after its link was closed. Every action is audited with who and why.
- `notes.py`: researchers' notes about a participant, in their own collection (never exported).
- `schedule.py`: when each follow-up is due (days after the baseline was started, or a date set
  by hand), its schedule state (not yet due, due, overdue, done), the Due list and the digest
  that reminders send.
- `intake.py`: whether a study still takes results, and if not why (a link closed by hand, a study
  completed more than COMPLETED_GRACE_HOURS ago); both participant endpoints ask it.
- `migrations.py`: stored documents brought up to date at start-up (idempotent steps).

Every page, export and API names a follow-up by this number, so "Follow-up 2" is the same link
everywhere.
"""

from intact.participants import migrations


def init_app(app) -> None:
    """Upgrade documents stored by earlier versions (at start-up, or once the database answers)."""
    migrations.init_app(app)
