"""Interviews in the browser: the list, one interview with its follow-ups and their events, the
add and edit forms (checked by `interviews.parse_input`, as the CLI's flags are) and closing."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.errors import FollowupError, StateConflict, UsageError
from service.web.app import RecordId, Web, logged_in, web_of

if TYPE_CHECKING:
    from service.models import Contact, Interview

router = APIRouter(include_in_schema=False, dependencies=[Depends(logged_in)])

#: The form's fields, as `interview add` names them.
FIELDS = (
    "company", "role", "at", "tz", "duration", "location", "contacts", "notes", "questions",
    "decision_date", "language",
)  # fmt: skip
#: Which form field a CLI flag in an error message stands for.
FLAG_FIELDS = {
    "company": "company",
    "role": "role",
    "at": "at",
    "tz": "tz",
    "duration": "duration",
    "location": "location",
    "contact": "contacts",
    "add-contact": "contacts",
    "remove-contact": "contacts",
    "topic": "contacts",
    "greeting": "contacts",
    "notes": "notes",
    "question": "questions",
    "decision-date": "decision_date",
    "language": "language",
    "outcome": "outcome",
}
_FLAG = re.compile(r"--([a-z-]+)")


async def interview_form(request: Request) -> dict[str, str]:
    """The add and edit forms' fields as typed (one missing from the post is empty)."""
    form = await request.form()
    return {name: str(form.get(name, "")) for name in FIELDS}


def field_of(message: str) -> str | None:
    """The field an error message of `parse_input` is about (it names the CLI's flag)."""
    for flag in _FLAG.findall(message):
        if flag in FLAG_FIELDS:
            return FLAG_FIELDS[flag]
    return None


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


def contact_spec(c: Contact) -> str:
    """A contact as `--contact` writes it."""
    parts = [f"{c.name} <{c.email}>"]
    for key in ("title", "phone", "topic", "greeting"):
        value = getattr(c, key) or ""
        if value:
            parts.append(f"{key}={value}")
    return " | ".join(parts)


def current_values(interview: Interview) -> dict[str, str]:
    """An interview as its edit form shows it."""
    zone = ZoneInfo(interview.timezone)
    return {
        "company": interview.company,
        "role": interview.role,
        "at": interview.starts_at.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
        "tz": interview.timezone,
        "duration": f"{interview.duration_minutes}m",
        "location": interview.location or "",
        "contacts": "\n".join(contact_spec(c) for c in interview.contacts if not c.removed),
        "notes": interview.notes or "",
        "questions": "\n".join(interview.questions or []),
        "decision_date": interview.decision_date.isoformat() if interview.decision_date else "",
        "language": interview.language or "",
    }


def form_page(
    web: Web,
    request: Request,
    values: dict,
    *,
    interview: Interview | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    errors = {}
    general = None
    if error is not None:
        where = field_of(error)
        if where:
            errors[where] = error
        else:
            general = error
    return web.render(
        request,
        "interview_form.html",
        status=status,
        interview=interview,
        values=values,
        errors=errors,
        general=general,
    )


@router.get("/interviews")
def interview_list(request: Request) -> Response:
    from service import listings
    from service.models import LIVE

    web = web_of(request)
    following: dict[int, object] = {}
    for f in listings.followups(web.db, statuses=LIVE):
        if f.interview_id is not None and f.kind == "followup":
            following.setdefault(f.interview_id, f)
    return web.render(
        request,
        "interviews.html",
        interviews=list(listings.interviews(web.db)),
        following=following,
    )


@router.get("/interviews/new")
def new_page(request: Request) -> Response:
    web = web_of(request)
    values = dict.fromkeys(FIELDS, "") | {"tz": web.settings.timezone.key, "duration": "60m"}
    return form_page(web, request, values)


@router.post("/interviews/new")
def add(
    request: Request,
    values: dict[str, str] = Depends(interview_form),
) -> Response:
    """Record an interview; on any error nothing is written and the form comes back."""
    from service import interviews, planner

    web = web_of(request)
    try:
        data = interviews.parse_input(
            company=values["company"],
            role=values["role"],
            at=values["at"] or None,
            tz=values["tz"] or None,
            duration=values["duration"] or None,
            location=values["location"] or None,
            notes=values["notes"] or None,
            questions=lines(values["questions"]),
            decision_date=values["decision_date"] or None,
            contacts=lines(values["contacts"]),
            language=values["language"].strip() or None,
        )
        outcome = interviews.add_interview(
            web.db, planner.Planner(web.settings), data, web.now(), actor=web.actor()
        )
    except FollowupError as exc:
        return form_page(web, request, values, error=str(exc), status=422)
    for warning in outcome.warnings:
        web.flash(request, warning, "warning")
    web.flash(request, f"Interview {outcome.interview_id} recorded: its follow-ups are below.")
    return RedirectResponse(f"/interviews/{outcome.interview_id}", status_code=303)


@router.get("/interviews/{interview_id}")
def detail(request: Request, interview_id: RecordId) -> Response:
    from service import history, interviews

    web = web_of(request)
    interview, followups = interviews.get_interview(web.db, interview_id)
    events = history.events_of(
        web.db, followup_ids=[f.id for f in followups], interview_id=interview_id
    )
    return web.render(
        request,
        "interview.html",
        i=interview,
        followups=followups,
        events=events,
        replies=interviews.replies(web.db, interview_id),
        me=web.me,
        rule=web.rule,
    )


@router.get("/interviews/{interview_id}/edit")
def edit_page(request: Request, interview_id: RecordId) -> Response:
    from service import interviews

    web = web_of(request)
    interview, _f = interviews.get_interview(web.db, interview_id)
    return form_page(web, request, current_values(interview), interview=interview)


@router.post("/interviews/{interview_id}/edit")
def edit(
    request: Request,
    interview_id: RecordId,
    values: dict[str, str] = Depends(interview_form),
) -> Response:
    """Change what the form changed; the follow-ups are re-timed and the page says how."""
    from service import interviews, planner, review
    from service.rendering import templates_for

    web = web_of(request)
    interview, _f = interviews.get_interview(web.db, interview_id)
    now = current_values(interview)
    changed = {k for k in FIELDS if values[k].replace("\r\n", "\n").strip() != now[k].strip()}
    try:
        data = interviews.parse_input(
            existing=interview,
            **{k: values[k] for k in ("company", "role", "location", "notes") if k in changed},
            at=values["at"] if {"at", "tz"} & changed else None,
            tz=values["tz"] if "tz" in changed else None,
            duration=values["duration"] if "duration" in changed else None,
            contacts=lines(values["contacts"]) if "contacts" in changed else None,
            questions=lines(values["questions"]) if "questions" in changed else None,
            decision_date=(values["decision_date"] or "none")
            if "decision_date" in changed
            else None,
            language=(values["language"].strip() or "default") if "language" in changed else None,
        )
        outcome = interviews.update_interview(
            web.db, planner.Planner(web.settings), interview_id, data, web.now(), actor=web.actor()
        )
    except FollowupError as exc:
        status = 409 if isinstance(exc, StateConflict) else 422  # e.g. a follow-up on its way
        return form_page(web, request, values, interview=interview, error=str(exc), status=status)
    for warning in outcome.warnings:
        web.flash(request, warning, "warning")
    for change in outcome.changes:
        web.flash(request, change.describe(web.settings.timezone), "change")
    try:
        me = web.settings.require_sender()
    except UsageError:
        me = None  # nothing can be rendered until FOLLOWUP_FROM is fixed
    if me is not None:
        count = review.refresh_interview(
            web.db, templates_for(web.settings), me, interview_id, web.now(), actor=web.actor()
        )
        if count:
            web.flash(request, f"{count} follow-up(s) changed and went back to review.", "warning")
    web.flash(request, f"Interview {interview_id} saved.")
    return RedirectResponse(f"/interviews/{interview_id}", status_code=303)


@router.post("/interviews/{interview_id}/close")
def close(
    request: Request,
    interview_id: RecordId,
    outcome: str = Form(""),
) -> Response:
    from service import interviews

    web = web_of(request)
    try:
        closed = interviews.close_interview(
            web.db, interview_id, outcome, web.now(), actor=web.actor(), zone=web.settings.timezone
        )
    except FollowupError as exc:
        web.flash(request, str(exc), "error")
    else:
        web.flash(
            request,
            f"Interview {interview_id} closed ({outcome}); {closed.cancelled} follow-up(s) "
            "cancelled.",
        )
        for note in closed.notes:
            web.flash(request, f"{note[0].upper()}{note[1:]}: it was not stopped.", "warning")
    return RedirectResponse(f"/interviews/{interview_id}", status_code=303)
