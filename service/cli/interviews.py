"""`followup interview ...`: record, change, list and close interviews."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from service.cli.app import ID, App, F, cli, emit, emit_stream, json_option, limit_option, pass_app

if TYPE_CHECKING:
    from service.interviews import Outcome

CONTACT_HELP = (
    'An interviewer: "Name <email>", then optionally "| title | phone", and "| topic=..." (what '
    'your thank-you to them mentions) and "| greeting=Dear Dr. Fox". Repeat for each.'
)


def interview_options(required: bool) -> Callable[[F], F]:
    """The flags shared by `interview add` and `interview update`."""

    def decorate(fn: F) -> F:
        opts = [
            click.option("--company", required=required, help="Company name."),
            click.option("--role", required=required, help="The role you interviewed for."),
            click.option(
                "--at", "at", required=required, help='Start, local to --tz: "YYYY-MM-DD HH:MM".'
            ),
            click.option(
                "--tz", required=required, help="The interview's (and recipients') IANA time zone."
            ),
            click.option("--duration", help="Length with a unit, e.g. 45m or 1h (default 60m)."),
            click.option("--location", help="Where, or how: onsite address, video, phone."),
            click.option("--contact", "contacts", multiple=True, help=CONTACT_HELP),
            click.option(
                "--topic",
                "topics",
                multiple=True,
                help="What the thank-you to one contact mentions: 'address=the move to event "
                "sourcing'. Repeat for each.",
            ),
            click.option(
                "--greeting",
                "greetings",
                multiple=True,
                help="How to greet one contact: 'address=Dear Dr. Fox'. Repeat for each.",
            ),
            click.option(
                "--notes",
                help="Your private notes. They appear only in reminders to you, never in mail "
                "to anyone else.",
            ),
            click.option(
                "--question",
                "questions",
                multiple=True,
                help="A question you did not get to ask. Repeat for each.",
            ),
            click.option("--decision-date", help="When they said they would decide: YYYY-MM-DD."),
            click.option(
                "--language",
                help="The language its follow-ups are written in: en, de, fr, es (or another "
                "code with your own templates). Default: FOLLOWUP_LANGUAGE; 'default' resets.",
            ),
            json_option,
        ]
        for opt in reversed(opts):
            fn = opt(fn)
        return fn

    return decorate


@cli.group("interview")
def interview_group() -> None:
    """Record interviews and see their follow-ups."""


def _show(app: App, interview_id: int, as_json: bool, outcome: Outcome | None = None) -> None:
    from service import formatting, interviews

    interview, followups = interviews.get_interview(app.db, interview_id)
    replies = interviews.replies(app.db, interview_id)
    if as_json:
        data = formatting.interview_json(interview, followups, app.me, app.rule)
        data["replies"] = [formatting.reply_json(r) for r in replies]
        if outcome is not None:
            data["changes"] = [formatting.change_json(c) for c in outcome.changes]
            data["warnings"] = outcome.warnings
        emit(data)
    else:
        zone = app.settings.timezone
        click.echo(formatting.interview_text(interview, followups, zone, app.rule))
        for reply in replies:
            click.echo(formatting.reply_text(reply, zone))


def _report(app: App, outcome: Outcome, *, heading: str) -> None:
    """What the command did to the schedule, and anything the user should know, on stderr."""
    for warning in outcome.warnings:
        click.echo(f"warning: {warning}", err=True)
    if outcome.changes:
        click.echo(heading, err=True)
        for change in outcome.changes:
            click.echo("  " + change.describe(app.settings.timezone), err=True)


@interview_group.command("add")
@interview_options(required=True)
@pass_app
def interview_add(app: App, as_json: bool, **fields: Any) -> None:
    """Record an interview and plan its follow-ups."""
    from service import interviews, planner

    data = interviews.parse_input(**fields)
    db = app.ready_db()
    outcome = interviews.add_interview(
        db, planner.Planner(app.settings), data, app.now(), actor=app.actor()
    )
    for warning in outcome.warnings:
        click.echo(f"warning: {warning}", err=True)
    _show(app, outcome.interview_id, as_json, outcome)


@interview_group.command("update")
@click.argument("interview_id", type=ID)
@interview_options(required=False)
@click.option(
    "--add-contact", "add_contacts", multiple=True, help="Add a contact (as --contact). Repeat."
)
@click.option(
    "--remove-contact",
    "remove_contacts",
    multiple=True,
    help="Remove the contact with this address; their unsent follow-ups are cancelled. Repeat.",
)
@click.option("--clear-questions", is_flag=True, help="Forget the recorded questions.")
@click.option(
    "--dry-run", is_flag=True, help="Show what would change in the schedule; change nothing."
)
@pass_app
def interview_update(
    app: App,
    interview_id: int,
    as_json: bool,
    contacts: tuple[str, ...],
    questions: tuple[str, ...],
    clear_questions: bool,
    dry_run: bool,
    **fields: Any,
) -> None:
    """Change an interview; its pending follow-ups are re-timed to match, and it says how.

    --contact replaces all contacts (use --add-contact and --remove-contact to change one).
    """
    from service import formatting, interviews, planner

    db = app.ready_db()
    existing, _ = interviews.get_interview(db, interview_id)
    data = interviews.parse_input(
        contacts=contacts or None,
        questions=[] if clear_questions else (questions or None),
        existing=existing,
        **fields,
    )
    outcome = interviews.update_interview(
        db,
        planner.Planner(app.settings),
        interview_id,
        data,
        app.now(),
        actor=app.actor(),
        dry_run=dry_run,
    )
    if dry_run:
        if as_json:
            emit(
                {
                    "id": interview_id,
                    "dry_run": True,
                    "changes": [formatting.change_json(c) for c in outcome.changes],
                    "warnings": outcome.warnings,
                }
            )
            return
        _report(app, outcome, heading="would change the schedule (nothing was written):")
        if not outcome.changes:
            click.echo("the schedule would not change (nothing was written)")
        return
    _report(app, outcome, heading="schedule changes:")
    _refresh_review(app, interview_id)
    _show(app, interview_id, as_json, outcome)


def _refresh_review(app: App, interview_id: int) -> None:
    """Queued or approved text that the change affects goes back to review."""
    from service import review
    from service.errors import UsageError
    from service.rendering import templates_for

    try:
        me = app.settings.require_sender()
    except UsageError:
        return  # nothing can be rendered or sent until FOLLOWUP_FROM is fixed
    count = review.refresh_interview(
        app.db,
        templates_for(app.settings),
        me,
        interview_id,
        app.now(),
        actor=app.actor(),
    )
    if count:
        click.echo(
            f"{count} follow-up(s) changed and went back to review: see `followup queue`", err=True
        )


@interview_group.command("show")
@click.argument("interview_id", type=ID)
@json_option
@pass_app
def interview_show(app: App, interview_id: int, as_json: bool) -> None:
    """Show an interview and all its follow-ups."""
    app.ready_db()
    _show(app, interview_id, as_json)


@interview_group.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["active", "offer", "rejected", "withdrawn", "cancelled"]),
    help="Only interviews in this state (repeat for several).",
)
@limit_option
@json_option
@pass_app
def interview_list(app: App, statuses: tuple[str, ...], limit: int | None, as_json: bool) -> None:
    """List interviews, oldest first."""
    from service import formatting, listings

    rows = listings.interviews(app.ready_db(), statuses=statuses or None, limit=limit)
    if as_json:
        me = app.me
        emit_stream(formatting.interview_json(i, None, me) for i in rows)
        return
    listed = list(rows)
    if not listed:
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
                    str(len(i.contacts)),
                    i.status,
                ]
                for i in listed
            ],
        )
    )


@interview_group.command("close")
@click.argument("interview_id", type=ID)
@click.option(
    "--outcome",
    required=True,
    type=click.Choice(["offer", "rejected", "withdrawn", "cancelled"]),
    help="How it ended.",
)
@json_option
@pass_app
def interview_close(app: App, interview_id: int, outcome: str, as_json: bool) -> None:
    """Close an interview; follow-ups that have not gone out are cancelled."""
    from service import interviews

    closed = interviews.close_interview(
        app.ready_db(),
        interview_id,
        outcome,
        app.now(),
        actor=app.actor(),
        zone=app.settings.timezone,
    )
    if as_json:
        emit(
            {
                "id": interview_id,
                "status": outcome,
                "cancelled": closed.cancelled,
                "on_the_wire": closed.on_the_wire,
            }
        )
        return
    click.echo(
        f"interview {interview_id} closed ({outcome}); {closed.cancelled} follow-up(s) cancelled"
    )
    for note in closed.notes:
        click.echo(f"{note}: it was not stopped (see `followup schedule --all`)", err=True)
