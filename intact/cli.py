"""`flask` commands and the `flask shell` context for developers."""

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from marshmallow import ValidationError

from intact import audit, backup, db, downloads, exports, participant_lists, pseudonyms, studies
from intact.identifiers import ParticipantIdField
from intact.participants import counters, migrations


class ParticipantIdType(click.ParamType):
    """A participant id on the command line, normalised and checked as everywhere else."""

    name = "participant_id"

    def convert(self, value, param, ctx):
        try:
            return ParticipantIdField().deserialize(value)
        except ValidationError as error:
            self.fail(" ".join(error.messages), param, ctx)


PARTICIPANT_ID = ParticipantIdType()


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
    app.cli.add_command(create_studies_command)
    app.cli.add_command(export_command)
    app.cli.add_command(studies_group)


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=True, file_okay=True))
@with_appcontext
def backup_command(path):
    """Write every document of the database into the folder PATH (created when missing), in a
    file named by time, or to PATH itself when it names a new .gz file."""
    try:
        path = backup.target_file(path)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from error
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
    # A backup from an earlier version: bring its documents up to date, as start-up does.
    migrations.run()
    audit.record(audit.BACKUP_RESTORED, count=total, file=str(path), replaced=force)
    written = f"{header['created_at']:%Y-%m-%d %H:%M} UTC"
    click.echo(f"Restored {total} documents from {path} (written {written})")
    click.echo(f"into {db.describe(current_app.config)}: {_counts(header)}")


def _counts(header) -> str:
    return ", ".join(f"{name} {count}" for name, count in header["collections"].items()) or "none"


def selection_options(command):
    """--since, --deidentified and --days-since-baseline: the download options of every form."""
    command = click.option(
        "--days-since-baseline",
        is_flag=True,
        help="With --deidentified: dates become days since the participant's baseline.",
    )(command)
    command = click.option(
        "--deidentified",
        is_flag=True,
        help="Pseudonyms instead of ids, no study links or notes (needs PSEUDONYM_KEY).",
    )(command)
    return click.option(
        "--since",
        metavar="ISO-8601",
        help="Only tests the server received from then on (2026-03-01, 2026-03-01T09:30:00Z).",
    )(command)


def _options(since, deidentified: bool, days_since_baseline: bool) -> dict:
    """The options read by the forms' own schema: the same rules and messages as a form's."""
    given = {"deidentified": deidentified, "days_since_baseline": days_since_baseline}
    if since is not None:
        given["since"] = since
    try:
        return exports.options_of(exports.SelectionSchema().load(given))
    except ValidationError as error:
        problems = [
            f"--{name.replace('_', '-')}: {' '.join(messages)}"
            for name, messages in error.messages.items()
        ]
        raise click.UsageError("; ".join(problems)) from None


@click.command("export-summary")
@click.argument("output", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--participant-id", type=PARTICIPANT_ID, help="Only this participant's scores.")
@selection_options
@with_appcontext
def export_summary(output: Path, participant_id, **options) -> None:
    """Write the derived scores to OUTPUT: summary.csv, or the whole workbook if named .xlsx."""
    suffix = output.suffix.lower()
    if suffix not in {".csv", ".xlsx"}:
        raise click.BadParameter("name a .csv or an .xlsx file", param_hint="OUTPUT")
    named = downloads.workbook if suffix == ".xlsx" else downloads.summary_csv
    size = downloads.save(_download_for(named, participant_id, _options(**options)), output)
    click.echo(f"Wrote {output} ({size:,} bytes).")


@click.command("create-studies")
@click.argument("ids_file", default="-", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--baselines", "-b", default=1, show_default=True, help="Baselines per participant.")
@click.option("--followups", "-f", default=1, show_default=True, help="Follow-ups per participant.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    help="Write the new studies' CSV here instead of to standard output.",
)
@with_appcontext
def create_studies_command(ids_file, baselines, followups, output):
    """Create studies for the participant ids in IDS_FILE (.txt or .csv; "-" or none: stdin).

    The same rules as POST /studies: one id per line, letters and digits only, all or nothing.
    Prints the new studies as CSV (the columns of studies.csv).
    """
    try:
        data = _read_file(ids_file)
        if ids_file == "-":
            participant_ids = participant_lists.decode(data)
        else:
            participant_ids = participant_lists.read_file(data, ids_file)
        created = studies.create_studies(participant_ids, baselines, followups)
    except studies.InvalidBatch as error:
        raise click.ClickException(error.message) from None
    audit.record(
        audit.STUDIES_CREATED,
        count=len(created),
        participants=len(participant_ids),
        batch_id=created[0]["batch_id"],
        via="command line",
    )
    with click.open_file(output, "wb") if output == "-" else _create(Path(output)) as target:
        for chunk in exports.studies_csv_from(created):
            target.write(chunk)
    click.echo(
        f"Created {len(created)} studies for {len(participant_ids)} participants "
        f"(batch {created[0]['batch_id']}).",
        err=True,
    )


def _download_for(named_download, participant_id, options: dict):
    """The named download, or a ClickException when the participant filter matches nobody or a
    de-identified one has no PSEUDONYM_KEY."""
    try:
        return named_download(participant_id, **options)
    except studies.ParticipantNotFound as error:
        raise click.ClickException(error.message) from None
    except pseudonyms.PseudonymKeyMissing as error:
        raise click.ClickException(error.description) from None


def _create(path: Path):
    """Open a new output file for writing, creating its folder when missing (exports/…)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("wb")


def _read_file(path: str) -> bytes:
    """The file's bytes ("-": standard input); a ClickException when it cannot be read."""
    try:
        with click.open_file(path, "rb") as source:
            return source.read()
    except OSError as error:
        raise click.ClickException(f"Cannot read {path}: {error.strerror}.") from None


@click.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--participant-id", type=PARTICIPANT_ID, help="Only this participant's data.")
@click.option(
    "--redcap", is_flag=True, help="The REDCap-ready ZIP (import, data dictionary, events) instead."
)
@selection_options
@with_appcontext
def export_command(path: Path, participant_id, redcap: bool, **options):
    """Write the ZIP that the download endpoint gives (every CSV, the codebook and
    datapackage.json; or with --redcap the REDCap files) to PATH."""
    named = downloads.redcap_zip if redcap else downloads.zip_archive
    size = downloads.save(_download_for(named, participant_id, _options(**options)), path)
    click.echo(f"Wrote {path} ({size:,} bytes).")


@click.group("studies")
def studies_group():
    """Maintenance of the studies' stored data."""


@studies_group.command("recount")
@with_appcontext
def recount_command():
    """Rebuild every study's counts and dates (tests, empty and refused ones) from the data.

    Pages read these counters instead of the tests; each submission keeps them up to date. Run
    this if the server stopped between storing a test and counting it.
    """
    counted = counters.recount_all()
    click.echo(f"Recounted {counted} studies.")
