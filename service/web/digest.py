"""A review digest's approve link: GET shows the message and an Approve button (so a mail
scanner that follows links approves nothing); only the POST approves, once. Used, expired or
forged links get a page that says so. The link is the credential: no login is needed."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from service.errors import FollowupError
from service.links import LinkRefused
from service.models import Status
from service.web.app import web_of
from service.web.review_pages import sender

router = APIRouter(include_in_schema=False)


def changed(followup_id: int) -> str:
    return (
        f"#{followup_id} not approved: its text changed after this digest was written; "
        "review it again in the queue"
    )


def refused(request: Request, message: str, status: int = 410) -> Response:
    return web_of(request).render(
        request, "link.html", status=status, item=None, token="", message=message, done=False
    )


@router.get("/approve/{token}")
def show(request: Request, token: str) -> Response:
    from service import links, review

    web = web_of(request)
    try:
        link = links.check(web.db, token, web.now())
    except LinkRefused as exc:
        return refused(request, str(exc))
    item = review.get_item(web.db, link.followup_id)
    if item.followup.status != Status.PENDING_REVIEW:
        return refused(
            request,
            f"follow-up {item.followup.id} is {item.followup.status.replace('_', ' ')} now: "
            "there is nothing to approve",
            status=409,
        )
    announced = links.seen_hash(token)
    if announced is not None and announced != item.followup.content_hash:
        return refused(request, changed(link.followup_id), status=409)
    return web.render(
        request,
        "link.html",
        item=item,
        token=token,
        sender=sender(web),
        me=web.me,
        message=None,
        done=False,
    )


@router.post("/approve/{token}")
def approve(request: Request, token: str, seen: str = Form(""), csrf: str = Form("")) -> Response:
    from service import links, review

    web = web_of(request)
    web.check_csrf(request, csrf)
    now = web.now()
    try:
        link = links.use(web.db, token, now)
    except LinkRefused as exc:
        return refused(request, str(exc))
    try:
        review.approve(
            web.db,
            link.followup_id,
            web.now(),
            actor=web.actor("web-link"),
            seen_hash=links.seen_hash(token) or seen or None,
            zone=web.settings.timezone,
        )
    except review.TextChanged:
        links.release(web.db, link, now)  # refused: the link is not spent
        return refused(request, changed(link.followup_id), status=409)
    except FollowupError as exc:
        links.release(web.db, link, now)
        return refused(request, f"not approved: {exc}", status=409)
    return web.render(
        request,
        "link.html",
        item=None,
        token="",
        message=f"Follow-up {link.followup_id} is approved: exactly the text you read goes "
        "when it is due.",
        done=True,
    )
