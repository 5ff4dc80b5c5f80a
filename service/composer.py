"""Composing: a follow-up's content and thread, from its interview, template and earlier mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.config import Settings
from service.context import followup_context
from service.errors import FollowupError
from service.languages import DEFAULT_LANGUAGE
from service.messages import OutgoingMessage, reply_subject
from service.models import DELIVERED, LIVE, FollowUp
from service.rendering import Rendered, Templates
from service.validation import Mailbox

#: How many earlier Message-IDs a References header carries (the first and the latest ones).
MAX_REFERENCES = 10


@dataclass(frozen=True)
class Thread:
    """Where a follow-up sits in its conversation with one contact."""

    #: The subject of the first message in the thread, when this one is a reply.
    root_subject: str | None
    in_reply_to: str | None
    references: tuple[str, ...]


def peers_of(session: Session, interview_ids: set[int]) -> dict[int, list[FollowUp]]:
    """Every follow-up of the given interviews, by interview: what threads are made of."""
    peers: dict[int, list[FollowUp]] = {i: [] for i in interview_ids}
    if interview_ids:
        for row in session.scalars(
            select(FollowUp).where(FollowUp.interview_id.in_(interview_ids))
        ):
            peers[cast(int, row.interview_id)].append(row)  # matched by interview_id IN (...)
    return peers


def thread_of(
    session: Session | None,
    f: FollowUp,
    templates: Templates,
    me: Mailbox,
    peers: list[FollowUp] | None = None,
) -> Thread:
    """The earlier messages to the same recipient about the same interview.

    A message is earlier when it may already have reached the recipient, or when it is still
    to go out and is due before this one. `peers` (the interview's follow-ups, see peers_of)
    saves the query when the caller has them loaded (and then `session` may be None).
    """
    if f.interview_id is None:
        return Thread(None, None, ())
    if peers is None:
        if session is None:
            raise ValueError("thread_of needs a session or the interview's follow-ups (peers)")
        peers = peers_of(session, {f.interview_id})[f.interview_id]
    earlier = sorted(
        (
            e
            for e in peers
            if e.id != f.id
            and e.contact_id == f.contact_id
            and (
                (e.status in DELIVERED and e.message_id)
                or (e.status in LIVE and (e.due_at, e.id) < (f.due_at, f.id))
            )
        ),
        key=lambda e: (e.due_at, e.id),
    )
    if not earlier:
        return Thread(None, None, ())
    delivered = sorted(
        (e for e in earlier if e.status in DELIVERED),
        key=lambda e: (e.sent_at or e.sending_started_at or e.due_at, e.id),
    )
    ids = [e.message_id for e in delivered if e.message_id]
    if len(ids) > MAX_REFERENCES:
        ids = ids[:1] + ids[-(MAX_REFERENCES - 1) :]
    root = delivered[0] if delivered else earlier[0]
    return Thread(
        root_subject=_base_subject(session, root, templates, me),
        in_reply_to=ids[-1] if ids else None,
        references=tuple(ids),
    )


def _base_subject(
    session: Session | None, root: FollowUp, templates: Templates, me: Mailbox
) -> str:
    if root.subject:
        return reply_subject(root.subject)[4:]
    language = language_of(root, templates.language)
    return templates.render(root.template, context_for(root, me, language=language)).subject


def language_of(f: FollowUp, default: str) -> str:
    """The language of a follow-up: a letter to a contact is in its interview's language (else
    the user's, `default`); a reminder to the user is in the user's own."""
    if f.contact is None or f.interview is None:
        return default
    return f.interview.language or default


def context_for(
    f: FollowUp, me: Mailbox, thread: Thread | None = None, *, language: str = DEFAULT_LANGUAGE
) -> dict:
    """The data the follow-up's template is rendered with."""
    if f.interview is None:  # only notes have none, and their text is made with them
        raise FollowupError(f"follow-up {f.id} belongs to no interview: nothing to render it with")
    context = followup_context(f.interview, f.contact, me, f.step, f.due_at, language)
    context["thread_subject"] = thread.root_subject if thread else None
    return context


def compose(
    session: Session | None,
    f: FollowUp,
    templates: Templates,
    me: Mailbox,
    peers: list[FollowUp] | None = None,
) -> tuple[Rendered, Thread]:
    """Render the follow-up as it would go out now: a reply (`Re: `) when a thread exists."""
    thread = thread_of(session, f, templates, me, peers)
    language = language_of(f, templates.language)
    rendered = templates.render(f.template, context_for(f, me, thread, language=language))
    if thread.root_subject:
        rendered = Rendered(
            reply_subject(thread.root_subject), rendered.text, rendered.html, rendered.source_hash
        )
    return rendered, thread


def current_source_hash(
    session: Session | None,
    f: FollowUp,
    templates: Templates,
    me: Mailbox,
    peers: list[FollowUp] | None = None,
) -> str:
    """What compose() would record as the source hash now, without rendering anything."""
    thread = thread_of(session, f, templates, me, peers)
    language = language_of(f, templates.language)
    return templates.source_hash(f.template, context_for(f, me, thread, language=language))


def outgoing(f: FollowUp, settings: Settings, now: datetime) -> OutgoingMessage:
    """The message for a claimed follow-up, from its stored content and thread headers."""
    me = settings.require_sender()
    to = me if f.contact is None else Mailbox(f.contact.name, f.contact.email)
    references = tuple((f.references or "").split())
    return OutgoingMessage(
        sender=me,
        to=to,
        subject=f.subject or "",
        text=f.body_text or "",
        html=f.body_html,
        message_id=f.message_id or "",
        # As the user's own mail client would write it: their local time and offset.
        date=now.astimezone(settings.timezone),
        in_reply_to=f.in_reply_to,
        references=references,
        bcc=me if settings.bcc_self and f.contact is not None else None,
    )
