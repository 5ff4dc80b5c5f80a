"""Preparing claimed follow-ups: their text, thread and bytes, made outside any transaction.

This is also the gate of review. A follow-up goes out only with the text the user approved, or,
when it needs no approval now (settings and plan as they are), with nothing in it a careful
person would stop at. Everything else becomes a Decision: put up for review, held with a
warning, back to review because what it was made of changed, deferred (its render ran over the
CPU budget: maybe the machine, tried again later), or failed (its template is broken).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from service.approval import ReviewRule
from service.checks import check_followup
from service.composer import compose, current_source_hash, outgoing, peers_of, thread_of
from service.config import Settings
from service.db import Database
from service.errors import RenderBudgetExceeded, TemplateError
from service.messages import new_message_id
from service.models import FollowUp, Interview, Kind, Status
from service.rendering import Rendered, Templates, content_hash
from service.transport import Outgoing
from service.validation import Mailbox

#: The statuses a claimed follow-up can go out (or into review) from.
SENDABLE = (Status.PLANNED, Status.APPROVED, Status.DEFERRED)


@dataclass
class Ready:
    """A claimed follow-up ready to go: everything its `sending` commit and its SMTP
    transaction need, made before either."""

    row: FollowUp
    #: The status it is claimed in, its attempts so far and the revision its text was made
    #: from: the guard of its `sending` commit (a change made since refuses it).
    status: str
    attempts: int
    revision: int
    values: dict
    outgoing: Outgoing

    @property
    def id(self) -> int:
        return self.row.id

    @property
    def to(self) -> str:
        return self.outgoing.recipients[0]


@dataclass
class Decision:
    """A claimed follow-up that does not go now, and where it goes instead."""

    row: FollowUp
    status: str
    #: "review" (needs approval), "hold" (gives pause), "back" (approved text is stale),
    #: "defer" (over the render budget), "fail", or "gone" (no longer sendable when loaded:
    #: rejected or cancelled since it was claimed)
    action: str
    rendered: Rendered | None = None
    why: str = ""
    #: "defer": the template over the render budget (its own, or its thread's first message's).
    template: str = ""


@dataclass
class Prepared:
    ready: list[Ready] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)


def load(db: Database, ids: list[int]) -> tuple[list[FollowUp], dict[int, list[FollowUp]]]:
    """The claimed rows (soonest first) with what rendering reads, and their interviews' peers."""
    with db.reading() as session:
        rows = session.scalars(
            select(FollowUp)
            .where(FollowUp.id.in_(ids))
            .options(
                selectinload(FollowUp.contact),
                selectinload(FollowUp.interview).selectinload(Interview.contacts),
            )
            .order_by(FollowUp.due_at, FollowUp.id)
        ).all()
        peers = peers_of(session, {r.interview_id for r in rows if r.interview_id is not None})
    return list(rows), peers


def prepare(
    rows: list[FollowUp],
    peers: dict[int, list[FollowUp]],
    *,
    settings: Settings,
    templates: Templates,
    rule: ReviewRule,
    me: Mailbox,
    now: datetime,
) -> Prepared:
    """Decide, for each claimed row, whether it goes and with what; nothing is written."""
    done = Prepared()
    for row in rows:
        if row.status not in SENDABLE:  # decided by someone else between the claim and the load
            done.decisions.append(Decision(row, row.status, "gone", why=f"{row.status} meanwhile"))
            continue
        mine = peers.get(row.interview_id, []) if row.interview_id is not None else []
        try:
            outcome = _one(row, mine, settings, templates, rule, me, now)
        except RenderBudgetExceeded as exc:  # the machine or the template: engine.Strikes judges
            outcome = Decision(row, row.status, "defer", why=str(exc), template=exc.template)
        except TemplateError as exc:
            outcome = Decision(row, row.status, "fail", why=str(exc))
        if isinstance(outcome, Ready):
            done.ready.append(outcome)
            _follow(row, outcome, now)  # a later row of this batch threads onto it
        else:
            done.decisions.append(outcome)
    return done


def _one(
    row: FollowUp,
    peers: list[FollowUp],
    settings: Settings,
    templates: Templates,
    rule: ReviewRule,
    me: Mailbox,
    now: datetime,
) -> Ready | Decision:
    status = row.status
    if row.kind == Kind.NOTE:
        return _ready(row, peers, settings, templates, me, now, None)
    if row.approved_hash is not None:
        stored = content_hash(row.subject or "", row.body_text or "", row.body_html)
        why = "the stored text no longer matches what was approved"
        if stored == row.approved_hash:
            try:
                fresh = current_source_hash(None, row, templates, me, peers) == row.source_hash
            except TemplateError:
                fresh = False
            if fresh:
                return _ready(row, peers, settings, templates, me, now, None)
            why = "the interview, contact or template changed after approval"
        try:
            rendered, _ = compose(None, row, templates, me, peers)
        except RenderBudgetExceeded:
            raise
        except TemplateError as exc:
            return Decision(
                row, status, "back", None, f"{why}; the template does not render: {exc}"
            )
        return Decision(row, status, "back", rendered, why)
    rendered, _ = compose(None, row, templates, me, peers)
    if rule.of_row(row):
        return Decision(row, status, "review", rendered)
    findings = check_followup(row, rendered)
    if findings:
        return Decision(row, status, "hold", rendered, "; ".join(f.message for f in findings))
    return _ready(row, peers, settings, templates, me, now, rendered)


def _ready(
    row: FollowUp,
    peers: list[FollowUp],
    settings: Settings,
    templates: Templates,
    me: Mailbox,
    now: datetime,
    rendered: Rendered | None,
) -> Ready | Decision:
    thread = thread_of(None, row, templates, me, peers)
    if rendered is not None:
        content = {
            "subject": rendered.subject,
            "body_text": rendered.text,
            "body_html": rendered.html,
            "content_hash": rendered.content_hash,
            "source_hash": rendered.source_hash,
        }
    else:
        content = {
            "subject": row.subject,
            "body_text": row.body_text,
            "body_html": row.body_html,
            "content_hash": row.content_hash,
            "source_hash": row.source_hash,
        }
    values = {
        **content,
        "message_id": row.message_id or new_message_id(me.domain),
        "in_reply_to": thread.in_reply_to,
        "references": " ".join(thread.references) or None,
        "first_attempt_at": row.first_attempt_at or now,
    }
    shown = {k: values[k] for k in ("subject", "body_text", "body_html", "message_id")}
    shown |= {"in_reply_to": values["in_reply_to"], "references": values["references"]}
    for key, value in shown.items():
        setattr(row, key, value)  # a detached row: nothing is written
    message = outgoing(row, settings, now)
    try:
        data = message.as_bytes()
    except ValueError as exc:  # a header that would not serialise safely
        return Decision(row, row.status, "fail", why=f"the message cannot be written safely: {exc}")
    return Ready(
        row=row,
        status=row.status,
        attempts=row.attempts,
        revision=row.revision,
        values=values,
        outgoing=Outgoing(
            sender=message.sender.email,
            recipients=message.recipients(),
            data=data,
            name=f"{row.due_at:%Y%m%d-%H%M%S}-{row.id:06d}-{row.step}",
        ),
    )


def _follow(row: FollowUp, ready: Ready, now: datetime) -> None:
    """The in-memory row now looks as it will once sending: later rows thread onto it."""
    row.status = Status.SENDING
    row.sending_started_at = now
