"""The review queue in the browser: each message whole; approve, edit, reject, snooze, and
"approve all" after a confirmation naming the count. The rules are service/review.py's."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from service.errors import FollowupError, StateConflict, UsageError
from service.web.app import RecordId, Web, logged_in, web_of

router = APIRouter(include_in_schema=False, dependencies=[Depends(logged_in)])
#: Messages shown whole on one page of the queue.
PAGE = 50


def sender(web: Web) -> str:
    try:
        return str(web.settings.require_sender())
    except UsageError as exc:
        return f"(not sendable: {exc})"


def back(page: int = 1, anchor: str = "") -> RedirectResponse:
    where = "/review" + (f"?page={page}" if page > 1 else "") + (f"#{anchor}" if anchor else "")
    return RedirectResponse(where, status_code=303)


@router.get("/review")
def queue(request: Request, page: int = 1) -> Response:
    from service import review

    web = web_of(request)
    total = review.count_pending(web.db)
    pages = max(1, -(-total // PAGE))
    page = min(max(1, page), pages)
    return web.render(
        request,
        "review.html",
        now=web.now(),
        sender=sender(web),
        me=web.me,
        items=review.pending(web.db, limit=PAGE, offset=(page - 1) * PAGE),
        total=total,
        page=page,
        pages=pages,
        snooze_default=timedelta(days=1),
    )


@router.post("/review/{followup_id}/approve")
def approve(
    request: Request,
    followup_id: RecordId,
    seen: str = Form(""),
    page: int = Form(1),
) -> Response:
    """Approve the text the user saw; if it changed meanwhile, say what it became."""
    from service import review

    web = web_of(request)
    try:
        review.approve(
            web.db,
            followup_id,
            web.now(),
            actor=web.actor(),
            seen_hash=seen or None,
            zone=web.settings.timezone,
        )
        web.flash(request, f"Follow-up {followup_id} is approved: exactly this text goes when due.")
    except FollowupError as exc:
        web.flash(request, str(exc), "error")
    return back(page)


@router.post("/review/{followup_id}/reject")
def reject(
    request: Request,
    followup_id: RecordId,
    page: int = Form(1),
) -> Response:
    from service import review

    web = web_of(request)
    try:
        review.reject(web.db, followup_id, web.now(), actor=web.actor(), zone=web.settings.timezone)
        web.flash(request, f"Follow-up {followup_id} is rejected: it is never sent.")
    except FollowupError as exc:
        web.flash(request, str(exc), "error")
    return back(page)


@router.post("/review/{followup_id}/snooze")
def snooze(
    request: Request,
    followup_id: RecordId,
    until: str = Form(""),
    page: int = Form(1),
) -> Response:
    from service import review
    from service.validation import parse_local_datetime

    web = web_of(request)
    zone = web.settings.timezone
    try:
        moment = parse_local_datetime(until, zone, "the new time")
        review.snooze(web.db, followup_id, moment, web.now(), actor=web.actor(), zone=zone)
        web.flash(request, f"Follow-up {followup_id} now waits until {until.replace('T', ' ')}.")
    except FollowupError as exc:
        web.flash(request, str(exc), "error")
    return back(page, f"f{followup_id}")


@router.get("/review/{followup_id}/edit")
def edit_page(request: Request, followup_id: RecordId) -> Response:
    from service import review

    web = web_of(request)
    item = review.get_item(web.db, followup_id)
    f = item.followup
    return web.render(
        request,
        "edit.html",
        f=f,
        sender=sender(web),
        me=web.me,
        subject=f.subject or "",
        body=f.body_text or "",
        error=None,
    )


@router.post("/review/{followup_id}/edit")
def edit(
    request: Request,
    followup_id: RecordId,
    subject: str = Form(""),
    body: str = Form(""),
) -> Response:
    """Save the edited text, checked as `followup edit` checks it, then approve exactly it."""
    from service import review
    from service.rendering import content_hash

    web = web_of(request)
    item = review.get_item(web.db, followup_id)
    try:
        if "\n" in subject or "\r" in subject:
            raise UsageError("the subject must be one line")
        parsed = review.parse_edit(f"Subject: {subject}\n\n{body}")
        if parsed is None:
            raise UsageError("the message is empty: write a subject and a text")
        findings = review.save_edit(
            web.db,
            followup_id,
            *parsed,
            web.now(),
            actor=web.actor(),
            zone=web.settings.timezone,
        )
    except FollowupError as exc:
        return web.render(
            request,
            "edit.html",
            status=409 if isinstance(exc, StateConflict) else 422,
            f=item.followup,
            sender=sender(web),
            me=web.me,
            subject=subject,
            body=body,
            error=str(exc),
        )
    for finding in findings:
        web.flash(request, f"Follow-up {followup_id}: {finding.message}", "warning")
    try:
        review.approve(
            web.db,
            followup_id,
            web.now(),
            actor=web.actor(),
            seen_hash=content_hash(*parsed, None),
            zone=web.settings.timezone,
        )
        web.flash(request, f"Follow-up {followup_id} is saved and approved: your text goes.")
    except FollowupError as exc:
        web.flash(request, f"Your text is saved, but not approved: {exc}", "error")
    return back()


@router.get("/review/approve-all")
def approve_all_page(request: Request) -> Response:
    """The confirmation: how many would be approved, and which are left for the user to read."""
    from service import review

    web = web_of(request)
    approvable, held = review.split_for_approve_all(review.pending(web.db))
    return web.render(request, "approve_all.html", approvable=approvable, held=held)


@router.post("/review/approve-all")
def approve_all(request: Request, seen: list[str] = Form([])) -> Response:
    """Approve the follow-ups the confirmation named (and only those), each only if its text is
    still the text the page showed (`seen`: "ID:CONTENT_HASH", one per follow-up)."""
    from service import review
    from service.validation import parse_id

    web = web_of(request)
    wanted: dict[int, str] = {}
    failures: list[str] = []
    for entry in seen:
        key, _, seen_hash = entry.partition(":")
        try:
            wanted[parse_id(key, "follow-up")] = seen_hash
        except UsageError as exc:
            failures.append(f"not approved: {exc}")
    approvable, _held = review.split_for_approve_all(review.pending(web.db))
    still = {i.followup.id for i in approvable}
    done = 0
    for fid, seen_hash in wanted.items():
        try:
            f = None if fid in still else review.get_item(web.db, fid).followup
            if f is not None and f.status == "pending_review":  # it has warnings now
                if f.content_hash != seen_hash:
                    raise review.TextChanged(f"follow-up {fid} changed")
                failures.append(f"#{fid} not approved: it has warnings now; read it first")
                continue
            review.approve(  # one no longer waiting is refused, saying what it became
                web.db,
                fid,
                web.now(),
                actor=web.actor(),
                seen_hash=seen_hash or None,
                zone=web.settings.timezone,
            )
            done += 1
        except review.TextChanged:
            failures.append(
                f"#{fid} not approved: its text changed after you opened this page; review it again"
            )
        except FollowupError as exc:
            failures.append(f"#{fid} not approved: {exc}")
    web.flash(request, f"{done} follow-up(s) approved.")
    for failure in failures:
        web.flash(request, failure, "error")
    return back()
