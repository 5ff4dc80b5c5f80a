"""Postfix's human-readable bounce text ("Undelivered Mail Returned to Sender").

Postfix sends an RFC 3464 report (read by `dsn`); this module reads its first, plain-text part
when the report is missing (a forwarded bounce, or a relay that stripped the report):

  This is the mail system at host mail.example.net.
  I'm sorry to have to inform you that your message could not
  be delivered to one or more recipients. ...

  <jane@acme.example>: host mx.acme.example[192.0.2.25] said: 550 5.1.1
      <jane@acme.example>: Recipient address rejected: User unknown (in reply to
      RCPT TO command)
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

NAME = "postfix"
MARKER = "This is the mail system at host"


def parse(message: Incoming) -> Bounce | None:
    text = message.text.replace("\r\n", "\n")
    if MARKER not in text:
        return None
    delayed = "delayed mail" in message.subject.lower() or "will be retried" in text.lower()
    bounce = Bounce(NAME)
    for address, diagnostic in angle_blocks(text):
        status = status_in(diagnostic)
        action = "delayed" if delayed else action_of(status, diagnostic)
        bounce.recipients.append(FailedRecipient(address, action, status, diagnostic))
    bounce.original_message_id = returned_message_id(message)
    return bounce
