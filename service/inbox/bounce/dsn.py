"""RFC 3464 delivery status notifications: multipart/report; report-type=delivery-status.

Postfix, Exim (4.9x), Exchange / Microsoft 365, Gmail, Sendmail and most modern servers send
these; the message/delivery-status part has one block per recipient (Final-Recipient, Action,
Status, Diagnostic-Code).
"""

from __future__ import annotations

from email.message import Message
from email.parser import HeaderParser

from service.inbox.bounce.common import (
    ADDRESS,
    Bounce,
    FailedRecipient,
    action_of,
    clean,
    returned_message_id,
)
from service.inbox.message import Incoming

NAME = "rfc3464"


def _blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [b for b in payload if isinstance(b, Message)]
    # A part the parser did not split: parse its blocks (separated by blank lines) ourselves.
    text = payload if isinstance(payload, str) else ""
    return [HeaderParser().parsestr(b.strip()) for b in text.replace("\r\n", "\n").split("\n\n")]


def parse(message: Incoming) -> Bounce | None:
    status_part = None
    for part in message.message.walk():
        if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status"):
            status_part = part
            break
    if status_part is None:
        return None
    bounce = Bounce(NAME)
    for block in _blocks(status_part)[1:]:  # the first block describes the whole report
        # The original recipient is the address the sender wrote (before any forwarding or
        # alias expansion), so it is the one to report when the server gives it.
        address = None
        for name in ("Original-Recipient", "Final-Recipient"):
            address = address or ADDRESS.search(str(block.get(name) or "").split(";", 1)[-1])
        if not address:
            continue
        action = str(block.get("Action", "")).strip().lower()
        status = str(block.get("Status", "")).strip()
        diagnostic = clean(str(block.get("Diagnostic-Code", "")).split(";", 1)[-1])
        if action in ("delivered", "relayed", "expanded"):
            continue
        kind = action if action in ("failed", "delayed") else action_of(status, diagnostic)
        bounce.recipients.append(
            FailedRecipient(address.group(0).lower(), kind, status, diagnostic)
        )
    bounce.original_message_id = returned_message_id(message)
    return bounce
