"""Pages: logging in and out, Today (with answers to check, counted as replies by a click), a
follow-up's detail (retry, cancel) and the set-up check."""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from service.errors import FollowupError
from service.web.app import RecordId, logged_in, mask, web_of
from service.web.security import SESSION_COOKIE, SESSION_LIFETIME

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False, dependencies=[Depends(logged_in)])
#: The login page: the one page without a session.
public = APIRouter(include_in_schema=False)
#: How far ahead Today looks.
AHEAD = timedelta(days=7)
#: Today shows this many of a kind, then links to the full list.
SHOWN = 20


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only (never `//other.site`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@public.get("/healthz")
def healthz(request: Request) -> Response:
    """For `followup health --web` and load balancers: 200 when the app answers and reads its
    database, 503 when it cannot. No login, and nothing about the user in the answer."""
    from fastapi.responses import PlainTextResponse
    from sqlalchemy import text

    try:
        with web_of(request).db.reading() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("health check: the database cannot be read: %s", exc)
        return PlainTextResponse("database unavailable\n", status_code=503)
    return PlainTextResponse("ok\n")


@public.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    web = web_of(request)
    if web.session(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return web.render(request, "login.html", next=safe_next(next), error=None)


@public.post("/login")
def login(request: Request, password: str = Form(""), next: str = Form("/")) -> Response:
    """Check the password (constant time; failures rate-limited per address and in all)."""
    web = web_of(request)
    now = web.now()
    client = request.client.host if request.client else "unknown"
    wait = web.attempts.wait(client, now)
    if wait is not None:
        minutes = max(1, round(wait.total_seconds() / 60))
        return web.render(
            request,
            "login.html",
            status=429,
            next=safe_next(next),
            error=f"Too many failed attempts: try again in {minutes} minute(s).",
        )
    if not web.password.check(password):
        web.attempts.failed(client, now)
        log.warning("failed web login from %s", client)
        return web.render(
            request, "login.html", status=401, next=safe_next(next), error="Wrong password."
        )
    web.sessions.end(request.cookies.get(SESSION_COOKIE))
    token, _ = web.sessions.start(now)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=web.secure(request),
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    web = web_of(request)
    web.sessions.end(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
def today(request: Request) -> Response:
    """What needs the user now, and what goes out in the next seven days."""
    from service import history, listings, review
    from service.inbox.replies import answers_to_check
    from service.models import Status

    web = web_of(request)
    now = web.now()
    waiting = review.pending(web.db, limit=SHOWN)
    attention = list(
        listings.followups(
            web.db, statuses=(Status.UNCERTAIN, Status.FAILED, Status.BOUNCED), limit=100
        )
    )
    upcoming = []
    for f in listings.followups(web.db, statuses=listings.UPCOMING, since=now - AHEAD):
        if f.due_at > now + AHEAD:
            break
        if f.due_at >= now or f.status != Status.PENDING_REVIEW:
            upcoming.append(f)
    return web.render(
        request,
        "today.html",
        now=now,
        waiting=waiting,
        waiting_count=review.count_pending(web.db),
        attention=attention,
        replies=history.recent_replies(web.db, now - timedelta(days=14)),
        to_check=answers_to_check(web.db, now - timedelta(days=30), limit=SHOWN),
        upcoming=upcoming,
    )


@router.post("/inbox/{inbox_id}/count-as-reply")
def count_as_reply(request: Request, inbox_id: RecordId) -> Response:
    """An answer to check counts as a reply: the interview's follow-ups stop, as by mail."""
    from service.inbox.actions import Context
    from service.inbox.replies import count_as_reply

    web = web_of(request)
    try:
        with web.db.transaction() as session:
            row, cancelled = count_as_reply(
                session, inbox_id, Context(web.settings, web.now(), web.actor())
            )
            sender = row.sender
        web.flash(
            request,
            f"Counted as a reply from {sender}: {len(cancelled)} follow-up(s) cancelled.",
        )
    except FollowupError as exc:
        web.flash(request, str(exc), "error")
    return RedirectResponse("/", status_code=303)


@router.get("/followups/{followup_id}")
def followup_page(request: Request, followup_id: RecordId) -> Response:
    """One follow-up: the message as it goes out, its status, its events; retry or cancel."""
    from service import followups, history, review

    web = web_of(request)
    item = review.get_item(web.db, followup_id)
    try:
        preview, problem = followups.preview(web.settings, web.db, followup_id, web.now()), None
    except FollowupError as exc:
        preview, problem = None, str(exc)
    return web.render(
        request,
        "followup.html",
        f=item.followup,
        findings=item.findings,
        preview=preview,
        problem=problem,
        events=history.events_of(web.db, followup_ids=[followup_id]).get(followup_id, []),
        can_retry=item.followup.status in followups.RETRYABLE,
        can_cancel=item.followup.status in followups.CANCELLABLE,
    )


@router.post("/followups/{followup_id}/retry")
def retry(request: Request, followup_id: RecordId) -> Response:
    from service import followups

    web = web_of(request)
    try:
        followups.retry(
            web.db, followup_id, web.now(), actor=web.actor(), zone=web.settings.timezone
        )
        web.flash(request, f"Follow-up {followup_id} goes again at the next pass.")
    except FollowupError as exc:
        web.flash(request, str(exc), "error")
    return RedirectResponse(f"/followups/{followup_id}", status_code=303)


@router.post("/followups/{followup_id}/cancel")
def cancel(request: Request, followup_id: RecordId) -> Response:
    from service import followups

    web = web_of(request)
    try:
        followups.cancel(
            web.db, followup_id, web.now(), actor=web.actor(), zone=web.settings.timezone
        )
        web.flash(request, f"Follow-up {followup_id} is cancelled: it is never sent.")
    except FollowupError as exc:
        web.flash(request, str(exc), "error")
    return RedirectResponse(f"/followups/{followup_id}", status_code=303)


@router.get("/setup")
def setup(request: Request) -> Response:
    """`followup doctor`'s checks, with every secret masked."""
    from service import doctor

    web = web_of(request)
    checks = [
        (c.status, c.name, mask(web.settings, c.detail), mask(web.settings, c.hint))
        for c in doctor.run_checks(web.settings, web.db)
    ]
    w = web.settings.web
    own = [
        ("address", w.address),
        ("password", "FOLLOWUP_WEB_PASSWORD (set)" if w.password else "generated at first start"),
        ("API", "FOLLOWUP_API_TOKEN (set, ****)" if w.api_token else "off: no FOLLOWUP_API_TOKEN"),
        ("host names answered", ", ".join(sorted(web.hosts))),
        ("digest links", w.url or "off: no FOLLOWUP_WEB_URL"),
    ]
    return web.render(request, "setup.html", checks=checks, own=own)
