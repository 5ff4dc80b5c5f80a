"""OpenSMTPD's report ("Delivery status notification" from MAILER-DAEMON).

Follows the text OpenSMTPD's bounce.c writes, as in Sisimai's samples email-opensmtpd-*.eml
(lib/Sisimai/Lhost/OpenSMTPD.pm):

      This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.

      An error has occurred while attempting to deliver a message for
      the following list of recipients:

  jane@acme.example: 550 5.1.1 <jane@acme.example>... User Unknown

      Below is a copy of the original message:

Its delay warning says "Delivery of the message ... is being delayed" over the same list.
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

NAME = "opensmtpd"
MARKER = "the following list of recipients"
COPY = "Below is a copy of the original message"
_LINE = re.compile(r"^(\S+@\S+?):\s+(.+)$")


def parse(message: Incoming) -> Bounce | None:
    text = message.text.replace("\r\n", "\n")
    if MARKER not in text or "MAILER-DAEMON" not in text:
        return None
    report = text.split(MARKER, 1)[1].split(COPY, 1)[0]
    delayed = "delayed" in text.split(MARKER, 1)[0].lower()
    bounce = Bounce(NAME)
    for line in report.split("\n"):
        found = _LINE.match(line)
        if found and ADDRESS.fullmatch(found.group(1)):
            words = clean(found.group(2))
            status = status_in(words)
            action = "delayed" if delayed else action_of(status, words)
            bounce.recipients.append(FailedRecipient(found.group(1).lower(), action, status, words))
    bounce.original_message_id = returned_message_id(message, COPY)
    return bounce
