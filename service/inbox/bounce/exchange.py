"""Microsoft Exchange's plain-text non-delivery reports ("Undeliverable: ...").

Exchange 2007 and later (and Microsoft 365) attach an RFC 3464 report, read by `dsn`; this
module reads the text alone, as Exchange 2003 and relays that drop the report leave it:

  Delivery has failed to these recipients or groups:

  jane@acme.example
  The e-mail address you entered couldn't be found. ...

  Diagnostic information for administrators:
  Generating server: EX01.mail.example.net
  jane@acme.example
  #550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##

or, from Exchange 2003:

  Your message did not reach some or all of the intended recipients.
        The following recipient(s) cannot be reached:
        jane@acme.example on 20/01/2027 10:00
              The e-mail account does not exist at the organization ... <mx.acme.example #5.1.1>
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

NAME = "exchange"
MARKERS = (
    "Delivery has failed to these recipients or groups",
    "Your message did not reach some or all of the intended recipients",
    "The following recipient(s) cannot be reached",
)
_ADMIN = "Diagnostic information for administrators"
_CODE = re.compile(r"(#?\s*[45]\d\d[ -][245]\.\d{1,3}\.\d{1,3}.*|Remote Server returned .*)")


def parse(message: Incoming) -> Bounce | None:
    text = message.text.replace("\r\n", "\n")
    if not any(m in text for m in MARKERS):
        return None
    users, _, admin = text.partition(_ADMIN)
    bounce = Bounce(NAME)
    seen: dict[str, FailedRecipient] = {}
    for address in ADDRESS.findall(users.split("\n\n\n")[0] if not admin else users):
        seen.setdefault(address.lower(), FailedRecipient(address.lower(), "failed"))
    # The administrators' section (or, from Exchange 2003, the lines under each address) gives
    # the server's words.
    current = None
    for line in (admin or users).splitlines():
        found = ADDRESS.search(line)
        if found and found.group(0).lower() in seen:
            current = seen[found.group(0).lower()]
            continue
        if current is None or not line.strip():
            continue
        code = _CODE.search(line)
        if code:
            current.diagnostic = clean(code.group(0).strip("# "))
        elif not admin and not current.status:
            current.diagnostic = clean(f"{current.diagnostic} {line}")
        current.status = status_in(current.diagnostic) or current.status
        current.action = action_of(current.status, current.diagnostic)
    bounce.recipients = list(seen.values())
    bounce.original_message_id = returned_message_id(message)
    return bounce
