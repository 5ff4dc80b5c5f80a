"""What an import produces: interviews read from files, the problems found, and the options used."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from service.errors import UsageError
from service.interviews import ContactInput, InterviewInput
from service.validation import check_zone, clean_line

#: How many problems the error message lists before saying how many more there are.
SHOWN_PROBLEMS = 100


@dataclass(frozen=True)
class ImportOptions:
    """What the user told the import: flags and who they are."""

    #: The user's own zone (FOLLOWUP_TIMEZONE): floating times are read in it when --tz is absent.
    user_zone: str
    #: The user's own addresses (FOLLOWUP_FROM plus FOLLOWUP_MY_ADDRESSES), never made contacts.
    my_addresses: frozenset[str] = frozenset()
    #: --tz: the interview's zone (floating times are read in it; it overrides an invite's TZID).
    tz: str | None = None
    #: --company / --role: override what an invitation's SUMMARY suggests; fill empty CSV cells.
    company: str | None = None
    role: str | None = None

    @classmethod
    def build(
        cls,
        *,
        user_zone: str,
        my_addresses: Iterable[str] = (),
        tz: str | None = None,
        company: str | None = None,
        role: str | None = None,
    ) -> ImportOptions:
        """Checked options (a bad flag raises UsageError); addresses compare case-insensitively."""
        mine = frozenset(a.strip().lower() for a in my_addresses if a and a.strip())
        return cls(
            user_zone=check_zone(user_zone, "FOLLOWUP_TIMEZONE").key,
            my_addresses=mine,
            tz=check_zone(tz, "--tz").key if tz else None,
            company=clean_line(company, "--company", max_len=200) if company else None,
            role=clean_line(role, "--role", max_len=200) if role else None,
        )


@dataclass(frozen=True)
class ImportedInterview:
    """One interview read from a file, checked by the CLI's rules, ready to be stored."""

    #: Where it came from, for messages: "invite.ics:14/UID" or "people.csv:row 3".
    source: str
    #: Empty only for a cancellation whose SUMMARY says neither (it is matched by UID).
    company: str
    role: str
    #: Aware, in UTC.
    starts_at: datetime
    #: The IANA zone the recipients' business hours are read in.
    timezone: str
    #: None: the invitation gives no end; the usual default applies.
    duration: timedelta | None
    location: str
    contacts: tuple[ContactInput, ...]
    notes: str = ""
    questions: tuple[str, ...] = ()
    decision_date: date | None = None
    #: The language of its follow-ups ("de"); None: the user's (FOLLOWUP_LANGUAGE).
    language: str | None = None
    #: The invitation's UID and SEQUENCE (None / 0 for CSV rows): a newer SEQUENCE is an update.
    uid: str | None = None
    sequence: int = 0
    #: METHOD:CANCEL or STATUS:CANCELLED: close the interview with this UID.
    cancelled: bool = False
    #: Things the user should know that do not stop the import (shown by --dry-run).
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.starts_at.tzinfo is None or self.starts_at.utcoffset() is None:
            raise ValueError(f"{self.source}: starts_at must be timezone-aware")

    def to_input(self) -> InterviewInput:
        """The checked values as `interviews.add_interview` / `update_interview` take them."""
        return InterviewInput(
            company=self.company or None,
            role=self.role or None,
            starts_at=self.starts_at,
            duration=self.duration,
            timezone=self.timezone,
            location=self.location,
            notes=self.notes,
            questions=list(self.questions),
            decision_date=self.decision_date,
            contacts=list(self.contacts),
        )

    def as_json(self) -> dict:
        """What --dry-run --json shows for it."""
        return {
            "source": self.source,
            "uid": self.uid,
            "sequence": self.sequence,
            "cancelled": self.cancelled,
            "company": self.company,
            "role": self.role,
            "starts_at": self.starts_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "timezone": self.timezone,
            "duration_minutes": None
            if self.duration is None
            else int(self.duration.total_seconds() // 60),
            "location": self.location,
            "contacts": [
                {"name": c.name, "email": c.email, "title": c.title, "phone": c.phone}
                for c in self.contacts
            ],
            "notes": self.notes,
            "questions": list(self.questions),
            "decision_date": self.decision_date.isoformat() if self.decision_date else None,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class ImportProblem:
    """One thing wrong with an input file, located as precisely as the format allows."""

    file: str
    message: str
    line: int | None = None
    row: int | None = None
    #: A CSV column as the spreadsheet shows it: "C (at)".
    column: str | None = None
    uid: str | None = None

    @property
    def where(self) -> str:
        parts = []
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        if self.uid is not None:
            parts.append(f"event {self.uid}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where
        return f"{self.file}: {where}: {self.message}" if where else f"{self.file}: {self.message}"

    def as_json(self) -> dict:
        return {
            "file": self.file,
            "line": self.line,
            "row": self.row,
            "column": self.column,
            "uid": self.uid,
            "message": self.message,
        }


class ImportFailed(UsageError):
    """The input has problems: all of them are listed, and nothing was recorded."""

    def __init__(self, problems: list[ImportProblem]):
        self.problems = list(problems)
        count = len(self.problems)
        lines = [f"{count} problem{'s' if count != 1 else ''} found, nothing was recorded:"]
        lines += [f"  {p}" for p in self.problems[:SHOWN_PROBLEMS]]
        if count > SHOWN_PROBLEMS:
            lines.append(f"  ... and {count - SHOWN_PROBLEMS} more (--json lists them all)")
        super().__init__("\n".join(lines))


@dataclass
class Problems:
    """Collects every problem of an import so that they are reported at once, at the end."""

    items: list[ImportProblem] = field(default_factory=list)

    def add(self, file: str, message: str, **where: Any) -> None:
        self.items.append(ImportProblem(file, message, **where))

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise ImportFailed(self.items)
