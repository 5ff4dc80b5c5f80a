"""`followup migrate|schedule|worker|retry|cancel|preview|send-test|doctor`: running the service."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from service.cli.app import ID, App, cli, emit, emit_stream, json_option, limit_option, pass_app
from service.errors import FollowupError, UsageError

if TYPE_CHECKING:
    from datetime import datetime


@cli.command("migrate")
@pass_app
def migrate_cmd(app: App) -> None:
    """Create or upgrade the database schema."""
    from service.db import migrate, schema_status

    before, head = schema_status(app.db)
    migrate(app.db)
    where = _safe_url(app.settings.database_url)
    if before is None:
        click.echo(f"created the database at {where} (schema {head})")
    elif before != head:
        click.echo(f"upgraded the database at {where} from schema {before} to {head}")
    else:
        click.echo(f"the database at {where} is up to date (schema {head})")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


STATUS_CHOICES = (
    "planned", "pending_review", "approved", "sending", "sent", "deferred", "failed",
    "cancelled", "rejected", "uncertain", "expired", "bounced",
)  # fmt: skip


@cli.command("schedule")
@click.option("--all", "include_all", is_flag=True, help="Also sent, failed, cancelled ...")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(STATUS_CHOICES),
    help="Only follow-ups in this status (repeat for several).",
)
@click.option("--since", help="Only those due at or after this day: YYYY-MM-DD (your zone).")
@click.option("--interview", "interview_id", type=ID, help="Only this interview's follow-ups.")
@limit_option
@json_option
@pass_app
def schedule_cmd(
    app: App,
    include_all: bool,
    statuses: tuple[str, ...],
    since: str | None,
    interview_id: int | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Upcoming follow-ups, soonest first (notes to you are labelled as such)."""
    from service import formatting, listings

    rows = listings.followups(
        app.ready_db(),
        statuses=statuses or (None if include_all else listings.UPCOMING),
        since=_day_start(since, app) if since else None,
        interview_id=interview_id,
        limit=limit,
    )
    if as_json:
        me, rule = app.me, app.rule
        emit_stream(formatting.followup_json(f, me, rule) for f in rows)
        return
    listed = list(rows)
    if not listed:
        click.echo("Nothing scheduled." + ("" if include_all else " (--all shows past ones)"))
    else:
        click.echo(formatting.followup_rows(listed, app.settings.timezone, app.rule))


def _day_start(day: str, app: App) -> datetime:
    """The start of a day in the user's zone, as a UTC moment."""
    from datetime import datetime

    from service.validation import local_to_utc, parse_date

    start = datetime.combine(parse_date(day, "--since"), datetime.min.time())
    return local_to_utc(start, app.settings.timezone)


@cli.command("worker")
@click.option("--once", is_flag=True, help="Send everything due now, then exit (for cron).")
@click.option(
    "--wait-for-settings",
    is_flag=True,
    help="On a settings error, say so and wait for the fix instead of exiting 78 (containers).",
)
@pass_app
def worker_cmd(app: App, once: bool, wait_for_settings: bool) -> None:
    """Send due follow-ups until stopped (SIGTERM/SIGINT finish the message in flight).

    A running worker re-reads .env and the plan file when they change (within one tick), or at
    once on SIGHUP. Settings it cannot start with exit 78 (EX_CONFIG), or with
    --wait-for-settings are tried again every few seconds until fixed; with --once, exit 2.
    """
    from service.config import load_settings
    from service.worker import Worker

    def start() -> Worker:
        settings = app.settings
        settings.require_sender()
        if settings.smtp is None and settings.sender is None:
            click.echo(
                "followup: warning: FOLLOWUP_FROM is not set: mail is written to the outbox "
                f"signed 'Your Name' until you set it in .env ({settings.outbox_dir})",
                err=True,
            )
        return Worker(settings, app.ready_db(), clock=app.now, load=load_settings)

    worker = start() if once else app.start_service(start, wait=wait_for_settings)
    if once:
        summary = worker.run_until_idle()
        click.echo(
            f"{summary.sent} sent, {summary.deferred} deferred, {summary.failed} failed, "
            f"{summary.uncertain + summary.flagged} uncertain, {summary.expired} expired, "
            f"{summary.prepared} to review"
            + (f", {summary.held} held for review" * bool(summary.held))
            + (f", {summary.changed} changed meanwhile: not sent" * bool(summary.changed))
        )
        if worker.delivery.paused:
            raise UsageError(
                f"sending is paused: {worker.delivery.paused} (fix the FOLLOWUP_SMTP_ settings; "
                "`followup doctor` tries them without sending)"
            )
        return
    worker.run_forever()
    if worker.failure:
        raise FollowupError(worker.failure)


@cli.command("retry")
@click.argument("followup_ids", type=ID, nargs=-1, required=True)
@pass_app
def retry_cmd(app: App, followup_ids: tuple[int, ...]) -> None:
    """Send an uncertain, failed, deferred or expired follow-up again (you decided it should go)."""
    from service import followups

    for fid in followup_ids:
        status = followups.retry(
            app.ready_db(), fid, app.now(), actor=app.actor(), zone=app.settings.timezone
        )
        click.echo(f"follow-up {fid}: {status}, goes at the next pass (review permitting)")


@cli.command("cancel")
@click.argument("followup_ids", type=ID, nargs=-1, required=True)
@pass_app
def cancel_cmd(app: App, followup_ids: tuple[int, ...]) -> None:
    """Make sure a follow-up is never sent."""
    from service import followups

    for fid in followup_ids:
        followups.cancel(
            app.ready_db(), fid, app.now(), actor=app.actor(), zone=app.settings.timezone
        )
        click.echo(f"follow-up {fid}: cancelled")


@cli.command("preview")
@click.argument("followup_id", type=ID)
@click.option("--raw", is_flag=True, help="The exact bytes on the wire (encoded), not decoded.")
@pass_app
def preview_cmd(app: App, followup_id: int, raw: bool) -> None:
    """Print the message that would go out, with any warnings."""
    from service import followups

    preview = followups.preview(app.settings, app.ready_db(), followup_id, app.now())
    for warning in preview.warnings:
        click.echo(f"warning: {warning}", err=True)
    if raw and preview.sent is not None:
        click.echo(preview.raw, nl=False)  # exactly the bytes that went out: nothing added
        return
    click.echo(preview.raw if raw else preview.text)


@cli.command("send-test")
@click.option("--to", "to", help="Address to send to (default: your own, FOLLOWUP_FROM).")
@pass_app
def send_test_cmd(app: App, to: str | None) -> None:
    """Mail yourself a test message through the configured SMTP server (or the outbox)."""
    from service import followups

    click.echo(followups.send_test(app.settings, to, app.now()))


@cli.command("doctor")
@json_option
@pass_app
def doctor_cmd(app: App, as_json: bool) -> None:
    """Check configuration, database, plan, templates and SMTP; say what to fix."""
    from service import doctor

    checks = list(doctor.run_checks(app.settings, app.db))
    if as_json:
        emit(
            [
                {"name": c.name, "status": c.status, "detail": c.detail, "hint": c.hint}
                for c in checks
            ]
        )
    else:
        for check in checks:
            click.echo(f"{check.label}  {check.name}: {check.detail}")
            if check.status != "ok" and check.hint:
                click.echo(f"      hint: {check.hint}")
    if any(c.status == "fail" for c in checks):
        raise SystemExit(1)
