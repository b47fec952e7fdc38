"""`flask` commands and the `flask shell` context for developers."""

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from intact import db, summaries


def init_app(app) -> None:
    """Register the shell context and the CLI commands."""

    @app.shell_context_processor
    def _shell_context():
        return {
            "db": db.get_db(),
            "studies": db.studies(),
            "tests": db.tests(),
            "config": current_app.config,
        }

    app.cli.add_command(export_summary)


@click.command("export-summary")
@click.argument("output", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@with_appcontext
def export_summary(output: Path) -> None:
    """Write the scores of every study to OUTPUT: summary.csv, or a workbook if it ends in .xlsx."""
    if output.suffix.lower() == ".xlsx":
        summaries.write_summary_workbook(output)
    elif output.suffix.lower() == ".csv":
        with output.open("w", encoding="utf-8", newline="") as handle:
            handle.writelines(summaries.summary_csv())
    else:
        raise click.BadParameter("name a .csv or an .xlsx file", param_hint="OUTPUT")
    click.echo(f"Wrote {output}")
