"""Dashboard pages for reliable change: who declined reliably, and the values the method uses."""

from flask import abort, flash, render_template, request, url_for
from marshmallow import ValidationError

from intact import scoring, summaries
from intact.accounts.permissions import Permission, requires
from intact.admin import bp, pages, schemas
from intact.reliable_change import method, reference, sources
from intact.testtypes import TEST_TYPES

DECLINES_PER_PAGE = 100


def _score_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """(test label, [(score column, score name)]) in battery order, for a grouped <select>."""
    return [
        (test_type.label, [(c, scoring.score_name(c)) for c in scoring.SCORE_COLUMNS[name]])
        for name, test_type in TEST_TYPES.items()
    ]


@bp.get("/reliable-change")
@requires(Permission.VIEW_PROGRESS)
def reliable_declines():
    """Participants whose latest follow-up shows a reliable decline, on any score or on one."""
    args = schemas.load(schemas.ReliableDeclinesQueryArgsSchema, request.args)
    score = args["score"] or None
    found, used = summaries.reliable_declines(score, page=args["page"], per_page=DECLINES_PER_PAGE)
    with_values = sum(
        1
        for column in scoring.ALL_SCORE_COLUMNS
        if any(isinstance(basis, method.Parameters) for _, basis in used.bases(column))
    )
    return pages.render_page(
        "admin/reliable_declines.html",
        "admin/partials/_declines_table.html",
        declines=found,
        score=score,
        score_choices=_score_choices(),
        method=used,
        scores_with_values=with_values,
    )


@bp.get("/reliable-change/method")
@requires(Permission.VIEW_PROGRESS)
def reliable_change_method():
    """The level, the minimum pairs, and each score's r, SD1 and practice with their source."""
    used = summaries.reliable_change_method()
    rows: dict[str, list[dict]] = {}
    for row in used.parameter_rows():
        rows.setdefault(row["score"], []).append(row)
    return render_template(
        "admin/reliable_change_method.html",
        method=used,
        rows=rows,
        score_choices=_score_choices(),
        researcher=sources.researcher_values(),
        reference=sources.reference_values(),
    )


def _score_or_404(score: str) -> str:
    if score not in scoring.ALL_SCORE_COLUMNS:
        abort(404, description=f"There is no score called {score!r}.")
    return score


def _values_form(score: str, status: int = 200, values=None, form_errors=None):
    current = sources.researcher_values().get(score)
    if values is None and current is not None:
        values = {
            "r": f"{current.r:g}",
            "sd_baseline": f"{current.sd_baseline:g}",
            "practice": f"{current.practice:g}",
            "source": current.citation,
        }
    used = summaries.reliable_change_method()
    return pages.render_page(
        "admin/reliable_change_values.html",
        "admin/partials/_reliable_change_form.html",
        status,
        score=score,
        label=scoring.score_label(score),
        unit=scoring.score_unit(score),
        decline_is_increase=method.decline_is_increase(score),
        current=current,
        in_file=sources.reference_values().get(score),
        bases=[
            (number, method.describe_basis(basis, number, used.min_pairs))
            for number, basis in used.bases(score)
        ],
        values=values or {},
        form_errors=form_errors or {},
    )


@bp.get("/reliable-change/method/<score>")
@requires(Permission.VIEW_PROGRESS)
def reliable_change_values(score):
    """The form where a researcher enters one score's r, SD1 and practice, with their source."""
    return _values_form(_score_or_404(score))


@bp.post("/reliable-change/method/<score>")
@requires(Permission.MANAGE_STUDIES)
def save_reliable_change_values(score):
    """Store one score's values (audited) and go back to the method; or the form with its errors."""
    score = _score_or_404(score)
    try:
        typed = schemas.ReliableChangeValuesFormSchema().load(request.form)
        sources.set_values(
            score, typed["r"], typed["sd_baseline"], typed["practice"], typed["source"]
        )
    except ValidationError as error:
        return _values_form(score, 422, request.form, schemas.field_errors(error))
    except reference.InvalidValues as error:
        return _values_form(score, 422, request.form, error.problems)
    flash(f"Saved the values of {scoring.score_label(score)}.", "success")
    return pages.redirect_to(url_for(".reliable_change_method"))


@bp.post("/reliable-change/method/<score>/clear")
@requires(Permission.MANAGE_STUDIES)
def clear_reliable_change_values(score):
    """Remove a researcher's values of one score (audited): the file or the sample applies again."""
    score = _score_or_404(score)
    if sources.clear_values(score):
        flash(f"Removed the values entered for {scoring.score_label(score)}.", "success")
    else:
        flash(f"No values had been entered for {scoring.score_label(score)}.", "info")
    return pages.redirect_to(url_for(".reliable_change_method"))
