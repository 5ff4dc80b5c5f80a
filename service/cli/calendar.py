"""`followup import FILE...` (invitations, forwarded invitations, spreadsheets) and
`followup export --ics`: interviews in from calendars, the schedule out to the user's."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

import click

from service.cli.app import FILE, App, cli, pass_app

if TYPE_CHECKING:
    from datetime import datetime

    from service.db import Database
    from service.importing.store import Stored
    from service.rendering import Templates


@cli.command("import")
@click.argument("files", nargs=-1, required=True)
@click.option(
    "--dry-run", is_flag=True, help="Show what would be recorded and planned; write nothing."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (no progress bar).")
@click.option("--company", help="The company, instead of what an invitation's title suggests.")
@click.option("--role", help="The role, instead of what an invitation's title suggests.")
@click.option("--tz", help="The interviewers' time zone, for invitations without one.")
@pass_app
def import_cmd(
    app: App,
    files: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
    company: str | None,
    role: str | None,
    tz: str | None,
) -> None:
    """Record interviews from .ics invitations, .eml forwarded invitations or a .csv file.

    The whole import is one transaction: any problem in any file (every one is listed, with its
    file and line, row or event) and nothing is written. Importing a newer version of an
    invitation (same UID, higher SEQUENCE) updates its interview; a cancellation closes it.
    """
    from pathlib import Path

    from service import planner, review
    from service.importing.files import read_files, total_size
    from service.importing.progress import Progress
    from service.importing.records import ImportOptions, Problems
    from service.importing.store import Store

    settings = app.settings
    me = settings.sender
    options = ImportOptions.build(
        user_zone=settings.timezone.key,
        my_addresses=[*([me.email] if me else []), *settings.my_addresses],
        tz=tz,
        company=company,
        role=role,
    )
    db = app.ready_db()
    paths = [Path(f) for f in files]
    problems = Problems()
    now, actor = app.now(), app.actor("import")
    plan = planner.Planner(settings)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as report:
        # What each interview became goes to a file first: it is shown only once the whole
        # import stands (any problem and nothing is written, nor said to be).
        write = _writer(report, app, dry_run=dry_run, as_json=as_json)
        with db.transaction() as session:
            store = Store(session, plan, now, actor=actor, report=write)
            with Progress(total_size(paths), json_output=as_json) as progress:
                for item in read_files(paths, options, problems, progress.advance):
                    if not problems:
                        store.add(item)
            problems.raise_if_any()  # every problem at once, exit 2; the transaction rolls back
            counts = store.finish()
            if dry_run:
                session.rollback()
        if not dry_run:
            for interview_id in store.updated:
                # Approved text that the change affects goes back to review, as after an update.
                review.refresh_interview(
                    db, plan_templates(app), settings.require_sender(), interview_id, now,
                    actor=actor,
                )  # fmt: skip
        report.seek(0)
        if as_json:
            sys.stdout.write(f'{{"dry_run": {"true" if dry_run else "false"}, "interviews": [')
            for n, line in enumerate(report):
                sys.stdout.write(("" if n == 0 else ",") + "\n" + line.rstrip("\n"))
            sys.stdout.write("\n]}\n")
            return
        shutil.copyfileobj(report, sys.stdout)
    summary = ", ".join(f"{counts[a]} {a}" for a in ("added", "updated", "cancelled") if counts[a])
    click.echo(("dry run, nothing written: " if dry_run else "") + (summary or "nothing changed"))


def plan_templates(app: App) -> Templates:
    from service.rendering import templates_for

    return templates_for(app.settings)


def _writer(report: IO[str], app: App, *, dry_run: bool, as_json: bool) -> Callable[[Stored], None]:
    """How one stored interview is written to the report: a JSON object a line, or text."""
    import json

    from service import formatting

    zone = app.settings.timezone
    verb = "would be" if dry_run else "was"

    def write(s: Stored) -> None:
        if as_json:
            item = {
                "source": s.source,
                "action": s.action,
                "interview_id": s.interview_id,
                "uid": s.uid,
                "planned": [
                    {"step": step, "to": to, "due_at": formatting.iso_utc(due)}
                    for step, to, due in s.planned
                ],
                "changes": [formatting.change_json(c) for c in s.changes],
                "message": s.message,
                "warnings": s.warnings,
            }
            report.write(json.dumps(item, ensure_ascii=False) + "\n")
            return
        what = f"interview {s.interview_id}" if s.interview_id else "no interview"
        line = f"{s.source}: {what} {verb} {s.action}"
        if s.action == "added":
            line += f", {len(s.planned)} follow-up(s) planned"
        lines = [line + (f": {s.message}" if s.message else "")]
        if dry_run:
            lines += [
                f"  {step} to {to}: {formatting.local(due, zone)} ({zone.key})"
                for step, to, due in s.planned
            ]
        lines += ["  " + change.describe(zone) for change in s.changes]
        lines += [f"  warning: {warning}" for warning in s.warnings]
        report.write("\n".join(lines) + "\n")

    return write


@cli.command("export")
@click.option("--ics", "as_ics", is_flag=True, help="The upcoming schedule as a calendar (.ics).")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="All your data, to keep or to `followup load` elsewhere.",
)
@click.option(
    "--out", "out", type=FILE, help="Write to this file (atomically) instead of to the output."
)
@click.option("--force", is_flag=True, help="Replace the --out file if it exists.")
@pass_app
def export_cmd(app: App, as_ics: bool, as_json: bool, out: str | None, force: bool) -> None:
    """Export the upcoming follow-ups as a calendar (--ics): re-importing it updates the
    events; or every record as JSON Lines (--json), the format of docs/data-format.md."""
    from service.errors import UsageError

    if as_ics == as_json:
        raise UsageError(
            "say what to export: --ics (the schedule, for your calendar) or --json (all your "
            "data, for `followup load`)"
        )
    from pathlib import Path

    from service.outfile import check_target, out_file

    if out is not None:
        check_target(Path(out), force=force)  # before the database is read
    db = app.ready_db()
    now = app.now()
    if as_json:
        _export_json(db, out, now, force)
        return
    from service.importing.export import calendar_bytes, load_schedule

    rows, sequences = load_schedule(db, now)
    body = calendar_bytes(
        rows,
        sequences,
        domain=app.settings.require_sender().domain,
        user_zone=app.settings.timezone,
        now=now,
    )
    if out is None:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return
    with out_file(Path(out), force=force) as tmp, open(tmp, "wb") as fh:
        fh.write(body)
    click.echo(f"wrote {len(rows)} follow-up(s) to {out}", err=True)


def _export_json(db: Database, out: str | None, now: datetime, force: bool) -> None:
    from pathlib import Path

    from service.archive import portable
    from service.outfile import out_file

    if out is None:
        portable.export(db, sys.stdout, now)
        return
    with out_file(Path(out), force=force) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        counts = portable.export(db, fh, now)
    click.echo(f"wrote {portable.describe(counts)} to {out}", err=True)
