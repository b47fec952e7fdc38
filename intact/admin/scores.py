"""Dashboard pages for scores: distributions, flagged tests, a participant's change, a report."""

from datetime import UTC, datetime

from flask import abort, render_template, request

from intact import scoring, summaries
from intact.accounts.permissions import Permission, requires
from intact.admin import bp, pages, schemas
from intact.testtypes import TEST_TYPES

FLAGGED_PER_PAGE = 100


def _flag_descriptions() -> dict[str, str]:
    rules = summaries.quality_rules()
    return {name: scoring.flag_description(name, rules) for name in scoring.FLAG_NAMES}


@bp.get("/scores")
@requires(Permission.VIEW_PROGRESS)
def scores():
    """Each score's distribution at baseline and at follow-up, over every study."""
    exclude_flagged = schemas.load(schemas.ScoresQueryArgsSchema, request.args)["flagged"] != ""
    distributions = summaries.score_distributions(exclude_flagged)
    sections = [
        (test_type.label, [d for d in distributions if d.test_type == name])
        for name, test_type in TEST_TYPES.items()
    ]
    return render_template("admin/scores.html", sections=sections, exclude_flagged=exclude_flagged)


@bp.get("/scores/flagged")
@requires(Permission.VIEW_PROGRESS)
def flagged_tests():
    """Every test with a data-quality flag, with a link to its participant; filter by flag."""
    args = schemas.load(schemas.FlaggedQueryArgsSchema, request.args)
    flag = args["flag"] or None
    flagged = summaries.flagged_tests(flag, page=args["page"], per_page=FLAGGED_PER_PAGE)
    if args["page"] > 1:
        # "Show more" appends rows to the table; past the end (flags went away) it adds none.
        fragment = "admin/partials/_flagged_rows.html"
        rows = flagged.items if flagged.page == args["page"] else []
    else:
        # Page 1 replaces the whole table (a new filter).
        fragment, rows = "admin/partials/_flagged_table.html", flagged.items
    return pages.render_page(
        "admin/flagged.html",
        fragment,
        flagged=flagged,
        rows=rows,
        flag=flag,
        flag_descriptions=_flag_descriptions(),
    )


def _overview_or_404(participant_id: str):
    try:
        return summaries.participant_overview(participant_id)
    except summaries.ParticipantNotFound:
        abort(404, description=f"No study belongs to a participant with the id {participant_id}.")


@bp.get("/participants/<participant:participant_id>/scores")
@requires(Permission.VIEW_PROGRESS)
def participant_scores(participant_id):
    """One participant's baseline and follow-ups side by side, with the change in each score."""
    return render_template(
        "admin/participant_scores.html",
        overview=_overview_or_404(participant_id),
        flag_descriptions=_flag_descriptions(),
    )


@bp.get("/participants/<participant:participant_id>/report")
@requires(Permission.VIEW_PROGRESS)
def participant_report(participant_id):
    """A page that prints cleanly to PDF: the participant's scores over time."""
    return render_template(
        "admin/report.html",
        overview=_overview_or_404(participant_id),
        flag_descriptions=_flag_descriptions(),
        rules=summaries.quality_rules(),
        printed_at=datetime.now(UTC),
    )
