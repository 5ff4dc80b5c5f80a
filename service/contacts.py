"""An interview's contacts: read from `Name <email> | title | phone | topic=... | greeting=...`,
added, removed and changed, never silently."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from service.errors import UsageError
from service.models import Contact, Interview
from service.validation import check_email, clean_line, clean_text, parse_mailbox

#: Fields a contact spec may give as `key=value`, with their length limits.
FIELDS = {"title": 200, "phone": 50, "topic": 500, "greeting": 200}
SPEC_HELP = "'Name <email> | title | phone | topic=... | greeting=...'"


@dataclass(frozen=True)
class ContactInput:
    """A checked contact, as given on the command line (or a form, or an import)."""

    name: str
    email: str
    title: str = ""
    phone: str = ""
    #: What the thank-you to this person mentions; their own, so no two notes read alike.
    topic: str = ""
    #: The greeting line without its comma, e.g. "Dear Dr. Fox"; empty: made from the name.
    greeting: str = ""


def parse_contact(value: str, flag: str = "--contact") -> ContactInput:
    """Parse `Name <email>`, then optionally `| title | phone`, and `| key=value` parts for
    title, phone, topic and greeting."""
    clean_line(value, flag, max_len=1200)
    first, *rest = (p.strip() for p in value.split("|"))
    box = parse_mailbox(first, flag)
    if not box.name:
        raise UsageError(
            f"{flag} {value!r} has no name: use 'Name <email>' so the greeting is right"
        )
    fields: dict[str, str] = {}
    positional = ["title", "phone"]
    for part in rest:
        key, sep, text = part.partition("=")
        key = key.strip().lower()
        if sep and key in FIELDS:
            pass
        elif sep and key.isidentifier() and " " not in key:
            raise UsageError(
                f"{flag} {value!r}: {key!r} is not a contact field (use title, phone, topic or "
                f"greeting, as in {SPEC_HELP})"
            )
        elif positional:
            key, text = positional.pop(0), part
        else:
            raise UsageError(f"{flag} {value!r} has too many parts: use {SPEC_HELP}")
        if key in fields:
            raise UsageError(f"{flag} {value!r} gives {key} twice")
        fields[key] = clean_line(text, f"{flag} {key}", max_len=FIELDS[key], required=False)
    return ContactInput(box.name, box.email, **fields)


def parse_assignment(value: str, flag: str) -> tuple[str, str]:
    """`EMAIL=TEXT` (as in --topic and --greeting) -> (address, text)."""
    address, sep, text = value.partition("=")
    if not sep:
        raise UsageError(
            f"{flag} {value!r}: use {flag} 'address=text', e.g. 'jane@acme.example=...'"
        )
    field = flag.lstrip("-")
    return check_email(address.strip(), f"{flag} address"), clean_line(
        clean_text(text, flag), flag, max_len=FIELDS[field], required=False
    )


def live_contacts(interview: Interview) -> list[ContactInput]:
    """The interview's current contacts, as inputs (the start of an add/remove/change)."""
    return [
        ContactInput(c.name, c.email, c.title, c.phone, c.topic or "", c.greeting or "")
        for c in interview.contacts
        if not c.removed
    ]


def edit_contacts(
    current: list[ContactInput],
    *,
    replace_all: list[ContactInput] | None = None,
    add: Sequence[ContactInput] = (),
    remove: Sequence[str] = (),
    topics: Sequence[tuple[str, str]] = (),
    greetings: Sequence[tuple[str, str]] = (),
) -> list[ContactInput]:
    """The contact list after a change; refuses what cannot be meant (removing someone absent)."""
    result = list(replace_all) if replace_all is not None else list(current)
    for address in remove:
        kept = [c for c in result if c.email.lower() != address.lower()]
        if len(kept) == len(result):
            raise UsageError(
                f"--remove-contact {address}: no such contact on this interview "
                f"(it has {', '.join(c.email for c in result) or 'none'})"
            )
        result = kept
    for contact in add:
        if any(c.email.lower() == contact.email.lower() for c in result):
            raise UsageError(f"--add-contact: {contact.email} is already a contact")
        result.append(contact)
    for flag, changes in (("--topic", topics), ("--greeting", greetings)):
        for address, text in changes:
            index = next(
                (n for n, c in enumerate(result) if c.email.lower() == address.lower()), None
            )
            if index is None:
                raise UsageError(f"{flag} {address}: no such contact on this interview")
            result[index] = replace(result[index], **{flag.lstrip("-"): text})
    emails = [c.email.lower() for c in result]
    if len(set(emails)) != len(emails):
        raise UsageError("--contact: the same address is given twice")
    if not result:
        raise UsageError("an interview needs at least one contact: give --contact or --add-contact")
    return result


def alike_warnings(contacts: list[ContactInput]) -> list[str]:
    """Panel members whose thank-you notes would read the same (career advice: it looks careless)."""
    if len(contacts) < 2:
        return []
    by_topic: dict[str, list[str]] = {}
    for c in contacts:
        by_topic.setdefault(c.topic.strip().lower(), []).append(c.name)
    return [
        f"the thank-you notes to {' and '.join(names)} would read alike: give each their own "
        f"topic (--contact '... | topic=what you talked about', or --topic 'address=...')"
        for names in by_topic.values()
        if len(names) > 1
    ]


def store_contacts(session: Session, interview: Interview, contacts: list[ContactInput]) -> None:
    """Make the interview's contacts these; a dropped one stays (removed) for its history."""
    by_email = {c.email.lower(): c for c in interview.contacts}
    for position, given in enumerate(contacts):
        row = by_email.pop(given.email.lower(), None)
        if row is None:
            row = Contact(interview=interview, email=given.email)
            session.add(row)
        row.position, row.name, row.email = position, given.name, given.email
        row.title, row.phone, row.removed = given.title, given.phone, False
        row.topic, row.greeting = given.topic, given.greeting or None
    for row in by_email.values():
        if not row.removed:
            row.removed = True
            row.position = 1000 + row.position
    session.flush()
    session.refresh(interview, ["contacts"])
