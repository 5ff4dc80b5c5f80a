"""Gmail's plain-text bounce ("Delivery Status Notification (Failure)" from
mailer-daemon@googlemail.com).

Gmail attaches an RFC 3464 report (read by `dsn`); this module reads the text of older and
forwarded Gmail bounces:

  Delivery to the following recipient failed permanently:

       jane@acme.example

  Technical details of permanent failure:
  Google tried to deliver your message, but it was rejected by the server for the recipient
  domain acme.example by mx.acme.example. [192.0.2.25].

  The error that the other server returned was:
  550 5.1.1 The email account that you tried to reach does not exist.

and "Delivery to the following recipient has been delayed:" for a delay, or the newer wording
"Your message wasn't delivered to jane@acme.example because ...".
"""

from __future__ import annotations

import re

from service.inbox.bounce.common import (
    ADDRESS,
    Bounce,
    FailedRecipient,
    clean,
    returned_message_id,
    status_in,
)
from service.inbox.message import Incoming

NAME = "gmail"
_FAILED = re.compile(
    r"Delivery to the following recipients? failed( permanently)?:\s*((?:\s*\S+@\S+\s*)+)"
    r"|Your message wasn't delivered to (\S+@\S+)",
    re.IGNORECASE,
)
_DELAYED = re.compile(
    r"Delivery to the following recipients? has been delayed:\s*((?:\s*\S+@\S+\s*)+)"
    r"|Message delivery to (\S+@\S+) (?:has been|was) delayed",
    re.IGNORECASE,
)
_SERVER = re.compile(r"(?:The error that the other server returned was|The response was):\s*(.+)")


def parse(message: Incoming) -> Bounce | None:
    text = message.text.replace("\r\n", "\n")
    failed, delayed = _FAILED.search(text), _DELAYED.search(text)
    found = failed or delayed
    if found is None:
        return None
    server = _SERVER.search(text)
    diagnostic = clean(server.group(1)) if server else ""
    bounce = Bounce(NAME)
    action = "failed" if failed else "delayed"
    for address in ADDRESS.findall(" ".join(g for g in found.groups() if g)):
        bounce.recipients.append(
            FailedRecipient(address.lower(), action, status_in(diagnostic), diagnostic)
        )
    bounce.original_message_id = returned_message_id(message)
    return bounce
