"""Yahoo Mail's bounce ("Failure Notice" from MAILER-DAEMON@yahoo.com), a qmail descendant.

Sorry, we were unable to deliver your message to the following address.

<jane@acme.example>:
Remote host said: 550 5.1.1 <jane@acme.example>: Recipient address rejected [RCPT_TO]

--- Below this line is a copy of the message.
"""

from __future__ import annotations

from service.inbox.bounce.common import (
    Bounce,
    FailedRecipient,
    action_of,
    angle_blocks,
    returned_message_id,
    status_in,
)
from service.inbox.message import Incoming

NAME = "yahoo"
MARKER = "Sorry, we were unable to deliver your message to the following address"
COPY = "--- Below this line is a copy of the message."


def parse(message: Incoming) -> Bounce | None:
    text = message.text.replace("\r\n", "\n")
    if MARKER not in text:
        return None
    bounce = Bounce(NAME)
    for address, diagnostic in angle_blocks(text.split(COPY, 1)[0]):
        status = status_in(diagnostic)
        bounce.recipients.append(
            FailedRecipient(address, action_of(status, diagnostic), status, diagnostic)
        )
    bounce.original_message_id = returned_message_id(message, COPY)
    return bounce
