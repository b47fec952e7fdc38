"""`flask` commands and the `flask shell` context for developers."""

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from intact import audit, backup, db, summaries


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

    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(export_summary)


@click.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@with_appcontext
def backup_command(path):
    """Write every document of the database to PATH (a file, or a folder to put one in)."""
    if path.is_dir():
        path = path / backup.default_file_name()
    header = backup.write_backup(path)
    total = sum(header["collections"].values())
    audit.record(audit.BACKUP_WRITTEN, count=total, file=str(path))
    click.echo(f"Backup of {db.describe(current_app.config)} written to {path}")
    click.echo(f"{total} documents: {_counts(header)}")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--force", is_flag=True, help="Replace everything in a non-empty database with the backup."
)
@with_appcontext
def restore_command(path, force):
    """Load a backup written by `flask backup` into an empty database."""
    try:
        header = backup.restore_backup(path, force=force)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from error
    total = sum(header["collections"].values())
    audit.record(audit.BACKUP_RESTORED, count=total, file=str(path), replaced=force)
    written = f"{header['created_at']:%Y-%m-%d %H:%M} UTC"
    click.echo(f"Restored {total} documents from {path} (written {written})")
    click.echo(f"into {db.describe(current_app.config)}: {_counts(header)}")


def _counts(header) -> str:
    return ", ".join(f"{name} {count}" for name, count in header["collections"].items()) or "none"


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
