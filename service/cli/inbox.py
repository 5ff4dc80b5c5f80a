"""`followup inbox check|classify|count-as-reply` and `followup interview replied`: the mailbox,
read-only."""

from __future__ import annotations

import click

from service.cli.app import ID, App, cli, emit, json_option, pass_app
from service.cli.interviews import interview_group


@cli.group("inbox")
def inbox_group() -> None:
    """Read replies, auto-replies and bounces from your mailbox (read-only)."""


@inbox_group.command("check")
@json_option
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
        if not item["acted"]:
            click.echo(f"  acts: no \u2014 {item['why']}")
            if item["kind"] == "reply":
                click.echo(
                    f"  to count it as a reply: followup inbox count-as-reply {item['inbox_id']}"
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
@json_option
@pass_app
def inbox_classify_cmd(app: App, files: tuple[str, ...], as_json: bool) -> None:
    """Classify saved messages (.eml) against the database, changing nothing.

    Every file gets a result; one that cannot be read gets the kind `error`, and the exit code
    is then 1."""
    from service.inbox.files import ERROR, classify_files

    results = classify_files(app.settings, app.ready_db(), list(files), app.now())
    failed = sum(r["kind"] == ERROR for r in results)
    if as_json:
        emit(results)
    else:
        _print_classified(results)
    if failed:
        from service.errors import FollowupError

        raise FollowupError(
            f"{failed} of {len(results)} file(s) could not be read: see their `error` results"
        )


def _print_classified(results: list[dict]) -> None:
    for r in results:
        extra = [f"interview {r['interview_id']}"] if r["interview_id"] else []
        extra += [f"follow-up {r['followup_id']}"] if r["followup_id"] else []
        extra += [f"hiring: {r['hiring']}"] if r["hiring"] else []
        extra += [f"back on {r['return_date']}"] if r["return_date"] else []
        extra += [f"failed: {', '.join(r['failed_recipients'])}"] if r["failed_recipients"] else []
        click.echo(f"{r['file']}: {r['kind']}" + (f" ({', '.join(extra)})" if extra else ""))
        click.echo(f"  because: {r['reason']}")
        if r["kind"] != "error":
            click.echo(f"  acts: {'yes' if r['acted'] else 'no'} \u2014 {r['why']}")


@inbox_group.command("count-as-reply")
@click.argument("inbox_id", metavar="ID", type=ID)
@json_option
@pass_app
def inbox_count_as_reply_cmd(app: App, inbox_id: int, as_json: bool) -> None:
    """Count an answer to check (from someone outside the interview's side) as a reply."""
    from service.inbox.actions import Context
    from service.inbox.replies import count_as_reply

    db = app.ready_db()
    with db.transaction() as session:
        row, cancelled = count_as_reply(
            session, inbox_id, Context(app.settings, app.now(), app.actor())
        )
        interview_id, sender = row.interview_id, row.sender
    if as_json:
        emit(
            {
                "id": inbox_id,
                "interview_id": interview_id,
                "sender": sender,
                "counted": True,
                "cancelled": cancelled,
            }
        )
    else:
        click.echo(
            f"inbox message {inbox_id}: counted as a reply from {sender}; "
            f"{len(cancelled)} follow-up(s) of interview {interview_id} cancelled; "
            f"{sender}'s next message about it acts by itself"
        )


@interview_group.command("replied")
@click.argument("interview_id", type=ID)
@click.option("--note", default="", help="How you heard back, e.g. 'phone call with HR'.")
@json_option
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
