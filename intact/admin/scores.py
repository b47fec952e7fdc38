"""Dashboard pages for scores: distributions, flagged tests, a participant's change, a report."""

from datetime import UTC, datetime

from flask import abort, render_template, request

from intact import scoring, summaries
from intact.accounts.permissions import Permission, requires
from intact.admin import add_to_menu, bp, errors, pages
from intact.admin import views as _dashboard_views  # noqa: F401 - its menu entries come first
from intact.testtypes import TEST_TYPES

FLAGGED_PER_PAGE = 100

add_to_menu("dashboard.scores", "Scores")
add_to_menu("dashboard.flagged_tests", "Data quality")


def format_score(value, unit: str = "") -> str:
    """A score as a researcher reads it: '412.5 ms', '0.667', '3'; '—' when missing."""
    if value is None:
        return "—"
    if unit == "ms":
        return f"{value:,.1f} ms"
    if unit.startswith("proportion"):
        return f"{value:.3f}"
    return f"{value:g}"


def format_change(value, unit: str = "") -> str:
    """A change with its sign: '+1', '−12.5 ms', '±0'; '—' when it cannot be computed."""
    if value is None:
        return "—"
    if value == 0:
        return "±0"
    sign = "+" if value > 0 else "−"
    return sign + format_score(abs(value), unit)


@bp.app_template_filter("score")
def _score_filter(value, unit=""):
    return format_score(value, unit)


@bp.app_template_filter("change")
def _change_filter(value, unit=""):
    return format_change(value, unit)


def _flag_descriptions() -> dict[str, str]:
    rules = summaries.quality_rules()
    return {name: scoring.flag_description(name, rules) for name in scoring.FLAG_NAMES}


@bp.get("/scores")
@requires(Permission.VIEW_PROGRESS)
def scores():
    """Each score's distribution at baseline and at follow-up, over every study."""
    exclude_flagged = request.args.get("flagged") == "exclude"
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
    flag = request.args.get("flag") or None
    if flag is not None and flag not in scoring.FLAG_NAMES:
        return errors.error_page(
            400, f"There is no data-quality flag called {flag!r}.", list(scoring.FLAG_NAMES)
        )
    page = request.args.get("page", "1")
    if not page.isdigit() or int(page) < 1:
        return errors.error_page(400, "The page number must be a whole number from 1.")
    page = int(page)
    every = summaries.flagged_tests(flag)
    start = (page - 1) * FLAGGED_PER_PAGE
    # Page 1 replaces the whole table (a new filter); later pages append rows to it.
    fragment = (
        "admin/partials/_flagged_rows.html" if page > 1 else "admin/partials/_flagged_table.html"
    )
    return pages.render_page(
        "admin/flagged.html",
        fragment,
        tests=every[start : start + FLAGGED_PER_PAGE],
        total=len(every),
        page=page,
        has_more=start + FLAGGED_PER_PAGE < len(every),
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
