"""`followup backup`, `restore` and `load`: a copy of your data while the worker runs, put back
or moved to another database (SQLite to Postgres and back)."""

from __future__ import annotations

import click

from service.cli.app import FILE, App, cli, pass_app


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
@pass_app
def restore_cmd(app: App, file: str, force: bool) -> None:
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
    )
    if done.kept is not None:
        click.echo(f"the database's previous content is kept in {done.kept.path}")
    click.echo(f"restored {file}: `followup schedule --all` shows it")
    if done.held:
        shown = ", ".join(map(str, done.held[:20])) + (", ..." if len(done.held) > 20 else "")
        click.echo(
            f"{len(done.held)} follow-up(s) held as uncertain ({shown}): they were due since the "
            "backup was taken and may have gone out meanwhile; check your Sent folder, then "
            "`followup retry ID` or `followup cancel ID`"
        )


@cli.command("load")
@click.argument("file", type=FILE)
@pass_app
def load_cmd(app: App, file: str) -> None:
    """Load a `followup export --json` file into an empty database (of either kind), ids and
    all: how to move from SQLite to Postgres, or back. FILE may be - for the input."""
    import sys

    from service.archive import portable
    from service.db import migrate
    from service.errors import UsageError

    db = app.db
    migrate(db)  # a new database gets its tables
    try:
        source = sys.stdin if file == "-" else open(file, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"{file}: cannot be read ({exc.strerror})") from None
    with source:
        try:
            counts = portable.load(db, source, "the input" if file == "-" else file)
        except UnicodeDecodeError:
            raise UsageError(f"{file} is not UTF-8 text: is it a followup export?") from None
    click.echo(f"loaded {portable.describe(counts)}")
