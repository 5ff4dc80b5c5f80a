"""The formats followup does not read itself, found by flufl.bounce (GNU Mailman's detectors).

flufl.bounce (https://gitlab.com/warsaw/flufl.bounce, Apache-2.0) knows many old and odd MTA
layouts (GroupWise, SMTP32, Netscape, Yahoo's and AOL's old notices, "simple match" wordings
in many languages). It only names the recipients, so the server's words and status code come
from the lines of the report around each address. It is imported on first use, only when none
of our own formats read a message: the worker starts without it.
"""

from __future__ import annotations

import email

from service.inbox.bounce.common import (
    Bounce,
    FailedRecipient,
    action_of,
    returned_message_id,
    status_in,
    words_about,
)
from service.inbox.message import Incoming

NAME = "flufl.bounce"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def parse(message: Incoming) -> Bounce | None:
    from flufl.bounce import all_failures

    try:
        temporary, permanent = all_failures(email.message_from_bytes(message.raw))
    except Exception:  # a detector tripping over broken input: it found nothing
        return None
    bounce = Bounce(NAME)
    text = message.text
    for default, found in (("failed", permanent), ("delayed", temporary)):
        for address in sorted({_text(a).strip("<> ").lower() for a in found}):
            if "@" not in address or any(r.address == address for r in bounce.recipients):
                continue
            words = words_about(text, address)
            status = status_in(words)
            action = default if default == "delayed" else action_of(status, words)
            bounce.recipients.append(FailedRecipient(address, action, status, words))
    if not bounce.recipients:
        return None
    bounce.original_message_id = returned_message_id(message)
    return bounce
