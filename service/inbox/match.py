"""Matching: which interview (and follow-up) a message concerns, in the issue's order.

1. thread headers (In-Reply-To / References) naming a Message-ID followup sent: exact;
2. the sender is a contact of an active interview, or a sender the user counted as on its side
   (`inbox count-as-reply`);
3. the sender's domain is a contact's domain (someone else at the company), except free-mail
   domains (gmail.com, outlook.com, ...), where only exact addresses count, and except
   automated senders such as no-reply@ (a company's newsletter is not an answer).
Mail from the user's own address never matches. Where several active interviews fit, the most
recent one wins. Bounces match by the returned Message-ID, else by the failed address.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.freemail import is_free_mail
from service.inbox.bounce import Bounce
from service.inbox.message import Incoming
from service.models import (
    DELIVERED,
    Contact,
    FollowUp,
    Interview,
    InterviewStatus,
    Status,
    VouchedSender,
)

#: Sender names of machines, not people: a domain match from these is no answer.
_AUTOMATED = re.compile(
    r"^(no-?reply|do-?not-?reply|noreply|notifications?|newsletter|news|marketing|mailer|bounces?"
    r"|info|updates?|alerts?)([+._-].*)?$",
    re.IGNORECASE,
)
#: Follow-up states whose Message-ID a bounce can name.
BOUNCEABLE = (Status.SENT, Status.UNCERTAIN)


@dataclass
class Match:
    """Which interview and follow-up a message concerns; all None when it concerns none."""

    interview_id: int | None = None
    followup_id: int | None = None
    contact_id: int | None = None
    #: "thread", "address", "domain", or "" when unmatched.
    how: str = ""
    reason: str = "no interview matches"

    @property
    def matched(self) -> bool:
        return self.interview_id is not None


@dataclass(frozen=True)
class _Sent:
    followup_id: int
    interview_id: int | None
    contact_id: int | None
    status: str


class Matcher:
    """Matches many messages against the database with few queries (one pass of the inbox)."""

    def __init__(self, session: Session):
        self.session = session
        self._sent: dict[str, _Sent | None] = {}
        rows = session.execute(
            select(Contact.id, Contact.email, Interview.id, Interview.starts_at)
            .join(Interview, Contact.interview_id == Interview.id)
            .where(Interview.status == InterviewStatus.ACTIVE, Contact.removed.is_(False))
            .order_by(Interview.starts_at.desc(), Interview.id.desc())
        ).all()
        #: address -> [(interview id, contact id)], most recent interview first
        self.by_address: dict[str, list[tuple[int, int]]] = {}
        #: domain -> [interview id], most recent first
        self.by_domain: dict[str, list[int]] = {}
        for contact_id, email, interview_id, _ in rows:
            address = email.lower()
            self.by_address.setdefault(address, []).append((interview_id, contact_id))
            domain = address.rsplit("@", 1)[-1]
            if not is_free_mail(domain):
                ids = self.by_domain.setdefault(domain, [])
                if interview_id not in ids:
                    ids.append(interview_id)
        #: address -> [interview id] of the senders the user vouched for, most recent first
        self.vouched: dict[str, list[int]] = {}
        for address, interview_id in session.execute(
            select(VouchedSender.address, Interview.id)
            .join(Interview, VouchedSender.interview_id == Interview.id)
            .where(Interview.status == InterviewStatus.ACTIVE)
            .order_by(Interview.starts_at.desc(), Interview.id.desc())
        ):
            self.vouched.setdefault(address, []).append(interview_id)

    def prime(self, messages: Iterable[Incoming]) -> None:
        """Look up, in one query, every Message-ID the messages' thread headers name."""
        wanted = {mid for m in messages for mid in m.thread_ids if mid not in self._sent}
        self._lookup(wanted)

    def _lookup(self, ids: set[str]) -> None:
        if not ids:
            return
        found = {}
        ordered = sorted(ids)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            for row in self.session.execute(
                select(
                    FollowUp.message_id,
                    FollowUp.id,
                    FollowUp.interview_id,
                    FollowUp.contact_id,
                    FollowUp.status,
                ).where(FollowUp.message_id.in_(chunk))
            ):
                found[row[0]] = _Sent(row[1], row[2], row[3], row[4])
        for mid in ids:
            self._sent[mid] = found.get(mid)

    def sent(self, message_id: str) -> _Sent | None:
        if message_id not in self._sent:
            self._lookup({message_id})
        return self._sent[message_id]

    def match(self, message: Incoming) -> Match:
        """The interview a person's message (or an auto-reply) concerns."""
        for mid in message.thread_ids:
            sent = self.sent(mid)
            if sent is not None and sent.interview_id is not None:
                return Match(
                    sent.interview_id,
                    sent.followup_id,
                    sent.contact_id,
                    "thread",
                    f"answers follow-up {sent.followup_id} ({mid})",
                )
        address = message.sender
        if address in self.by_address:
            interview_id, contact_id = self.by_address[address][0]
            return Match(
                interview_id,
                self.latest_to(contact_id),
                contact_id,
                "address",
                f"{address} is a contact of interview {interview_id}",
            )
        if address in self.vouched:
            interview_id = self.vouched[address][0]
            return Match(
                interview_id,
                None,
                None,
                "address",
                f"{address} was recorded by the user as on the side of interview {interview_id}",
            )
        local, _, domain = address.rpartition("@")
        if is_free_mail(domain):
            return Match(reason=f"{domain} is a free-mail domain: only exact addresses count")
        if domain in self.by_domain:
            if _AUTOMATED.match(local):
                return Match(reason=f"{address} is an automated sender, not a person")
            interview_id = self.by_domain[domain][0]
            return Match(
                interview_id,
                None,
                None,
                "domain",
                f"{domain} is the domain of a contact of interview {interview_id}",
            )
        return Match()

    def match_bounce(self, bounce: Bounce) -> Match:
        """The follow-up a bounce is about: by the returned Message-ID, else the failed address."""
        if bounce.original_message_id:
            sent = self.sent(bounce.original_message_id)
            if sent is None:
                return Match(reason=f"the bounced message {bounce.original_message_id} is not ours")
            return Match(
                sent.interview_id,
                sent.followup_id,
                sent.contact_id,
                "thread",
                f"returns follow-up {sent.followup_id} ({bounce.original_message_id})",
            )
        for address in bounce.failed_addresses or [r.address for r in bounce.recipients]:
            row = self.session.execute(
                select(FollowUp.id, FollowUp.interview_id, FollowUp.contact_id)
                .join(Contact, FollowUp.contact_id == Contact.id)
                .where(
                    func.lower(Contact.email) == address.lower(),
                    FollowUp.status.in_(DELIVERED + (Status.BOUNCED,)),
                )
                .order_by(FollowUp.sent_at.desc().nulls_last(), FollowUp.id.desc())
                .limit(1)
            ).first()
            if row is not None:
                return Match(
                    row[1], row[0], row[2], "address", f"{address} received follow-up {row[0]}"
                )
        return Match(reason="no follow-up was sent to the failed address")

    def latest_to(self, contact_id: int) -> int | None:
        """The follow-up most recently sent to a contact, if any."""
        return self.session.scalar(
            select(FollowUp.id)
            .where(FollowUp.contact_id == contact_id, FollowUp.status.in_(DELIVERED))
            .order_by(FollowUp.sent_at.desc().nulls_last(), FollowUp.id.desc())
            .limit(1)
        )
