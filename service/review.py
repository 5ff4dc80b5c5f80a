"""Review: with review on, nothing leaves until the user approved the exact text it will send."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service import events
from service.composer import compose
from service.errors import TemplateError
from service.models import FollowUp, Interview, Status
from service.rendering import Templates, content_hash
from service.validation import Mailbox

log = logging.getLogger(__name__)


def prepare_due(delivery, now: datetime) -> int:
    """Render follow-ups that enter the review window and put them in the queue."""
    settings = delivery.settings
    horizon = now + settings.review_lead
    me = settings.require_sender()
    count = 0
    with delivery.db.transaction() as session:
        rows = session.scalars(
            select(FollowUp)
            .where(
                FollowUp.status == Status.PLANNED,
                FollowUp.review.is_(True),
                FollowUp.due_at <= horizon,
            )
            .order_by(FollowUp.due_at, FollowUp.id)
            .with_for_update(skip_locked=True, of=FollowUp)
        ).all()
        for row in rows:
            session.refresh(row, ["interview", "contact"])
            try:
                rendered, _ = compose(session, row, delivery.templates, me)
            except TemplateError as exc:
                delivery._fail(session, row, now, str(exc), status=Status.PLANNED)
                continue
            events.transition(
                session,
                row.id,
                [Status.PLANNED],
                Status.PENDING_REVIEW,
                now,
                actor=delivery.actor,
                detail={"content_hash": rendered.content_hash},
                subject=rendered.subject,
                body_text=rendered.text,
                body_html=rendered.html,
                content_hash=rendered.content_hash,
                source_hash=rendered.source_hash,
                queued_at=now,
                approved_hash=None,
                approved_at=None,
            )
            count += 1
    return count


def approval_still_valid(
    session: Session, row: FollowUp, templates: Templates, me: Mailbox, now: datetime, *, actor: str
) -> bool:
    """True when the approved text is intact and nothing it was made from has changed.

    Otherwise the follow-up goes back to review with freshly rendered text: neither the stale
    nor the new text is sent without the user seeing it.
    """
    stored = content_hash(row.subject or "", row.body_text or "", row.body_html)
    reason = None
    if row.approved_hash is None or stored != row.approved_hash:
        reason = "the stored text no longer matches what was approved"
    else:
        try:
            rendered, _ = compose(session, row, templates, me)
        except TemplateError as exc:
            rendered, reason = None, f"the template no longer renders: {exc}"
        if rendered is not None and rendered.source_hash != row.source_hash:
            reason = "the interview, contact or template changed after approval"
    if reason is None:
        return True
    values = {
        "approved_hash": None,
        "approved_at": None,
        "queued_at": now,
        "digest_notified_at": None,
    }
    if rendered is not None:
        values.update(
            subject=rendered.subject,
            body_text=rendered.text,
            body_html=rendered.html,
            content_hash=rendered.content_hash,
            source_hash=rendered.source_hash,
        )
    events.transition(
        session,
        row.id,
        [Status.APPROVED],
        Status.PENDING_REVIEW,
        now,
        actor=actor,
        kind="back_to_review",
        detail=reason,
        last_error=reason,
        **values,
    )
    log.warning("follow-up %s is back in review: %s", row.id, reason)
    return False


def load_for_review(session: Session, ids: list[int]) -> list[FollowUp]:
    return list(
        session.scalars(
            select(FollowUp)
            .where(FollowUp.id.in_(ids))
            .options(
                selectinload(FollowUp.contact),
                selectinload(FollowUp.interview).selectinload(Interview.contacts),
            )
        )
    )
