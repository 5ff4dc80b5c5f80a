"""The JSON API under /api/v1, for scripts: the CLI's functions and rules behind a bearer token
(FOLLOWUP_API_TOKEN). Errors are JSON: {"errors": [{"field": ..., "reason": ...}]} with 422 for
bad input, 404 for an unknown id, 409 for a record whose state does not allow the request."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.errors import NotFound, StateConflict, UsageError
from service.validation import MAX_ID, parse_id
from service.web.app import RecordId, Web, web_of
from service.web.interview_pages import field_of
from service.web.security import token_problem

if TYPE_CHECKING:
    from service.interviews import Outcome

bearer = HTTPBearer(auto_error=False, description="FOLLOWUP_API_TOKEN")


class Unauthorized(Exception):
    def __init__(self, reason: str):
        self.reason = reason


def authorized(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Web:
    """The token, checked again (service/web/limits.py checked it before the body was read)."""
    web = web_of(request)
    given = f"Bearer {credentials.credentials}" if credentials is not None else None
    problem = token_problem(web.settings.web.api_token, given)
    if problem is not None:
        raise Unauthorized(problem)
    return web


#: Validation errors listed in one answer (a list of 100,000 wrong items is not 100,000 lines).
MAX_ERRORS = 10
#: Fields named at the start of an error message of the API's own checks.
API_FIELDS = ("subject", "body", "cursor", "since", "status")

router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorized)], tags=["followup"])


def error_response(exc: Exception) -> JSONResponse:
    status = 422
    if isinstance(exc, NotFound):
        status = 404
    elif isinstance(exc, StateConflict):
        status = 409
    elif not isinstance(exc, UsageError):
        status = 500
    message = str(exc)
    field = field_of(message)
    if field is None:
        word = message.split(":", 1)[0].split(" ", 1)[0]
        field = word if word in API_FIELDS else None
    return JSONResponse({"errors": [{"field": field, "reason": message}]}, status)


def install_errors(app: FastAPI) -> None:
    @app.exception_handler(Unauthorized)
    async def unauthorized(_request: Request, exc: Unauthorized) -> Response:
        return JSONResponse(
            {"errors": [{"field": None, "reason": exc.reason}]},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if not request.url.path.startswith("/api/"):
            return web_of(request).render(
                request,
                "message.html",
                status=422,
                title="Not done",
                message="That address or form is not valid: go back and try again.",
            )
        errors = [
            {"field": str(e["loc"][-1]) if e.get("loc") else None, "reason": e["msg"]}
            for e in exc.errors()[:MAX_ERRORS]
        ]
        return JSONResponse({"errors": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """The API's errors in its own form (a body that is not JSON, nested too deep, an
        unknown path); the pages' as FastAPI answers them."""
        if not request.url.path.startswith("/api/"):
            return await http_exception_handler(request, exc)
        reason = str(exc.detail).splitlines()[0] if exc.detail else "refused"
        body = {"errors": [{"field": None, "reason": reason}]}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(data, ensure_ascii=False), status_code=status, media_type="application/json"
    )


# --- interviews --------------------------------------------------------------------------------


class InterviewIn(BaseModel):
    """The fields of `followup interview add` (times local to `tz`: "YYYY-MM-DD HH:MM")."""

    company: str | None = None
    role: str | None = None
    at: str | None = None
    tz: str | None = None
    duration: str | None = Field(None, examples=["45m"])
    location: str | None = None
    contacts: list[str] | None = Field(
        None, examples=[["Jane Roe <jane@acme.example> | Engineering Manager | topic=..."]]
    )
    notes: str | None = None
    questions: list[str] | None = None
    decision_date: str | None = Field(None, examples=["2026-09-18"])
    topics: list[str] = Field(default_factory=list, examples=[["jane@acme.example=on-call"]])
    greetings: list[str] = Field(default_factory=list)
    language: str | None = Field(None, examples=["de"])


class InterviewChange(InterviewIn):
    """What to change (absent: unchanged); `contacts` replaces them all."""

    add_contacts: list[str] = Field(default_factory=list)
    remove_contacts: list[str] = Field(default_factory=list)
    dry_run: bool = False


class Close(BaseModel):
    outcome: str = Field(examples=["offer", "rejected", "withdrawn"])


def _interview(web: Web, interview_id: int, outcome: Outcome | None = None) -> dict:
    from service import formatting, interviews

    interview, followups = interviews.get_interview(web.db, interview_id)
    data = formatting.interview_json(interview, followups, web.me, web.rule)
    data["replies"] = [formatting.reply_json(r) for r in interviews.replies(web.db, interview_id)]
    if outcome is not None:
        data["changes"] = [formatting.change_json(c) for c in outcome.changes]
        data["warnings"] = outcome.warnings
    return data


@router.get("/interviews")
def list_interviews(
    request: Request,
    status: list[str] | None = Query(None, description="active, offer, rejected, withdrawn"),
    limit: int | None = Query(None, ge=1, le=100_000),
) -> Response:
    from service import formatting, listings

    web = web_of(request)
    rows = listings.interviews(web.db, statuses=status or None, limit=limit)
    return _json({"items": [formatting.interview_json(i, None, web.me) for i in rows]})


@router.post("/interviews", status_code=201)
def create_interview(request: Request, body: InterviewIn) -> Response:
    from service import interviews, planner

    web = web_of(request)
    data = interviews.parse_input(**body.model_dump())
    outcome = interviews.add_interview(
        web.db, planner.Planner(web.settings), data, web.now(), actor=web.actor("api")
    )
    return _json(_interview(web, outcome.interview_id, outcome), 201)


@router.get("/interviews/{interview_id}")
def get_interview(request: Request, interview_id: RecordId) -> Response:
    return _json(_interview(web_of(request), interview_id))


@router.patch("/interviews/{interview_id}")
def update_interview(request: Request, interview_id: RecordId, body: InterviewChange) -> Response:
    from service import formatting, interviews, planner, review
    from service.rendering import templates_for

    web = web_of(request)
    existing, _ = interviews.get_interview(web.db, interview_id)
    fields = body.model_dump(exclude={"dry_run"})
    data = interviews.parse_input(existing=existing, **fields)
    outcome = interviews.update_interview(
        web.db,
        planner.Planner(web.settings),
        interview_id,
        data,
        web.now(),
        actor=web.actor("api"),
        dry_run=body.dry_run,
    )
    if body.dry_run:
        return _json(
            {
                "id": interview_id,
                "dry_run": True,
                "changes": [formatting.change_json(c) for c in outcome.changes],
                "warnings": outcome.warnings,
            }
        )
    try:
        me = web.settings.require_sender()
    except UsageError:
        me = None
    if me is not None:
        review.refresh_interview(
            web.db, templates_for(web.settings), me, interview_id, web.now(), actor=web.actor("api")
        )
    return _json(_interview(web, interview_id, outcome))


@router.post("/interviews/{interview_id}/close")
def close_interview(request: Request, interview_id: RecordId, body: Close) -> Response:
    from service import interviews

    web = web_of(request)
    closed = interviews.close_interview(
        web.db,
        interview_id,
        body.outcome,
        web.now(),
        actor=web.actor("api"),
        zone=web.settings.timezone,
    )
    return _json(
        {
            "id": interview_id,
            "status": body.outcome,
            "cancelled": closed.cancelled,
            "on_the_wire": closed.on_the_wire,
            "warnings": closed.notes,
        }
    )


# --- follow-ups --------------------------------------------------------------------------------


def _cursor(due: datetime, followup_id: int) -> str:
    raw = f"{due.isoformat()}|{followup_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        due, _, fid = raw.partition("|")
        moment = datetime.fromisoformat(due)
        if moment.tzinfo is None:
            raise ValueError
        return moment, parse_id(fid, "cursor")
    except (ValueError, UsageError):
        raise UsageError("cursor: not a cursor this API gave: use the `next` of a page") from None


def _since(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise UsageError(
            f"since {value!r}: give an ISO 8601 time with its zone, e.g. 2026-09-01T00:00:00Z"
        )
    return moment


@router.get("/followups")
def list_followups(
    request: Request,
    status: list[str] | None = Query(None, description="repeat for several; absent: all"),
    interview_id: int | None = Query(None, ge=1, le=MAX_ID),
    since: str | None = Query(None, description="due at or after, ISO 8601 with zone"),
    limit: int = Query(100, ge=1, le=10_000),
    cursor: str | None = Query(None, description="the `next` of the previous page"),
) -> Response:
    """Follow-ups by due time, a page at a time; `next` is the cursor of the following page."""
    from service import formatting, listings
    from service.models import Status

    web = web_of(request)
    unknown = sorted(set(status or ()) - {s.value for s in Status})
    if unknown:
        raise UsageError(f"status {unknown[0]!r} is not a status: use one of {', '.join(Status)}")
    rows = list(
        listings.followups(
            web.db,
            statuses=status or None,
            interview_id=interview_id,
            since=_since(since) if since else None,
            limit=limit + 1,
            after=_after(cursor) if cursor else None,
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    me, rule = web.me, web.rule
    items = [formatting.followup_json(f, me, rule) for f in rows]
    following = _cursor(rows[-1].due_at, rows[-1].id) if more else None
    return _json({"items": items, "next": following})


def _followup(web: Web, followup_id: int) -> dict:
    from service import formatting, history, review
    from service.listings import Listed

    item = review.get_item(web.db, followup_id)
    f = item.followup
    data = formatting.followup_json(Listed.of(f), web.me, web.rule)
    data.update(
        body=f.body_text,
        html=f.body_html,
        content_hash=f.content_hash,
        # The message exactly as it went out (headers and body, CRLF): sending, sent,
        # uncertain, bounced; null before (or when it was too large to keep).
        sent_raw=f.sent_bytes.decode("utf-8") if f.sent_bytes is not None else None,
        warnings=[x.message for x in item.findings if not x.blocking],
        blocking=[x.message for x in item.findings if x.blocking],
        events=[
            {
                "at": formatting.iso_utc(e.at),
                "kind": e.kind,
                "from": e.from_status,
                "to": e.to_status,
                "actor": e.actor,
                "detail": e.detail,
            }
            for e in history.events_of(web.db, followup_ids=[followup_id]).get(followup_id, [])
        ],
    )
    return data


@router.get("/followups/{followup_id}")
def get_followup(request: Request, followup_id: RecordId) -> Response:
    return _json(_followup(web_of(request), followup_id))


class Approval(BaseModel):
    """Optional: the content_hash of the text you read; approval fails if it changed since."""

    content_hash: str | None = None


@router.post("/followups/{followup_id}/approve")
def approve(request: Request, followup_id: RecordId, body: Approval | None = None) -> Response:
    from service import review

    web = web_of(request)
    seen = body.content_hash if body else None
    review.approve(
        web.db,
        followup_id,
        web.now(),
        actor=web.actor("api"),
        seen_hash=seen,
        zone=web.settings.timezone,
    )
    return _json(_followup(web, followup_id))


@router.post("/followups/{followup_id}/reject")
def reject(request: Request, followup_id: RecordId) -> Response:
    from service import review

    web = web_of(request)
    review.reject(
        web.db, followup_id, web.now(), actor=web.actor("api"), zone=web.settings.timezone
    )
    return _json(_followup(web, followup_id))


class Text(BaseModel):
    subject: str
    body: str


@router.put("/followups/{followup_id}/text")
def edit(request: Request, followup_id: RecordId, text: Text) -> Response:
    """Replace the text (checked as `followup edit` checks it); it then waits for approval."""
    from service import review

    web = web_of(request)
    if "\n" in text.subject or "\r" in text.subject:
        raise UsageError("subject: it must be one line")
    parsed = review.parse_edit(f"Subject: {text.subject}\n\n{text.body}")
    if parsed is None:
        raise UsageError("body: the message is empty")
    review.save_edit(
        web.db,
        followup_id,
        *parsed,
        web.now(),
        actor=web.actor("api"),
        zone=web.settings.timezone,
    )
    return _json(_followup(web, followup_id))


@router.post("/followups/{followup_id}/retry")
def retry(request: Request, followup_id: RecordId) -> Response:
    from service import followups

    web = web_of(request)
    followups.retry(
        web.db, followup_id, web.now(), actor=web.actor("api"), zone=web.settings.timezone
    )
    return _json(_followup(web, followup_id))


@router.post("/followups/{followup_id}/cancel")
def cancel(request: Request, followup_id: RecordId) -> Response:
    from service import followups

    web = web_of(request)
    followups.cancel(
        web.db, followup_id, web.now(), actor=web.actor("api"), zone=web.settings.timezone
    )
    return _json(_followup(web, followup_id))


# --- the inbox ---------------------------------------------------------------------------------


@router.post("/inbox/{inbox_id}/count-as-reply")
def count_as_reply(request: Request, inbox_id: RecordId) -> Response:
    """An answer to check (`to_check`) counts as a reply; its sender's next message acts."""
    from service.inbox.actions import Context
    from service.inbox.replies import count_as_reply

    web = web_of(request)
    with web.db.transaction() as session:
        row, cancelled = count_as_reply(
            session, inbox_id, Context(web.settings, web.now(), web.actor("api"))
        )
        data = {"id": row.id, "interview_id": row.interview_id, "sender": row.sender}
    return _json({**data, "counted": True, "cancelled": cancelled})
