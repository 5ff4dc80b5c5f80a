"""qmail's bounce ("failure notice" from the qmail-send program).

Hi. This is the qmail-send program at mail.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<jane@acme.example>:
192.0.2.25 does not like recipient.
Remote host said: 550 5.1.1 <jane@acme.example>... User unknown
Giving up on 192.0.2.25.

--- Below this line is a copy of the message.
"""

from __future__ import annotations

from service.inbox.bounce.common import Bounce, FailedRecipient, angle_blocks, returned_message_id
from service.inbox.bounce.common import status_in as _status
from service.inbox.message import Incoming

NAME = "qmail"
MARKERS = ("This is the qmail-send program", "I'm afraid I wasn't able to deliver your message")
COPY = "--- Below this line is a copy of the message."


def parse(message: Incoming) -> Bounce | None:
    text = message.text.replace("\r\n", "\n")
    if not any(m in text for m in MARKERS):
        return None
    report = text.split(COPY, 1)[0]
    delayed = "temporary" in report.lower() and "permanent error" not in report.lower()
    bounce = Bounce(NAME)
    for address, diagnostic in angle_blocks(report):
        action = "delayed" if delayed else "failed"
        bounce.recipients.append(FailedRecipient(address, action, _status(diagnostic), diagnostic))
    bounce.original_message_id = returned_message_id(message, COPY)
    return bounce
