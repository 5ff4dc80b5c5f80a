"""Review: with review on, nothing leaves until the user approved the exact text it will send."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from service import events, underway
from service.checks import Finding, check_content, check_followup
from service.composer import compose, current_source_hash
from service.db import Database
from service.errors import NotFound, StateConflict, TemplateError, UsageError
from service.models import FollowUp, Interview, Reason, Status
from service.rendering import Rendered, Templates, content_hash
from service.validation import Mailbox, clean_line, clean_text

log = logging.getLogger(__name__)

#: States a follow-up can be rejected from: anything not yet on its way.
REJECTABLE = (Status.PLANNED, Status.PENDING_REVIEW, Status.APPROVED)


class TextChanged(StateConflict):
    """Approval refused: the text is no longer the one the user saw."""


# --- into the queue (the worker) ---------------------------------------------------------------


def hold_for_review(
    session: Session,
    row: FollowUp,
    rendered: Rendered,
    now: datetime,
    *,
    actor: str,
    why: str | None = None,
    revision: int | None = None,
) -> None:
    """Put this text in the review queue: it goes only once the user approved it.

    `why` is set when the follow-up needed no review but something in it gives pause; with
    `revision`, only if the follow-up has not changed since the text was made from it.
    """
    detail = {"content_hash": rendered.content_hash} | ({"why": why} if why else {})
    last_error = f"held for your review: {why}" if why else None
    kind = "held" if why else None
    _into_queue(session, row, rendered, now, actor, kind, detail, last_error, revision)
    if why:
        log.warning("follow-up %s is held for your review: %s", row.id, why)


def _into_queue(
    session: Session,
    row: FollowUp,
    rendered: Rendered | None,
    now: datetime,
    actor: str,
    kind: str | None,
    detail: Any,
    last_error: str | None,
    revision: int | None = None,
) -> None:
    """The one move into the review queue: any earlier approval no longer counts; `rendered`
    (when there is new text) replaces the stored text."""
    text: dict[str, Any] = {}
    if rendered is not None:
        text = dict(
            subject=rendered.subject,
            body_text=rendered.text,
            body_html=rendered.html,
            content_hash=rendered.content_hash,
            source_hash=rendered.source_hash,
        )
    events.transition(
        session,
        row.id,
        [row.status],
        Status.PENDING_REVIEW,
        now,
        actor=actor,
        kind=kind,
        detail=detail,
        expect={"revision": revision} if revision is not None else None,
        queued_at=now,
        approved_hash=None,
        approved_at=None,
        digest_notified_at=None,
        last_error=last_error,
        **text,
    )


def requeue(
    session: Session,
    row: FollowUp,
    rendered: Rendered | None,
    now: datetime,
    *,
    actor: str,
    reason: str,
    revision: int | None = None,
) -> None:
    """Back to the queue with new text (None: the template no longer renders); the previous
    approval no longer counts. With `revision`, only if the follow-up is still as it was."""
    _into_queue(session, row, rendered, now, actor, "back_to_review", reason, reason, revision)
    log.warning("follow-up %s is back in review: %s", row.id, reason)


def approval_still_valid(
    session: Session,
    row: FollowUp,
    templates: Templates,
    me: Mailbox,
    now: datetime,
    *,
    actor: str,
    peers: list[FollowUp] | None = None,
) -> bool:
    """True when the approved text is intact and nothing it was made from has changed.

    Otherwise the follow-up goes back to review with freshly rendered text: neither the stale
    nor the new text is sent without the user seeing it.
    """
    stored = content_hash(row.subject or "", row.body_text or "", row.body_html)
    if row.approved_hash is not None and stored == row.approved_hash:
        try:
            if current_source_hash(session, row, templates, me, peers) == row.source_hash:
                return True
        except TemplateError:
            pass
        reason = "the interview, contact or template changed after approval"
    else:
        reason = "the stored text no longer matches what was approved"
    back_to_review(session, row, templates, me, now, actor=actor, reason=reason)
    return False


def back_to_review(
    session: Session,
    row: FollowUp,
    templates: Templates,
    me: Mailbox,
    now: datetime,
    *,
    actor: str,
    reason: str,
) -> None:
    """Re-render and queue again for review; the previous approval no longer counts."""
    rendered = None
    try:
        rendered, _ = compose(session, row, templates, me)
    except TemplateError as exc:
        reason = f"{reason}; the template does not render: {exc}"
    requeue(session, row, rendered, now, actor=actor, reason=reason)


def refresh_interview(
    db: Database, templates: Templates, me: Mailbox, interview_id: int, now: datetime, *, actor: str
) -> int:
    """After an interview changed: queued or approved follow-ups whose text would change go back
    to review with the new text. Returns how many."""
    count = 0
    with db.transaction() as session:
        rows = session.scalars(
            select(FollowUp).where(
                FollowUp.interview_id == interview_id,
                FollowUp.status.in_([Status.PENDING_REVIEW, Status.APPROVED]),
            )
        ).all()
        for row in rows:
            try:
                unchanged = current_source_hash(session, row, templates, me) == row.source_hash
            except TemplateError:
                unchanged = False
            if not unchanged:
                back_to_review(
                    session,
                    row,
                    templates,
                    me,
                    now,
                    actor=actor,
                    reason="the interview or its contacts changed",
                )
                count += 1
    return count


# --- the user's decisions ----------------------------------------------------------------------


@dataclass
class QueueItem:
    followup: FollowUp
    findings: list[Finding]

    @property
    def blocked(self) -> bool:
        return any(f.blocking for f in self.findings)


def _load(
    session: Session, ids: list[int] | None = None, limit: int | None = None, offset: int = 0
) -> list[FollowUp]:
    query = select(FollowUp).options(
        selectinload(FollowUp.contact),
        selectinload(FollowUp.interview).selectinload(Interview.contacts),
    )
    if ids is None:
        query = query.where(FollowUp.status == Status.PENDING_REVIEW)
    else:
        query = query.where(FollowUp.id.in_(ids))
    query = query.order_by(FollowUp.due_at, FollowUp.id).offset(offset or None).limit(limit)
    return list(session.scalars(query))


def split_for_approve_all(
    items: list[QueueItem], force: bool = False
) -> tuple[list[QueueItem], list[QueueItem]]:
    """(to approve, held back) for "approve all": follow-ups with warnings wait for the user to
    read them one by one (with force, only those whose text blocks sending)."""
    held = [i for i in items if i.findings and (i.blocked or not force)]
    return [i for i in items if i not in held], held


def pending(db: Database, *, limit: int | None = None, offset: int = 0) -> list[QueueItem]:
    """What waits for review, soonest due first, with the checks for each (a page of it, with
    limit and offset)."""
    with db.reading() as session:
        return [QueueItem(f, check_followup(f)) for f in _load(session, None, limit, offset)]


def count_pending(db: Database) -> int:
    """How many follow-ups wait for review."""
    with db.reading() as session:
        return session.execute(
            select(func.count(FollowUp.id)).where(FollowUp.status == Status.PENDING_REVIEW)
        ).scalar_one()


def get_item(db: Database, followup_id: int) -> QueueItem:
    with db.reading() as session:
        rows = _load(session, [followup_id])
        if not rows:
            raise NotFound(f"follow-up {followup_id} does not exist: see `followup queue`")
        return QueueItem(rows[0], check_followup(rows[0]))


def approve(
    db: Database,
    followup_id: int,
    now: datetime,
    *,
    actor: str,
    seen_hash: str | None = None,
    zone: tzinfo = UTC,
) -> None:
    """Approve the text as it stands; with seen_hash, only if it is still the text the user saw
    (else TextChanged). One on its way is refused in the words of `underway.on_its_way`."""
    with db.transaction() as session:
        rows = _load(session, [followup_id])
        if not rows:
            raise NotFound(f"follow-up {followup_id} does not exist: see `followup queue`")
        row = rows[0]
        if row.status != Status.PENDING_REVIEW:
            underway.refuse(session, followup_id, zone, now)
            raise StateConflict(
                f"follow-up {followup_id} is {row.status}: only a follow-up waiting "
                "for review can be approved"
            )
        blocking = [f.message for f in check_followup(row) if f.blocking]
        if blocking:
            raise UsageError(
                f"follow-up {followup_id} cannot be approved: {'; '.join(blocking)} "
                f"(fix it with `followup edit {followup_id}`)"
            )
        stored = content_hash(row.subject or "", row.body_text or "", row.body_html)
        expect = {"content_hash": seen_hash} if seen_hash else {"content_hash": stored}
        try:
            events.transition(
                session,
                followup_id,
                [Status.PENDING_REVIEW],
                Status.APPROVED,
                now,
                actor=actor,
                detail={"content_hash": stored},
                expect=expect,
                approved_hash=stored,
                approved_at=now,
                last_error=None,
            )
        except StateConflict as conflict:
            current = session.scalar(select(FollowUp.status).where(FollowUp.id == followup_id))
            if current != Status.PENDING_REVIEW:
                underway.refuse(session, followup_id, zone, now)
                raise  # someone else decided first: say what it became
            raise TextChanged(
                f"follow-up {followup_id} changed since you saw it: review it again"
            ) from conflict


def reject(
    db: Database, followup_id: int, now: datetime, *, actor: str, zone: tzinfo = UTC
) -> None:
    """Never send this follow-up."""
    with db.transaction() as session:
        try:
            events.transition(
                session,
                followup_id,
                REJECTABLE,
                Status.REJECTED,
                now,
                actor=actor,
                detail="rejected in review",
                reason=Reason.USER,
            )
        except StateConflict:
            underway.refuse(session, followup_id, zone, now)
            raise


def snooze(
    db: Database,
    followup_id: int,
    until: datetime,
    now: datetime,
    *,
    actor: str,
    zone: tzinfo = UTC,
) -> None:
    """Move a queued follow-up's due time; its expiry moves with it."""
    if until <= now:
        raise UsageError("the new time is in the past: give a later time")
    with db.transaction() as session:
        row = session.get(FollowUp, followup_id)
        if row is None:
            raise NotFound(f"follow-up {followup_id} does not exist: see `followup queue`")
        shift = until - row.due_at
        try:
            events.transition(
                session,
                followup_id,
                [Status.PENDING_REVIEW],
                Status.PENDING_REVIEW,
                now,
                actor=actor,
                kind="snoozed",
                detail={"from": row.due_at.isoformat(), "to": until.isoformat()},
                due_at=until,
                expires_at=row.expires_at + shift if row.expires_at else None,
            )
        except StateConflict:
            underway.refuse(session, followup_id, zone, now)
            raise


EDIT_HELP = (
    "# Edit the message below: the first line is the subject, then a blank line, then the text.\n"
    "# Lines starting with # at the top are ignored. Save an empty file to keep it unchanged.\n"
)


def edit_document(row: FollowUp) -> str:
    to = f"{row.contact.name} <{row.contact.email}>" if row.contact else "you"
    return f"{EDIT_HELP}# To: {to}\nSubject: {row.subject or ''}\n\n{row.body_text or ''}"


def parse_edit(document: str) -> tuple[str, str] | None:
    """(subject, text) from an edited document, or None if it was emptied (no change)."""
    lines = document.replace("\r\n", "\n").split("\n")
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    if not "".join(lines).strip():
        return None
    first = lines[0]
    if not first.lower().startswith("subject:"):
        raise UsageError("the edited message must start with a 'Subject: ...' line")
    subject = clean_line(first[len("subject:") :], "the subject", max_len=250)
    body = clean_text("\n".join(lines[1:]), "the text").strip("\n") + "\n"
    return subject, body


def save_edit(
    db: Database,
    followup_id: int,
    subject: str,
    text: str,
    now: datetime,
    *,
    actor: str,
    zone: tzinfo = UTC,
) -> list[Finding]:
    """Store edited text; it waits for approval again. Blocking problems are refused."""
    findings = check_content(subject, text, None)
    blocking = [f.message for f in findings if f.blocking]
    if blocking:
        raise UsageError(f"edit not saved: {'; '.join(blocking)}")
    with db.transaction() as session:
        rows = _load(session, [followup_id])
        if not rows:
            raise NotFound(f"follow-up {followup_id} does not exist: see `followup queue`")
        try:
            events.transition(
                session,
                followup_id,
                [Status.PENDING_REVIEW, Status.APPROVED],
                Status.PENDING_REVIEW,
                now,
                actor=actor,
                kind="edited",
                detail={"content_hash": content_hash(subject, text, None)},
                subject=subject,
                body_text=text,
                body_html=None,
                content_hash=content_hash(subject, text, None),
                approved_hash=None,
                approved_at=None,
            )
        except StateConflict:
            underway.refuse(session, followup_id, zone, now)
            raise
        return check_followup(rows[0])
