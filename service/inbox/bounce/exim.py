"""Exim's plain-text bounce ("Mail delivery failed: returning message to sender").

  This message was created automatically by mail delivery software.
  A message that you sent could not be delivered to one or more of its
  recipients. This is a permanent error. The following address(es) failed:

    jane@acme.example
      host mx.acme.example [192.0.2.25]
      SMTP error from remote mail server after RCPT TO:<jane@acme.example>:
      550 5.1.1 <jane@acme.example>: Recipient address rejected: User unknown

Its delay warning ("Warning: message ... delayed 24 hours") lists addresses the same way, and
the X-Failed-Recipients header names the failed ones.
"""

from __future__ import annotations

import re

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

NAME = "exim"
MARKER = "This message was created automatically by mail delivery software."
COPY = "------ This is a copy of the message"
_ADDRESS_LINE = re.compile(r"^  (?! )<?([^\s<>:]+@[^\s<>:]+)>?(?::\s*(.*))?$")


def parse(message: Incoming) -> Bounce | None:
    text = message.text.replace("\r\n", "\n")
    if MARKER not in text and not message.has("X-Failed-Recipients"):
        return None
    delayed = message.subject.lower().startswith("warning: message") or (
        "delay reason" in text.lower() or "no action is required on your part" in text.lower()
    )
    report = text.split("\n------ This is a copy", 1)[0].split("\n----- This is a copy", 1)[0]
    bounce = Bounce(NAME)
    current: FailedRecipient | None = None
    lines: list[str] = []

    def close() -> None:
        if current is not None:
            current.diagnostic = clean(" ".join(lines))
            current.status = status_in(current.diagnostic)
            if not delayed:
                current.action = action_of(current.status, current.diagnostic)
            bounce.recipients.append(current)

    for line in report.splitlines():
        head = _ADDRESS_LINE.match(line)
        if head and ADDRESS.fullmatch(head.group(1)):
            close()
            current = FailedRecipient(head.group(1).lower(), "delayed" if delayed else "failed")
            lines = [head.group(2) or ""]
        elif current is not None and line.startswith("    "):
            lines.append(line.strip())
        elif current is not None and line.strip():
            close()
            current, lines = None, []
    close()
    if not bounce.recipients and message.has("X-Failed-Recipients"):
        for address in ADDRESS.findall(message.header("X-Failed-Recipients")):
            bounce.recipients.append(FailedRecipient(address.lower(), "failed"))
    bounce.original_message_id = returned_message_id(message, COPY)
    return bounce
