"""`followup backup`, `restore` and `load`: a copy of your data while the worker runs, put back
or moved to another database (SQLite to Postgres and back)."""

from __future__ import annotations

import click

from service.cli.app import FILE, App, cli, pass_app

UNTRAILED = click.option(
    "--accept-untrailed",
    is_flag=True,
    help="Also read an export of an older followup, which ends without a trailer (row counts "
    "and checksum): whether it was cut short or changed cannot be checked.",
)
UNCHECKED = (
    "{file} has no trailer (an export of an older followup): whether it was cut short or "
    "changed could not be checked"
)


@cli.command("backup")
@click.option(
    "--out",
    type=FILE,
    help="The file to write (default: backups/followup-backup-DATE.db, or .jsonl for Postgres, "
    "in the data folder).",
)
@click.option("--force", is_flag=True, help="Replace the --out file if it exists.")
@pass_app
def backup_cmd(app: App, out: str | None, force: bool) -> None:
    """Copy the database, consistently, while the worker runs (written atomically)."""
    from pathlib import Path

    from service.archive import backup

    db = app.ready_db()
    now = app.now()
    if out is None:
        folder = app.settings.data_dir / "backups"
        folder.mkdir(parents=True, exist_ok=True)
        target = backup.default_path(db, folder, now)
    else:
        target = Path(out)
    result = backup.backup(db, target, now, force=force)
    click.echo(f"backed up to {result.path} ({result.what})")


@cli.command("restore")
@click.argument("file", type=FILE)
@click.option(
    "--force", is_flag=True, help="Replace a database that is not empty (it is backed up first)."
)
@UNTRAILED
@pass_app
def restore_cmd(app: App, file: str, force: bool, accept_untrailed: bool) -> None:
    """Put a backup (or a `followup export --json` file) into an empty database.

    Stop the worker first: a restore replaces what it would be sending.
    """
    from pathlib import Path

    from service.archive import backup

    done = backup.restore(
        app.db,
        Path(file),
        app.now(),
        keep_in=app.settings.data_dir / "backups",
        actor=app.actor("restore"),
        force=force,
        accept_untrailed=accept_untrailed,
    )
    if done.kept is not None:
        click.echo(f"the database's previous content is kept in {done.kept.path}")
    click.echo(f"restored {file}: `followup schedule --all` shows it")
    if not done.checked:
        click.echo(UNCHECKED.format(file=file), err=True)
    if done.held:
        shown = ", ".join(map(str, done.held[:20])) + (", ..." if len(done.held) > 20 else "")
        click.echo(
            f"{len(done.held)} follow-up(s) held as uncertain ({shown}): they were due since the "
            "backup was taken and may have gone out meanwhile; check your Sent folder, then "
            "`followup retry ID` or `followup cancel ID`"
        )


@cli.command("load")
@click.argument("file", type=FILE)
@UNTRAILED
@pass_app
def load_cmd(app: App, file: str, accept_untrailed: bool) -> None:
    """Load a `followup export --json` file into an empty database (of either kind), ids and
    all: how to move from SQLite to Postgres, or back. FILE may be - for the input.

    A file cut short or changed is refused whole: nothing is loaded."""
    from service.archive import portable, reading

    name = "the input" if file == "-" else file
    with reading.open_source(file) as source:  # a regular file (or the input): checked first
        loaded = portable.load(app.db, source, name, accept_untrailed=accept_untrailed)
    click.echo(f"loaded {portable.describe(loaded.counts)}")
    if not loaded.checked:
        click.echo(UNCHECKED.format(file=name), err=True)
