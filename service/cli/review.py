"""`followup queue|review|approve|reject|edit|snooze`: the review queue."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click

from service.cli.app import ID, App, cli, emit, json_option, pass_app
from service.errors import FollowupError, UsageError

if TYPE_CHECKING:
    from service.review import QueueItem


def _queue_json(item: QueueItem, now: datetime, me: str) -> dict:
    from service import formatting

    f = item.followup
    from service.listings import Listed

    data = formatting.followup_json(Listed.of(f), me, None)
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
@json_option
@pass_app
def queue_cmd(app: App, as_json: bool) -> None:
    """What waits for your review."""
    from service import formatting, review
    from service.listings import Listed

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
        name, address = formatting.recipient(Listed.of(f), app.me)
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
    for item in items:
        for finding in item.findings:
            label = "BLOCKS SENDING" if finding.blocking else "warning"
            click.echo(f"  #{item.followup.id} {label}: {finding.message}")


@cli.command("approve")
@click.argument("followup_ids", type=ID, nargs=-1)
@click.option("--all", "approve_all", is_flag=True, help="Approve everything in the queue.")
@click.option(
    "--force", is_flag=True, help="With --all: approve follow-ups that carry warnings too."
)
@pass_app
def approve_cmd(app: App, followup_ids: tuple[int, ...], approve_all: bool, force: bool) -> None:
    """Approve follow-ups: exactly this text will be sent when due.

    --all approves only follow-ups without warnings; it lists the others, to read one by one
    (or to approve anyway with --force). Follow-ups whose text blocks sending are never approved.
    """
    from service import review

    db = app.ready_db()
    if approve_all == bool(followup_ids):
        raise UsageError("give follow-up IDs or --all (see `followup queue`)")
    seen: dict[int, str | None]  # the text each was checked with (--all), to approve only it
    if approve_all:
        items = review.pending(db)
        approvable, held = review.split_for_approve_all(items, force)
        for item in held:
            reasons = "; ".join(f.message for f in item.findings)
            click.echo(
                f"follow-up {item.followup.id}: not approved, it has warnings: {reasons}", err=True
            )
        seen = {i.followup.id: i.followup.content_hash for i in approvable}
        if held:
            click.echo(
                f"{len(held)} follow-up(s) with warnings were left in the queue: read them with "
                "`followup review`, approve one by one with `followup approve ID`"
                + ("" if force else ", or all at once with `followup approve --all --force`"),
                err=True,
            )
    else:
        seen = dict.fromkeys(followup_ids)
    failures = 0
    for fid, seen_hash in seen.items():
        try:
            review.approve(
                db,
                fid,
                app.now(),
                actor=app.actor(),
                seen_hash=seen_hash,
                zone=app.settings.timezone,
            )
            click.echo(f"follow-up {fid}: approved")
        except review.TextChanged:
            failures += 1
            click.echo(
                f"follow-up {fid}: not approved: its text changed after its checks were read; "
                "review it again",
                err=True,
            )
        except FollowupError as exc:
            if len(seen) == 1:
                raise
            failures += 1
            click.echo(f"follow-up {fid}: not approved: {exc}", err=True)
    if failures:
        raise SystemExit(2)


@cli.command("reject")
@click.argument("followup_ids", type=ID, nargs=-1, required=True)
@pass_app
def reject_cmd(app: App, followup_ids: tuple[int, ...]) -> None:
    """Reject follow-ups: they are never sent."""
    from service import review

    for fid in followup_ids:
        review.reject(app.ready_db(), fid, app.now(), actor=app.actor(), zone=app.settings.timezone)
        click.echo(f"follow-up {fid}: rejected")


def _edit(app: App, followup_id: int) -> bool:
    """Open $EDITOR on a follow-up's text; True when a change was saved."""
    from service import review

    item = review.get_item(app.ready_db(), followup_id)
    try:
        document = click.edit(
            review.edit_document(item.followup), extension=".txt", require_save=True
        )
    except click.ClickException as exc:  # the editor could not start or exited with an error
        raise UsageError(
            f"the editor failed ({exc.format_message()}): nothing was changed; set $EDITOR "
            "to an editor that works, e.g. EDITOR=nano"
        ) from None
    except UnicodeDecodeError:
        raise UsageError(
            "the edited text is not UTF-8: nothing was changed; save the file as UTF-8"
        ) from None
    if document is None:
        click.echo("no change")
        return False
    parsed = review.parse_edit(document)
    if parsed is None:
        click.echo("no change")
        return False
    findings = review.save_edit(
        app.db, followup_id, *parsed, app.now(), actor=app.actor(), zone=app.settings.timezone
    )
    for finding in findings:
        click.echo(f"warning: {finding.message}", err=True)
    return True


@cli.command("edit")
@click.argument("followup_id", type=ID)
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
    zone = app.settings.timezone
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
                    db,
                    fid,
                    app.now(),
                    actor=app.actor(),
                    seen_hash=item.followup.content_hash,
                    zone=app.settings.timezone,
                )
                click.echo(f"follow-up {fid}: approved")
            elif choice == "e":
                _edit(app, fid)
                continue
            elif choice == "r":
                review.reject(db, fid, app.now(), actor=app.actor(), zone=zone)
                click.echo(f"follow-up {fid}: rejected")
            elif choice == "s":
                when = click.prompt(f"new due time ({zone.key}, YYYY-MM-DD HH:MM)")
                from service.validation import parse_local_datetime

                review.snooze(
                    db,
                    fid,
                    parse_local_datetime(when, zone, "due time"),
                    app.now(),
                    actor=app.actor(),
                    zone=zone,
                )
                click.echo(f"follow-up {fid}: snoozed")
            elif choice == "q":
                return
            break
