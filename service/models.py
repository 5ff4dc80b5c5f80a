"""The stored records: interviews, their contacts, follow-ups and the append-only event log."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

if TYPE_CHECKING:
    from service.rendering import Rendered

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """A timezone-aware datetime stored in UTC; a naive value is refused, not guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"refusing to store naive datetime {value!r}: make it timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class InterviewStatus(StrEnum):
    ACTIVE = "active"  #: follow-ups go ahead
    OFFER = "offer"  #: closed: an offer came
    REJECTED = "rejected"  #: closed: the company said no
    WITHDRAWN = "withdrawn"  #: closed: the candidate withdrew
    CANCELLED = "cancelled"  #: closed: the interview itself was called off (its invitation too)

    @classmethod
    def outcomes(cls) -> list[str]:
        return [cls.OFFER, cls.REJECTED, cls.WITHDRAWN, cls.CANCELLED]


class Status(StrEnum):
    """Where a follow-up is in its life; every change is a guarded update plus an event."""

    PLANNED = "planned"  #: waiting for its due time (or, under review, for rendering)
    PENDING_REVIEW = "pending_review"  #: rendered, waiting for the user's approval
    APPROVED = "approved"  #: the user approved this exact text; sent when due
    SENDING = "sending"  #: claimed by a worker and committed before SMTP DATA
    SENT = "sent"  #: the server (or the outbox) accepted it
    DEFERRED = "deferred"  #: a temporary failure; retried at retry_at
    FAILED = "failed"  #: a permanent failure, or retries gave up
    CANCELLED = "cancelled"  #: interview closed, the user cancelled, or a reply came
    REJECTED = "rejected"  #: the user rejected it in review; never sent
    UNCERTAIN = "uncertain"  #: found in `sending` after a crash: the server may have it
    EXPIRED = "expired"  #: too late to send (not approved, or not sendable, in time)
    BOUNCED = "bounced"  #: sent, then the mailbox got a bounce for its recipient


class Kind(StrEnum):
    FOLLOWUP = "followup"  #: a step of the plan, to a contact or to the user
    NOTE = "note"  #: the service writing to the user (review digest, failure notice)


class Reason(StrEnum):
    """Why a follow-up ended where it is (cancelled, expired, uncertain); what the schedule did,
    it may undo."""

    SCHEDULE = "schedule"  #: the interview as recorded no longer calls for it, or makes it late
    LATE = "late"  #: its time passed before it could go (not approved, or not sendable, in time)
    USER = "user"  #: the user cancelled or rejected it
    CLOSED = "closed"  #: the interview was closed
    REPLIED = "replied"  #: the company answered: nothing more goes out for the interview
    BOUNCED = "bounced"  #: mail to the address bounced
    INTERRUPTED = "interrupted"  #: uncertain: its worker stopped while sending it
    CONNECTION_LOST = "connection_lost"  #: uncertain: the connection dropped after the data
    RESTORED = "restored"  #: uncertain: restored from a backup; it may have gone out since


#: States from which a follow-up may still go out.
LIVE = (Status.PLANNED, Status.PENDING_REVIEW, Status.APPROVED, Status.DEFERRED)
#: States that may have reached the recipient.
DELIVERED = (Status.SENT, Status.SENDING, Status.UNCERTAIN)


class Interview(Base):
    __tablename__ = "interviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    timezone: Mapped[str] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(String(300), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    questions: Mapped[list] = mapped_column(JSON, default=list)
    decision_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default=InterviewStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: The calendar invitation it was imported from (its UID and SEQUENCE): importing a newer
    #: version updates this interview instead of recording another.
    source_uid: Mapped[str | None] = mapped_column(String(500), nullable=True, unique=True)
    source_sequence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The language its follow-ups are written in ("de"); None: the user's (FOLLOWUP_LANGUAGE).
    language: Mapped[str | None] = mapped_column(String(10), nullable=True)

    contacts: Mapped[list[Contact]] = relationship(
        back_populates="interview", order_by="Contact.position"
    )


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    title: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    #: What the thank-you to this person mentions ("the move to event sourcing"); never the notes.
    topic: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: The greeting the user chose for this person ("Dear Dr. Fox"); None: made from the name.
    greeting: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: A contact dropped by `interview update` stays for the history of its follow-ups.
    removed: Mapped[bool] = mapped_column(Boolean, default=False)

    interview: Mapped[Interview] = relationship(back_populates="contacts")


class FollowUp(Base):
    __tablename__ = "followups"
    __table_args__ = (
        UniqueConstraint("interview_id", "step", "recipient_key", name="uq_followups_step"),
        Index("ix_followups_status_due", "status", "due_at"),
        Index("ix_followups_status_retry", "status", "retry_at"),
        Index("ix_followups_thread", "interview_id", "contact_id"),
        Index("ix_followups_status_expires", "status", "expires_at"),
        Index("ix_followups_status_started", "status", "sending_started_at"),
        Index("ix_followups_status_claim", "status", "claim_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: None for messages about no single interview (the review digest).
    interview_id: Mapped[int | None] = mapped_column(ForeignKey("interviews.id"), nullable=True)
    #: None when the recipient is the user.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), nullable=True)
    #: "contact:<id>", "me" or, for a note, "note:<what about>"; makes (interview, step,
    #: recipient) unique.
    recipient_key: Mapped[str] = mapped_column(String(40))
    step: Mapped[str] = mapped_column(String(64))
    #: "followup" (a step of the plan) or "note" (the service writing to the user: a review
    #: digest, a failure notice); notes never need review and are listed apart.
    kind: Mapped[str] = mapped_column(String(10), default=Kind.FOLLOWUP, server_default="followup")
    template: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default=Status.PLANNED)
    #: Why it ended where it is, as a short code (see Reason): what a later change may undo.
    reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    #: After this moment an unsent follow-up is too late and expires.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Moves with every change to what it would send (edit, approve, reject, cancel, re-time,
    #: a change of its interview or contact): the worker's `sending` mark is conditioned on the
    #: revision it rendered, so a change made meanwhile is never lost.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sending_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: The worker that holds it: a lease until claim_until, or the one sending it.
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    #: A claim is a lease, not a status: after this moment another worker may take it.
    claim_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: While `sending`: the status it came from (where a release puts it back), the stream (one
    #: worker's SMTP connection) it goes out on, and its place in that stream.
    send_from: Mapped[str | None] = mapped_column(String(20), nullable=True)
    stream: Mapped[str | None] = mapped_column(String(120), nullable=True)
    send_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    # Delivery: the message as it went (or will go) out.
    message_id: Mapped[str | None] = mapped_column(String(250), nullable=True, unique=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(250), nullable=True)
    references: Mapped[str | None] = mapped_column(Text, nullable=True)
    subject: Mapped[str | None] = mapped_column(Text, nullable=True)
    body_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    body_html: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Hash of subject + text + HTML: what the user approved, checked again before sending.
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Hash of the template source and the data it was rendered from: a change means re-review.
    source_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    approved_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    digest_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    server_reply: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The message exactly as transmitted (headers and body), stored with its `sending` mark:
    #: what `preview --raw` shows for a sent follow-up; never re-rendered.
    sent_bytes: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    interview: Mapped[Interview | None] = relationship()
    contact: Mapped[Contact | None] = relationship()

    @classmethod
    def note_to_user(
        cls,
        *,
        interview_id: int | None,
        step: str,
        about: str,
        template: str,
        rendered: Rendered,
        now: datetime,
    ) -> FollowUp:
        """A note from the service to the user, rendered now and due now (a failure notice, a
        review digest); `about` makes it unique (the follow-up it is about, or the moment)."""
        return cls(
            interview_id=interview_id,
            contact_id=None,
            recipient_key=f"note:{about}"[:40],
            step=step[:64],
            kind=Kind.NOTE,
            template=template,
            due_at=now,
            status=Status.PLANNED,
            attempts=0,
            created_at=now,
            updated_at=now,
            subject=rendered.subject,
            body_text=rendered.text,
            body_html=rendered.html,
            content_hash=rendered.content_hash,
            source_hash=rendered.source_hash,
        )


class Event(Base):
    """One row per state change, never updated or deleted."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    interview_id: Mapped[int | None] = mapped_column(
        ForeignKey("interviews.id"), nullable=True, index=True
    )
    followup_id: Mapped[int | None] = mapped_column(
        ForeignKey("followups.id"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    actor: Mapped[str] = mapped_column(String(100), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class Worker(Base):
    """A worker process as the others (and `followup doctor`) see it: alive, and whether its
    sending is paused by settings that do not work (a refused login)."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paused_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: Why the mailbox cannot be read right now (None: it can, or no mailbox is set).
    inbox_error: Mapped[str | None] = mapped_column(Text, nullable=True)


# --- inbox (issue 10): what followup read in the user's mailbox -------------------------------


class InboxCursor(Base):
    """How far each IMAP folder has been read: its UIDVALIDITY and the last UID processed."""

    __tablename__ = "inbox_cursors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    folder: Mapped[str] = mapped_column(String(300), unique=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InboxMessage(Base):
    """A message from the mailbox that concerns an interview, recorded once (by Message-ID).

    A reply recorded here stops the interview's follow-ups; `source` is "imap" or "manual"
    (`followup interview replied`).
    """

    __tablename__ = "inbox_messages"
    __table_args__ = (Index("ix_inbox_messages_interview_kind", "interview_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    interview_id: Mapped[int | None] = mapped_column(ForeignKey("interviews.id"), nullable=True)
    followup_id: Mapped[int | None] = mapped_column(ForeignKey("followups.id"), nullable=True)
    source: Mapped[str] = mapped_column(String(20), default="imap")
    folder: Mapped[str | None] = mapped_column(String(300), nullable=True)
    uid: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sender: Mapped[str] = mapped_column(String(300), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    sent_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    hiring: Mapped[str | None] = mapped_column(String(20), nullable=True)
    return_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: What was done about it: cancelled/bounced/moved follow-up ids, failed recipients, notes.
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class VouchedSender(Base):
    """A sender the user counted as on an interview's side (`inbox count-as-reply`): their
    next message about that interview acts by itself, as a contact's would."""

    __tablename__ = "vouched_senders"
    __table_args__ = (UniqueConstraint("interview_id", "address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"))
    #: The sender's address, lower case.
    address: Mapped[str] = mapped_column(String(300))
    #: The message the user counted as a reply.
    inbox_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbox_messages.id"), nullable=True
    )
    vouched_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SentCopy(Base):
    """A sent follow-up still to be appended to the Sent folder (retried until it is)."""

    __tablename__ = "inbox_sent_copies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    followup_id: Mapped[int | None] = mapped_column(
        ForeignKey("followups.id"), nullable=True, unique=True
    )
    message_id: Mapped[str] = mapped_column(String(250))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


# --- web (issue 11): what `followup serve` and the worker share ------------------------------


class WebSecret(Base):
    """A secret kept in the database, so the worker and the web app share it: the key that
    signs digest links, the hash of a login password generated at first start."""

    __tablename__ = "web_secrets"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApproveLink(Base):
    """An approve link of a review digest, for one follow-up: usable once, until it expires.

    Only a hash of the link's token is stored: the database alone cannot make a usable link.
    """

    __tablename__ = "web_approve_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    followup_id: Mapped[int] = mapped_column(ForeignKey("followups.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Set by the one POST that approved with it (given back if the approval was refused).
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
