"""What the user does with a single follow-up: retry, cancel, preview, and a test message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from email import message_from_bytes, policy

from sqlalchemy.orm import Session, selectinload

from service import events, underway
from service.checks import check_followup
from service.composer import compose, outgoing, thread_of
from service.config import Settings
from service.db import Database
from service.errors import NotFound, StateConflict, UsageError
from service.messages import OutgoingMessage, new_message_id
from service.models import FollowUp, Interview, InterviewStatus, Reason, Status
from service.rendering import templates_for
from service.transport import DeliveryError, OutboxTransport, Outgoing, SmtpTransport
from service.validation import Mailbox, check_email

RETRYABLE = (Status.UNCERTAIN, Status.FAILED, Status.DEFERRED, Status.EXPIRED)
CANCELLABLE = (
    Status.PLANNED,
    Status.PENDING_REVIEW,
    Status.APPROVED,
    Status.DEFERRED,
    Status.UNCERTAIN,
    Status.FAILED,
    Status.EXPIRED,
)


def _load(session: Session, followup_id: int) -> FollowUp:
    row = session.get(
        FollowUp,
        followup_id,
        options=[
            selectinload(FollowUp.contact),
            selectinload(FollowUp.interview).selectinload(Interview.contacts),
        ],
    )
    if row is None:
        raise NotFound(f"follow-up {followup_id} does not exist: see `followup schedule --all`")
    return row


def retry(db: Database, followup_id: int, now: datetime, *, actor: str, zone: tzinfo = UTC) -> str:
    """Queue a follow-up to be sent again now; it keeps its Message-ID so clients can dedupe.

    It passes the same gate as any send: unapproved text that needs review goes to the queue.
    A follow-up whose interview was closed, or whose contact was removed, is not sent again.
    """
    with db.transaction() as session:
        row = _load(session, followup_id)
        if row.status not in RETRYABLE:
            underway.refuse(session, followup_id, zone, now)
            raise UsageError(
                f"follow-up {followup_id} is {row.status}: only uncertain, failed, deferred or "
                "expired ones can be retried"
            )
        interview = row.interview
        if interview is not None and interview.status != InterviewStatus.ACTIVE:
            raise UsageError(
                f"follow-up {followup_id} is about interview {interview.id}, which is closed "
                f"({interview.status}): it is not sent again"
            )
        if row.contact is not None and row.contact.removed:
            raise UsageError(
                f"follow-up {followup_id} is to {row.contact.email}, who is no longer a contact "
                f"of interview {row.interview_id}: it is not sent again"
            )
        try:
            events.transition(
                session,
                followup_id,
                [row.status],
                Status.DEFERRED,
                now,
                actor=actor,
                kind="retry",
                detail="the user asked to send it again",
                first_attempt_at=None,
                expires_at=None,
                last_error=None,
                reason=None,
                retry_at=now,
            )
        except StateConflict:
            underway.refuse(session, followup_id, zone, now)
            raise
        return Status.DEFERRED


def cancel(
    db: Database, followup_id: int, now: datetime, *, actor: str, zone: tzinfo = UTC
) -> None:
    """Never send it; one already on its way is refused (`underway.on_its_way`)."""
    with db.transaction() as session:
        row = _load(session, followup_id)
        if row.status not in CANCELLABLE:
            underway.refuse(session, followup_id, zone, now)
            raise UsageError(f"follow-up {followup_id} is {row.status}: it cannot be cancelled")
        try:
            events.transition(
                session,
                followup_id,
                CANCELLABLE,
                Status.CANCELLED,
                now,
                actor=actor,
                detail="cancelled by the user",
                last_error=None,  # an earlier error is not why it is cancelled
                reason=Reason.USER,
            )
        except StateConflict:
            underway.refuse(session, followup_id, zone, now)
            raise


#: Statuses whose message went out (or may have): shown as the bytes sent, never re-rendered.
ON_THE_WIRE = (Status.SENDING, Status.SENT, Status.UNCERTAIN, Status.BOUNCED)


@dataclass
class Preview:
    #: A comment line, the headers as they go out, then the decoded text (and HTML) to read.
    text: str
    #: The exact bytes on the wire (CRLF, encoded), as `followup preview --raw` shows them.
    raw: str
    warnings: list[str]
    #: For a follow-up that went out: the message exactly as transmitted, byte for byte.
    sent: bytes | None = None


def sent_copy(row: FollowUp) -> bytes | None:
    """The bytes a follow-up went out with (None: not sent); UsageError if they were not kept."""
    if row.status not in ON_THE_WIRE:
        return None
    if row.sent_bytes is None:
        raise UsageError(
            f"follow-up {row.id} is {row.status}, but the message it went out with was not kept "
            "(it went out before followup kept messages as sent, or was larger than 1 MiB)"
        )
    return row.sent_bytes


def preview(settings: Settings, db: Database, followup_id: int, now: datetime) -> Preview:
    """The message exactly as it would go out now (rendered fresh unless its text is stored);
    for one that went out, the bytes it went out with."""
    me = settings.require_sender()
    templates = templates_for(settings)
    with db.reading() as session:
        row = _load(session, followup_id)
        sent = sent_copy(row)
        if sent is not None:
            header = f"# follow-up {followup_id} ({row.step}), status {row.status}: as sent"
            return Preview(
                text=header + "\n" + readable(sent), raw=sent.decode("utf-8"), warnings=[],
                sent=sent,
            )  # fmt: skip
        if row.body_text is None:
            rendered, thread = compose(session, row, templates, me)
            row.subject, row.body_text, row.body_html = (
                rendered.subject,
                rendered.text,
                rendered.html,
            )
        else:
            thread = thread_of(session, row, templates, me)
        row.in_reply_to = thread.in_reply_to
        row.references = " ".join(thread.references) or None
        row.message_id = row.message_id or "<assigned-when-sent@" + me.domain + ">"
        message = outgoing(row, settings, now)
        warnings = [
            ("BLOCKS SENDING: " if f.blocking else "") + f.message for f in check_followup(row)
        ]
        header = f"# follow-up {followup_id} ({row.step}), status {row.status}"
        # Nothing of the preview is stored: the row's fields were only borrowed to build it,
        # in a session that is rolled back.
    data = message.as_bytes()
    if message.recipients()[1:]:
        header += f", Bcc {', '.join(message.recipients()[1:])}"
    raw = header + "\n" + data.decode("ascii").replace("\r\n", "\n")
    return Preview(text=header + "\n" + readable(data), raw=raw, warnings=warnings)


def readable(data: bytes) -> str:
    """A message as a person reads it: decoded headers, then the decoded text and HTML parts."""
    parsed = message_from_bytes(data, policy=policy.default)
    lines = [
        f"{name}: {parsed[name]}"
        for name in ("From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References")
        if parsed[name] is not None
    ]
    text = parsed.get_body(("plain",))
    if text is not None:  # what followup writes always has one
        lines += ["", text.get_content().replace("\r\n", "\n").rstrip("\n")]
    html = parsed.get_body(("html",))
    if html is not None:
        lines += ["", "----- HTML alternative -----", html.get_content().replace("\r\n", "\n")]
    return "\n".join(lines) + "\n"


def send_test(settings: Settings, to: str | None, now: datetime) -> str:
    """Send a short test message; returns what the server (or the outbox) said."""
    me = settings.require_sender()
    recipient = Mailbox(me.name, me.email) if to is None else Mailbox("", check_email(to, "--to"))
    message = OutgoingMessage(
        sender=me,
        to=recipient,
        subject="followup test message",
        text=(
            f"Hi {me.name or me.email},\n\nThis is a test from followup: if you can read it, "
            "your mail settings work.\n\n-- followup\n"
        ),
        message_id=new_message_id(me.domain),
        date=now,
    )
    transport = (
        SmtpTransport(settings.smtp) if settings.smtp else OutboxTransport(settings.outbox_dir)
    )
    try:
        result = transport.send(
            Outgoing(
                me.email, message.recipients(), message.as_bytes(), f"test-{now:%Y%m%d-%H%M%S}"
            )
        )
    except DeliveryError as exc:
        raise UsageError(f"test message not sent: {exc}") from None
    finally:
        transport.close()
    return f"test message sent to {recipient.email} via {transport.address}: {result.reply}"
