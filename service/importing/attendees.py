"""The people of an invitation: ORGANIZER and ATTENDEE as contacts, minus the user and rooms."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from icalendar import Component
from icalendar.prop import vCalAddress

from service.contacts import ContactInput
from service.errors import UsageError
from service.importing.records import ImportOptions
from service.validation import check_email, clean_line

#: Calendar user types that are not people.
NOT_PEOPLE = ("ROOM", "RESOURCE")
#: Google Calendar's addresses of shared calendars and rooms: never a person to write to.
CALENDAR_DOMAINS = (".calendar.google.com",)


@dataclass
class People:
    """Reads one event's people; problems go to fail(message, property, text on its line)."""

    options: ImportOptions
    fail: Callable[..., None]
    notes: list[str]

    def read(self, event: Component, cancelled: bool) -> list[ContactInput]:
        """The organizer first, then the attendees in order, each address once."""
        people: list[tuple[str, vCalAddress]] = []
        if event.get("ORGANIZER") is not None:
            people.append(("ORGANIZER", event.get("ORGANIZER")))
        attendees = event.get("ATTENDEE", [])
        people += [
            ("ATTENDEE", a) for a in (attendees if isinstance(attendees, list) else [attendees])
        ]
        contacts: dict[str, ContactInput] = {}
        for prop, address in people:
            contact = self._contact(prop, address)
            if contact and contact.email.lower() not in contacts:
                contacts[contact.email.lower()] = contact
        if not contacts and not cancelled:
            self.fail(
                "names no one but you: there is no one to follow up with (an invitation lists "
                "the interviewers as ORGANIZER and ATTENDEE)"
            )
        return list(contacts.values())

    def _contact(self, prop: str, address: vCalAddress) -> ContactInput | None:
        params = address.params
        if str(params.get("CUTYPE", "INDIVIDUAL")).upper() in NOT_PEOPLE:
            return None
        value = str(address).strip()
        if value.lower().startswith("mailto:"):
            raw = value[len("mailto:") :].strip()
        elif params.get("EMAIL"):
            raw = str(params.get("EMAIL")).strip()
        else:
            self.notes.append(f"{prop} {value!r} has no email address: left out")
            return None
        try:
            email = check_email(raw, prop)
        except UsageError as exc:
            self.fail(str(exc), prop, raw)
            return None
        if email.lower() in self.options.my_addresses or raw.lower() in self.options.my_addresses:
            return None
        if email.lower().endswith(CALENDAR_DOMAINS):
            return None
        if str(params.get("PARTSTAT", "")).upper() == "DECLINED":
            self.notes.append(f"{email} declined the invitation: left out")
            return None
        name = self._name(prop, str(params.get("CN", "")), email)
        return ContactInput(name=name, email=email) if name else None

    def _name(self, prop: str, cn: str, email: str) -> str | None:
        cn = " ".join(cn.strip().strip('"').split())
        if cn and "@" not in cn:
            try:
                cn = clean_line(cn, f"{prop} {email} name (CN)", max_len=200)
            except UsageError as exc:
                self.fail(str(exc), prop, email)
                return None
            # Exchange directories write "Last, First"; a greeting needs "First Last".
            last_first = re.fullmatch(r"([^,\d]+),\s*([^,\d]+)", cn)
            return f"{last_first[2]} {last_first[1]}" if last_first else cn
        match = re.fullmatch(r"([a-z]{2,})[._-]([a-z]{2,})", email.split("@")[0], re.IGNORECASE)
        if match:
            name = f"{match[1].capitalize()} {match[2].capitalize()}"
            self.notes.append(f"{email} has no name in the invitation: {name!r} is used")
            return name
        self.fail(
            f"{prop} {email} has no name (CN), so a greeting cannot be written: add ';CN=Their Name'"
            " to that line, or record the interview with `followup interview add`",
            prop,
            email,
        )
        return None
