"""The `followup` command line: a thin shell over the service's functions."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from functools import cached_property

import click

from service import __version__, events, formatting
from service.config import Settings, load_settings
from service.db import Database, migrate, require_migrated
from service.errors import FollowupError, UsageError

log = logging.getLogger("followup")


class App:
    """What a command needs, built when the command runs (never at import)."""

    def __init__(self, debug: bool = False):
        self.debug = debug

    @cached_property
    def settings(self) -> Settings:
        settings = load_settings()
        logging.basicConfig(
            level="DEBUG" if self.debug else settings.log_level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        if not self.debug:
            logging.getLogger("alembic").setLevel(logging.WARNING)
            logging.getLogger("apscheduler").setLevel(logging.WARNING)
        return settings

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    def ready_db(self) -> Database:
        """The database, after checking it is migrated."""
        require_migrated(self.db)
        return self.db

    @property
    def me(self) -> str:
        return self.settings.sender.email if self.settings.sender else "me"

    def now(self) -> datetime:
        return datetime.now(UTC)

    def actor(self, role: str = "cli") -> str:
        return events.actor_name(role)

    def close(self) -> None:
        """Give back database connections when the command ends."""
        if "db" in self.__dict__:
            self.db.dispose()


pass_app = click.make_pass_decorator(App)


def emit(data) -> None:
    click.echo(formatting.dumps(data))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.version_option(__version__, prog_name="followup")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """followup: sends your interview follow-up emails on time, in good form, never twice."""
    ctx.obj = App(debug=debug)
    ctx.call_on_close(ctx.obj.close)


@cli.command("migrate")
@pass_app
def migrate_cmd(app: App) -> None:
    """Create or upgrade the database schema."""
    migrate(app.db)
    click.echo(f"database is up to date ({_safe_url(app.settings.database_url)})")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# --- interviews -----------------------------------------------------------------------------


def interview_options(required: bool):
    """The flags shared by `interview add` and `interview update`."""

    def decorate(fn):
        opts = [
            click.option("--company", required=required, help="Company name."),
            click.option("--role", required=required, help="The role you interviewed for."),
            click.option(
                "--at", "at", required=required, help='Start, local to --tz: "YYYY-MM-DD HH:MM".'
            ),
            click.option(
                "--tz", required=required, help="The interview's (and recipients') IANA time zone."
            ),
            click.option("--duration", help="Length, e.g. 45m or 1h (default 60m)."),
            click.option("--location", help="Where, or how: onsite address, video, phone."),
            click.option(
                "--contact",
                "contacts",
                multiple=True,
                help='An interviewer: "Name <email>" or "Name <email> | title | phone". Repeat for each.',
            ),
            click.option(
                "--notes",
                help="What stood out, as a phrase: the thank-you says 'I especially enjoyed our conversation about NOTES.'",
            ),
            click.option(
                "--question",
                "questions",
                multiple=True,
                help="A question you did not get to ask. Repeat for each.",
            ),
            click.option("--decision-date", help="When they said they would decide: YYYY-MM-DD."),
            click.option("--json", "as_json", is_flag=True, help="Machine-readable output."),
        ]
        for opt in reversed(opts):
            fn = opt(fn)
        return fn

    return decorate


@cli.group("interview")
def interview_group() -> None:
    """Record interviews and see their follow-ups."""


def _show(app: App, interview_id: int, as_json: bool) -> None:
    from service import interviews

    interview, followups = interviews.get_interview(app.db, interview_id)
    if as_json:
        emit(formatting.interview_json(interview, followups, app.me))
    else:
        click.echo(formatting.interview_text(interview, followups, app.settings.timezone))


@interview_group.command("add")
@interview_options(required=True)
@pass_app
def interview_add(app: App, as_json: bool, contacts, questions, decision_date, **fields) -> None:
    """Record an interview and plan its follow-ups."""
    from service import interviews

    data = interviews.parse_input(
        contacts=contacts,
        questions=questions,
        decision_date=decision_date,
        **fields,
    )
    db = app.ready_db()
    planner = interviews.Planner(app.settings)
    interview_id = interviews.add_interview(db, planner, data, app.now(), actor=app.actor())
    _show(app, interview_id, as_json)


@interview_group.command("update")
@click.argument("interview_id", type=int)
@interview_options(required=False)
@click.option("--clear-questions", is_flag=True, help="Forget the recorded questions.")
@pass_app
def interview_update(
    app: App,
    interview_id: int,
    as_json: bool,
    contacts,
    questions,
    decision_date,
    clear_questions: bool,
    **fields,
) -> None:
    """Change an interview; its pending follow-ups are re-timed to match."""
    from service import interviews

    db = app.ready_db()
    existing, _ = interviews.get_interview(db, interview_id)
    data = interviews.parse_input(
        contacts=contacts or None,
        questions=[] if clear_questions else (questions or None),
        decision_date=decision_date,
        existing=existing,
        **fields,
    )
    planner = interviews.Planner(app.settings)
    interviews.update_interview(db, planner, interview_id, data, app.now(), actor=app.actor())
    _refresh_review(app, interview_id)
    _show(app, interview_id, as_json)


def _refresh_review(app: App, interview_id: int) -> None:
    """Queued or approved text that the change affects goes back to review."""
    from service import review
    from service.rendering import Templates

    if app.settings.sender is None:
        return
    count = review.refresh_interview(
        app.db,
        Templates(app.settings.templates_dir),
        app.settings.sender,
        interview_id,
        app.now(),
        actor=app.actor(),
    )
    if count:
        click.echo(
            f"{count} follow-up(s) changed and went back to review: see `followup queue`", err=True
        )


@interview_group.command("show")
@click.argument("interview_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def interview_show(app: App, interview_id: int, as_json: bool) -> None:
    """Show an interview and all its follow-ups."""
    app.ready_db()
    _show(app, interview_id, as_json)


@interview_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def interview_list(app: App, as_json: bool) -> None:
    """List interviews, oldest first."""
    from service import interviews

    rows = interviews.list_interviews(app.ready_db())
    if as_json:
        emit([formatting.interview_json(i, None, app.me) for i in rows])
        return
    if not rows:
        click.echo("No interviews yet: record one with `followup interview add`.")
        return
    zone = app.settings.timezone
    click.echo(
        formatting.table(
            ["ID", "COMPANY", "ROLE", f"WHEN ({zone.key})", "CONTACTS", "STATUS"],
            [
                [
                    str(i.id),
                    i.company,
                    i.role,
                    formatting.local(i.starts_at, zone),
                    str(sum(not c.removed for c in i.contacts)),
                    i.status,
                ]
                for i in rows
            ],
        )
    )


@interview_group.command("close")
@click.argument("interview_id", type=int)
@click.option(
    "--outcome",
    required=True,
    type=click.Choice(["offer", "rejected", "withdrawn"]),
    help="How it ended.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def interview_close(app: App, interview_id: int, outcome: str, as_json: bool) -> None:
    """Close an interview; follow-ups that have not gone out are cancelled."""
    from service import interviews

    count = interviews.close_interview(
        app.ready_db(), interview_id, outcome, app.now(), actor=app.actor()
    )
    if as_json:
        emit({"id": interview_id, "status": outcome, "cancelled": count})
    else:
        click.echo(f"interview {interview_id} closed ({outcome}); {count} follow-up(s) cancelled")


# --- schedule -------------------------------------------------------------------------------


@cli.command("schedule")
@click.option("--all", "include_all", is_flag=True, help="Also sent, failed, cancelled ...")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def schedule_cmd(app: App, include_all: bool, as_json: bool) -> None:
    """Upcoming follow-ups, soonest first."""
    from service import interviews

    rows = interviews.list_followups(app.ready_db(), include_all=include_all)
    if as_json:
        emit([formatting.followup_json(f, app.me) for f in rows])
    elif not rows:
        click.echo("Nothing scheduled." + ("" if include_all else " (--all shows past ones)"))
    else:
        click.echo(formatting.followup_rows(rows, app.settings.timezone))


# --- delivery -------------------------------------------------------------------------------


@cli.command("worker")
@click.option("--once", is_flag=True, help="Send everything due now, then exit (for cron).")
@pass_app
def worker_cmd(app: App, once: bool) -> None:
    """Send due follow-ups until stopped (SIGTERM/SIGINT finish the message in flight)."""
    from service.worker import Worker

    app.settings.require_sender()
    worker = Worker(app.settings, app.ready_db(), clock=app.now)
    if once:
        summary = worker.run_until_idle()
        click.echo(
            f"{summary.sent} sent, {summary.deferred} deferred, {summary.failed} failed, "
            f"{summary.uncertain + summary.flagged} uncertain, {summary.expired} expired"
            + (f", {summary.prepared} to review" if app.settings.review else "")
        )
        return
    worker.run_forever()


@cli.command("retry")
@click.argument("followup_ids", type=int, nargs=-1, required=True)
@pass_app
def retry_cmd(app: App, followup_ids: tuple[int, ...]) -> None:
    """Send an uncertain, failed, deferred or expired follow-up again (you decided it should go)."""
    from service import followups

    for fid in followup_ids:
        status = followups.retry(app.ready_db(), fid, app.now(), actor=app.actor())
        click.echo(f"follow-up {fid}: {status}")


@cli.command("cancel")
@click.argument("followup_ids", type=int, nargs=-1, required=True)
@pass_app
def cancel_cmd(app: App, followup_ids: tuple[int, ...]) -> None:
    """Make sure a follow-up is never sent."""
    from service import followups

    for fid in followup_ids:
        followups.cancel(app.ready_db(), fid, app.now(), actor=app.actor())
        click.echo(f"follow-up {fid}: cancelled")


@cli.command("preview")
@click.argument("followup_id", type=int)
@click.option("--raw", is_flag=True, help="The exact bytes on the wire (encoded), not decoded.")
@pass_app
def preview_cmd(app: App, followup_id: int, raw: bool) -> None:
    """Print the message that would go out, with any warnings."""
    from service import followups

    preview = followups.preview(app.settings, app.ready_db(), followup_id, app.now())
    for warning in preview.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(preview.raw if raw else preview.text)


@cli.command("send-test")
@click.option("--to", "to", help="Address to send to (default: your own, FOLLOWUP_FROM).")
@pass_app
def send_test_cmd(app: App, to: str | None) -> None:
    """Mail yourself a test message through the configured SMTP server (or the outbox)."""
    from service import followups

    click.echo(followups.send_test(app.settings, to, app.now()))


@cli.command("doctor")
@pass_app
def doctor_cmd(app: App) -> None:
    """Check configuration, database, plan, templates and SMTP; say what to fix."""
    from service import doctor

    failed = False
    for check in doctor.run_checks(app.settings, app.db):
        failed |= not check.ok
        click.echo(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
        if not check.ok and check.hint:
            click.echo(f"      hint: {check.hint}")
    if failed:
        raise SystemExit(1)


# --- review ---------------------------------------------------------------------------------


def _queue_json(item, now: datetime, me: str) -> dict:
    f = item.followup
    data = formatting.followup_json(f, me)
    data.update(
        body=f.body_text,
        html=f.body_html,
        content_hash=f.content_hash,
        queued_at=formatting.iso_utc(f.queued_at),
        waiting_seconds=int((now - f.queued_at).total_seconds()) if f.queued_at else None,
        warnings=[x.message for x in item.findings if not x.blocking],
        blocking=[x.message for x in item.findings if x.blocking],
    )
    return data


@cli.command("queue")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def queue_cmd(app: App, as_json: bool) -> None:
    """What waits for your review."""
    from service import review

    items = review.pending(app.ready_db())
    now = app.now()
    if as_json:
        emit([_queue_json(i, now, app.me) for i in items])
        return
    if not items:
        click.echo("Nothing waits for review.")
        return
    zone = app.settings.timezone
    rows = []
    for item in items:
        f = item.followup
        name, address = formatting.recipient(f, app.me)
        waited = formatting.human_delta(now - f.queued_at) if f.queued_at else "-"
        flag = (
            "BLOCKED"
            if item.blocked
            else (f"{len(item.findings)} warning(s)" if item.findings else "")
        )
        rows.append(
            [
                str(f.id),
                f"{name} <{address}>",
                f.subject or "",
                formatting.local(f.due_at, zone),
                waited,
                flag,
            ]
        )
    click.echo(
        formatting.table(["ID", "TO", "SUBJECT", f"DUE ({zone.key})", "WAITING", "CHECKS"], rows)
    )


@cli.command("approve")
@click.argument("followup_ids", type=int, nargs=-1)
@click.option("--all", "approve_all", is_flag=True, help="Approve everything in the queue.")
@pass_app
def approve_cmd(app: App, followup_ids: tuple[int, ...], approve_all: bool) -> None:
    """Approve follow-ups: exactly this text will be sent when due."""
    from service import review

    db = app.ready_db()
    if approve_all == bool(followup_ids):
        raise UsageError("give follow-up IDs or --all (see `followup queue`)")
    ids = [i.followup.id for i in review.pending(db)] if approve_all else list(followup_ids)
    failures = 0
    for fid in ids:
        try:
            review.approve(db, fid, app.now(), actor=app.actor())
            click.echo(f"follow-up {fid}: approved")
        except FollowupError as exc:
            if len(ids) == 1:
                raise
            failures += 1
            click.echo(f"follow-up {fid}: not approved: {exc}", err=True)
    if failures:
        raise SystemExit(1)


@cli.command("reject")
@click.argument("followup_ids", type=int, nargs=-1, required=True)
@pass_app
def reject_cmd(app: App, followup_ids: tuple[int, ...]) -> None:
    """Reject follow-ups: they are never sent."""
    from service import review

    for fid in followup_ids:
        review.reject(app.ready_db(), fid, app.now(), actor=app.actor())
        click.echo(f"follow-up {fid}: rejected")


def _edit(app: App, followup_id: int) -> bool:
    """Open $EDITOR on a follow-up's text; True when a change was saved."""
    from service import review

    item = review.get_item(app.ready_db(), followup_id)
    document = click.edit(review.edit_document(item.followup), extension=".txt", require_save=True)
    if document is None:
        click.echo("no change")
        return False
    parsed = review.parse_edit(document)
    if parsed is None:
        click.echo("no change")
        return False
    findings = review.save_edit(app.db, followup_id, *parsed, app.now(), actor=app.actor())
    for finding in findings:
        click.echo(f"warning: {finding.message}", err=True)
    return True


@cli.command("edit")
@click.argument("followup_id", type=int)
@pass_app
def edit_cmd(app: App, followup_id: int) -> None:
    """Edit a queued follow-up in $EDITOR; it then waits for your approval."""
    if _edit(app, followup_id):
        click.echo(
            f"follow-up {followup_id}: saved; approve it with `followup approve {followup_id}`"
        )


@cli.command("review")
@pass_app
def review_cmd(app: App) -> None:
    """Walk the review queue: approve, edit, reject, snooze or skip each follow-up."""
    from service import review
    from service.followups import preview

    db = app.ready_db()
    items = review.pending(db)
    if not items:
        click.echo("Nothing waits for review.")
        return
    for n, item in enumerate(items, 1):
        fid = item.followup.id
        while True:
            item = review.get_item(db, fid)
            if item.followup.status != "pending_review":
                click.echo(f"follow-up {fid} is now {item.followup.status}; skipping")
                break
            click.echo(f"\n=== {n}/{len(items)} " + "=" * 60)
            click.echo(preview(app.settings, db, fid, app.now()).text)
            for finding in item.findings:
                click.echo(
                    ("BLOCKS SENDING: " if finding.blocking else "warning: ") + finding.message
                )
            choice = click.prompt(
                "[a]pprove, [e]dit, [r]eject, [s]nooze, s[k]ip, [q]uit",
                type=click.Choice(["a", "e", "r", "s", "k", "q"]),
                show_choices=False,
            )
            if choice == "a":
                review.approve(
                    db, fid, app.now(), actor=app.actor(), seen_hash=item.followup.content_hash
                )
                click.echo(f"follow-up {fid}: approved")
            elif choice == "e":
                _edit(app, fid)
                continue
            elif choice == "r":
                review.reject(db, fid, app.now(), actor=app.actor())
                click.echo(f"follow-up {fid}: rejected")
            elif choice == "s":
                zone = app.settings.timezone
                when = click.prompt(f"new due time ({zone.key}, YYYY-MM-DD HH:MM)")
                from service.validation import parse_local_datetime

                review.snooze(
                    db,
                    fid,
                    parse_local_datetime(when, zone, "due time"),
                    app.now(),
                    actor=app.actor(),
                )
                click.echo(f"follow-up {fid}: snoozed")
            elif choice == "q":
                return
            break


# --- inbox (issue 10): replies, auto-replies and bounces read over IMAP ------------------------


@cli.group("inbox")
def inbox_group() -> None:
    """Read replies, auto-replies and bounces from your mailbox (read-only)."""


@inbox_group.command("check")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def inbox_check_cmd(app: App, as_json: bool) -> None:
    """Read the mailbox once now and act on what concerns an interview."""
    from service.inbox.check import check_inbox, require_imap
    from service.inbox.sent import resolve_uncertain

    imap = require_imap(app.settings)
    db = app.ready_db()
    report = check_inbox(app.settings, db, app.now(), imap=imap, actor=app.actor())
    found = resolve_uncertain(app.settings, db, app.now(), imap=imap)
    if as_json:
        emit(
            {
                "read": report.read,
                "acted": report.acted,
                "skipped": report.skipped,
                "errors": report.errors,
                "sent_copies": report.sent_copies,
                "found_in_sent": found,
            }
        )
        return
    for item in report.acted:
        actions = "; ".join(item["actions"]) or "recorded"
        click.echo(
            f"{item['folder']} UID {item['uid']}: {item['kind']} from {item['from']} "
            f"({item['subject']!r}), interview {item['interview_id']}: {actions}"
        )
        if item["hiring"] and item["hiring"] != "other":
            click.echo(f"  reads like: {item['hiring']}")
        if item["hiring"] in ("rejection", "offer"):
            outcome = "rejected" if item["hiring"] == "rejection" else "offer"
            click.echo(
                f"  if so: followup interview close {item['interview_id']} --outcome {outcome}"
            )
    for fid in found:
        click.echo(f"follow-up {fid}: found in the Sent folder, marked sent")
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    folders = ", ".join(f"{n} in {f}" for f, n in report.read.items())
    click.echo(
        f"read {report.total} new message(s) ({folders}); acted on {len(report.acted)}"
        + (f"; {report.skipped} unreadable, skipped" if report.skipped else "")
        + (f"; {report.sent_copies} copie(s) appended to Sent" if report.sent_copies else "")
    )
    if report.errors:
        raise SystemExit(1)


@inbox_group.command("classify")
@click.argument("files", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def inbox_classify_cmd(app: App, files: tuple[str, ...], as_json: bool) -> None:
    """Classify saved messages (.eml) against the database, changing nothing."""
    from service.inbox.files import classify_files

    results = classify_files(app.settings, app.ready_db(), list(files), app.now())
    if as_json:
        emit(results)
        return
    for r in results:
        extra = [f"interview {r['interview_id']}"] if r["interview_id"] else []
        extra += [f"follow-up {r['followup_id']}"] if r["followup_id"] else []
        extra += [f"hiring: {r['hiring']}"] if r["hiring"] else []
        extra += [f"back on {r['return_date']}"] if r["return_date"] else []
        extra += [f"failed: {', '.join(r['failed_recipients'])}"] if r["failed_recipients"] else []
        click.echo(f"{r['file']}: {r['kind']}" + (f" ({', '.join(extra)})" if extra else ""))
        click.echo(f"  because: {r['reason']}")


@interview_group.command("replied")
@click.argument("interview_id", type=int)
@click.option("--note", default="", help="How you heard back, e.g. 'phone call with HR'.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def interview_replied(app: App, interview_id: int, note: str, as_json: bool) -> None:
    """You heard back some other way: stop the follow-ups, as a reply by mail would."""
    from service.inbox.actions import Context
    from service.inbox.replies import record_manual_reply
    from service.validation import clean_line

    note = clean_line(note, "--note", max_len=500, required=False)
    db = app.ready_db()
    with db.transaction() as session:
        cancelled = record_manual_reply(
            session, interview_id, note, Context(app.settings, app.now(), app.actor())
        )
    if as_json:
        emit({"id": interview_id, "replied": True, "note": note, "cancelled": cancelled})
    else:
        click.echo(
            f"interview {interview_id}: reply recorded; {len(cancelled)} follow-up(s) cancelled"
        )


# --- entry point ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; errors become one line on stderr and exit 2 (usage) or 1 (failure)."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="followup", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("followup: aborted", err=True)
        sys.exit(1)
    except click.exceptions.NoSuchOption as exc:
        _fail(
            exc,
            f"{exc.format_message()} (see `{exc.ctx.command_path} --help`)"
            if exc.ctx
            else exc.format_message(),
            2,
        )
    except click.exceptions.UsageError as exc:
        where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        _fail(exc, f"{exc.format_message()}{where}", 2)
    except FollowupError as exc:
        if debug:
            raise
        _fail(exc, str(exc), exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)


def _fail(exc: Exception, message: str, code: int) -> None:
    # One line, whatever the message was made of (click lists choices on several lines).
    click.echo(f"followup: error: {' '.join(message.split())}", err=True)
    sys.exit(code)
