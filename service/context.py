"""What templates see: plain data made from an interview, a contact and the user, in the
recipient's locale and the letter's language. The user's private notes reach only messages to
the user."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from service.languages import DEFAULT_LANGUAGE, greeting_for
from service.models import Contact, Interview
from service.names import read_name
from service.validation import Mailbox


@lru_cache(maxsize=256)
def locale_for(zone: str, language: str = DEFAULT_LANGUAGE) -> str:
    """The locale a recipient in `zone` reads `language` in: en_US in New York, en_GB in London."""
    from babel import Locale, UnknownLocaleError
    from babel.core import get_global

    territory = get_global("zone_territories").get(zone)
    if territory and territory != "001":
        try:
            return str(Locale.parse(f"{language}_{territory}"))
        except (UnknownLocaleError, ValueError):
            pass
    return language


@lru_cache(maxsize=4096)
def long_date(day: date, locale: str) -> str:
    """A date as the locale writes it in a letter: "Thursday, November 26, 2026" (en_US)."""
    from babel.dates import format_date

    return format_date(day, format="full", locale=locale)


@lru_cache(maxsize=4096)
def weekday(day: date, locale: str) -> str:
    from babel.dates import format_date

    return format_date(day, format="EEEE", locale=locale)


@lru_cache(maxsize=4096)
def clock_time(moment: datetime, locale: str) -> str:
    """A time of day as the locale writes it: "2:00 PM" (en_US), "14:00" (en_GB)."""
    from babel.dates import format_time

    return format_time(moment, format="short", locale=locale)


def person(box: Mailbox) -> dict:
    """The user, as templates see them."""
    name = read_name(box.name) if box.name else None
    return {
        "name": box.name,
        "first_name": name.given if name and name.given else box.name,
        "email": box.email,
    }


def contact_data(contact: Contact, language: str = DEFAULT_LANGUAGE) -> dict:
    """A contact as templates see them; `greeting` is the user's choice or made from the name,
    as a letter in `language` greets (see languages.greeting_for)."""
    name = read_name(contact.name)
    return {
        "name": name.full,
        "first_name": name.given,
        "last_name": name.family,
        "honorific": name.honorific,
        "greeting": contact.greeting or greeting_for(name, language).text,
        "email": contact.email,
        "title": contact.title or "",
        "phone": contact.phone or "",
        "topic": contact.topic or "",
    }


def interview_data(
    interview: Interview, *, private: bool, locale: str, language: str = DEFAULT_LANGUAGE
) -> dict:
    """The interview as templates see it; `private` adds the user's own notes (only for mail to
    the user: a template that mails someone else cannot show them, not even by mistake)."""
    zone = ZoneInfo(interview.timezone)
    start = interview.starts_at.astimezone(zone)
    data = {
        "id": interview.id,
        "company": interview.company,
        "role": interview.role,
        "date": long_date(start.date(), locale),
        "weekday": weekday(start.date(), locale),
        "time": clock_time(start, locale),
        "timezone": interview.timezone,
        "location": interview.location or "",
        "questions": list(interview.questions or []),
        "decision_date": long_date(interview.decision_date, locale)
        if interview.decision_date
        else "",
        "contacts": [contact_data(c, language) for c in interview.contacts if not c.removed],
    }
    if private:
        data["notes"] = interview.notes or ""
    return data


def followup_context(
    interview: Interview,
    contact: Contact | None,
    me: Mailbox,
    step: str,
    due_at: datetime,
    language: str = DEFAULT_LANGUAGE,
) -> dict:
    """Everything a follow-up template may use; plain data only (the sandbox sees no objects).

    `contact` None means the message goes to the user: only then are the notes in it.
    `language` picks the template (NAME.LANG.txt) and the words of dates and greetings.
    """
    zone = ZoneInfo(interview.timezone)
    locale = locale_for(interview.timezone, language)
    return {
        "interview": interview_data(
            interview, private=contact is None, locale=locale, language=language
        ),
        "contact": contact_data(contact, language) if contact is not None else None,
        "me": person(me),
        "step": step,
        "due": long_date(due_at.astimezone(zone).date(), locale),
        "language": language,
    }


def sample_context(me: Mailbox, *, private: bool = False, language: str = DEFAULT_LANGUAGE) -> dict:
    """A realistic interview for `followup doctor` to render every template with, in
    `language`; `private` as for a message to the user (with the notes)."""
    locale = locale_for("America/New_York", language)
    day, decided, due = date(2026, 9, 4), date(2026, 9, 11), date(2026, 9, 8)
    contact = {
        "name": "Jane Roe",
        "first_name": "Jane",
        "last_name": "Roe",
        "honorific": "",
        "greeting": greeting_for(read_name("Jane Roe"), language).text,
        "email": "jane.roe@example.com",
        "title": "Engineering Manager",
        "phone": "+1 555 0100",
        "topic": "the team's move to event sourcing",
    }
    interview = {
        "id": 0,
        "company": "Example Corp",
        "role": "Senior Engineer",
        "date": long_date(day, locale),
        "weekday": weekday(day, locale),
        "time": clock_time(datetime(2026, 9, 4, 14, 0), locale),
        "timezone": "America/New_York",
        "location": "video call",
        "questions": [
            "How does the team handle on-call?",
            "What does success look like in 6 months?",
        ],
        "decision_date": long_date(decided, locale),
        "contacts": [contact],
    }
    if private:
        interview["notes"] = "salary range discussed; they seemed rushed"
    return {
        "interview": interview,
        "contact": None if private else contact,
        "me": person(me),
        "step": "sample",
        "due": long_date(due, locale),
        "language": language,
    }
