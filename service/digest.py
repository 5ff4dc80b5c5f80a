"""The review digest: one email to the user about what waits for review, with approve links."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from service import events
from service.config import Settings
from service.context import person
from service.db import Database, serialize
from service.errors import FollowupError
from service.formatting import human_delta
from service.models import FollowUp, Kind, Status
from service.rendering import Templates

log = logging.getLogger(__name__)

DIGEST_STEP = "review_digest"
DIGEST_TEMPLATE = "review_digest"


def queue_digest(
    settings: Settings,
    db: Database,
    templates: Callable[[], Templates],
    now: datetime,
    *,
    actor: str,
) -> bool:
    """Queue one email to the user about what waits for review, at most once per interval.

    The digest is rendered outside any transaction; the write checks again that no other
    worker wrote one meanwhile.
    """
    me = settings.require_sender()

    def last_digest(session: Session) -> datetime | None:
        return session.scalar(
            select(func.max(FollowUp.created_at)).where(
                FollowUp.kind == Kind.NOTE, FollowUp.step == DIGEST_STEP
            )
        )

    with db.reading() as session:
        unannounced = session.scalar(
            select(FollowUp.id)
            .where(FollowUp.status == Status.PENDING_REVIEW, FollowUp.digest_notified_at.is_(None))
            .limit(1)
        )
        if unannounced is None:  # the common case on a tick: nothing new to tell
            return False
        last = last_digest(session)
        if last is not None and now - last < settings.digest_interval:
            return False
        waiting = session.scalars(
            select(FollowUp)
            .where(FollowUp.status == Status.PENDING_REVIEW)
            .options(selectinload(FollowUp.contact), selectinload(FollowUp.interview))
            .order_by(FollowUp.due_at, FollowUp.id)
        ).all()
    # Approve links (issue 11), only when the web app's address is set: FOLLOWUP_WEB_URL.
    from service import links

    approve_links = links.prepare(db, settings.web.url, waiting, now)
    items = [_digest_item(f, settings.timezone, now) for f in waiting]
    for item in items:
        if item["id"] in approve_links:
            item["link"] = approve_links[item["id"]].url
    context = {
        "me": person(me),
        "count": len(waiting),
        "items": items,
        "inbox_error": _inbox_error(db),
    }
    try:
        rendered = templates().render(DIGEST_TEMPLATE, context)
    except FollowupError as exc:
        log.error("cannot write the review digest: %s", exc)
        return False
    with db.transaction() as session:
        serialize(session, "review_digest")
        last = last_digest(session)
        if last is not None and now - last < settings.digest_interval:
            return False
        digest = FollowUp.note_to_user(
            interview_id=None,
            step=DIGEST_STEP,
            about=f"{now:%Y%m%d%H%M%S%f}",
            template=DIGEST_TEMPLATE,
            rendered=rendered,
            now=now,
        )
        events.add_planned(
            session, digest, now, actor=actor, detail=f"review digest of {len(waiting)}"
        )
        links.store(session, approve_links.values(), now)
        session.execute(
            update(FollowUp)
            .where(FollowUp.id.in_([f.id for f in waiting]), FollowUp.digest_notified_at.is_(None))
            .values(digest_notified_at=now)
            .execution_options(synchronize_session=False)
        )
        return True


def _inbox_error(db: Database) -> str | None:
    """What keeps the workers from reading the mailbox, if anything (the digest says so)."""
    from service.models import Worker

    with db.reading() as session:
        return session.scalar(select(Worker.inbox_error).where(Worker.inbox_error.is_not(None)))


def _digest_item(f: FollowUp, zone: ZoneInfo, now: datetime) -> dict[str, Any]:
    to = f.contact.name + f" <{f.contact.email}>" if f.contact else "you"
    waited = now - (f.queued_at or now)
    return {
        "id": f.id,
        "to": to,
        "company": f.interview.company if f.interview else "",
        "subject": f.subject or "",
        "due": f.due_at.astimezone(zone).strftime("%a %d %b %H:%M"),
        "overdue": f.due_at <= now,
        "waiting": human_delta(waited),
    }
