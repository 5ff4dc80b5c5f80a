"""Lotus Notes / Domino's plain-text report ("Undeliverable message" from postmaster@).

Follows the layout Domino's SMTP MTA writes, as in Sisimai's sample email-notes-01.eml
(lib/Sisimai/Lhost/Notes.pm reads the same markers):

  ------- Failure Reasons  --------

  <the reason, in the server's language>
  jane@acme.example

  ------- Returned Message --------
"""

from __future__ import annotations

from service.inbox.bounce.common import (
    ADDRESS,
    Bounce,
    FailedRecipient,
    action_of,
    clean,
    returned_message_id,
    status_in,
)
from service.inbox.message import Incoming

NAME = "lotus-notes"
MARKER = "------- Failure Reasons"
COPY = "------- Returned Message"


def parse(message: Incoming) -> Bounce | None:
    text = message.text.replace("\r\n", "\n")
    if MARKER not in text:
        return None
    report = text.split(MARKER, 1)[1].split(COPY, 1)[0]
    reasons: list[str] = []
    bounce = Bounce(NAME)
    for line in report.split("\n")[1:]:
        found = ADDRESS.fullmatch(line.strip().strip("<>"))
        if found:
            words = clean(" ".join(reasons))
            status = status_in(words)
            address = found.group(0).lower()
            bounce.recipients.append(
                FailedRecipient(address, action_of(status, words), status, words)
            )
            reasons = []
        elif line.strip():
            reasons.append(line.strip())
    bounce.original_message_id = returned_message_id(message, COPY)
    return bounce
