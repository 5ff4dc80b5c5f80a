"""RFC 3464 delivery status notifications: multipart/report; report-type=delivery-status.

Postfix, Exim (4.9x), Exchange / Microsoft 365, Gmail, Sendmail and most modern servers send
these; the message/delivery-status part has one block per recipient (Final-Recipient, Action,
Status, Diagnostic-Code).
"""

from __future__ import annotations

import re
from email.message import Message

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


_RAW_PART = re.compile(
    r"^Content-Type:[ \t]*message/(?:global-)?delivery-status\b.*?\n\r?\n(.*?)(?=^--|\Z)",
    re.IGNORECASE | re.MULTILINE | re.DOTALL,
)
_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):[ \t]*(.*)$")


def _blocks(part: Message, raw: str | None) -> list[dict[str, str]]:
    """The report's blocks (the per-message one first), each as field name (lower) -> value.

    Read line by line rather than by the header parser: servers fold a long Diagnostic-Code
    onto lines that do not start with a space ("550-...", as MessageLabs does), which would end
    the parser's block and lose the fields after it. So the part's own text (`raw`, from the
    message's bytes) is read when it can be found, the parsed part otherwise.
    """
    payload = part.get_payload()
    if raw is not None:
        text = raw
    elif isinstance(payload, list):
        text = "\n\n".join(b.as_string() for b in payload if isinstance(b, Message))
    else:
        text = payload if isinstance(payload, str) else ""
    blocks: list[dict[str, str]] = []
    for chunk in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        name = ""
        for line in chunk.split("\n"):
            found = _FIELD.match(line)
            if found and not line[:1].isspace():
                name = found.group(1).lower()
                fields.setdefault(name, found.group(2))
            elif name and line.strip() and fields.get(name) is not None:
                fields[name] = f"{fields[name]} {line.strip()}"
        if fields:
            blocks.append(fields)
    return blocks


def parse(message: Incoming) -> Bounce | None:
    status_part = None
    for part in message.message.walk():
        if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status"):
            status_part = part
            break
    if status_part is None:
        return None
    bounce = Bounce(NAME)
    raw = _RAW_PART.search(message.raw.decode("utf-8", "replace"))
    if raw:
        bounce.recipients = _recipients(_blocks(status_part, raw.group(1)))
    if not bounce.recipients:  # not found in the bytes (an encoded part): the parsed part
        bounce.recipients = _recipients(_blocks(status_part, None))
    bounce.original_message_id = returned_message_id(message)
    return bounce


def _recipients(blocks: list[dict[str, str]]) -> list[FailedRecipient]:
    found = []
    for block in blocks[1:] if len(blocks) > 1 else blocks:  # the first one is per-message
        # The original recipient is the address the sender wrote (before any forwarding or
        # alias expansion), so it is the one to report when the server gives it.
        address = None
        for name in ("original-recipient", "final-recipient"):
            address = address or ADDRESS.search(block.get(name, "").split(";", 1)[-1])
        if not address:
            continue
        action = block.get("action", "").strip().lower()
        status = block.get("status", "").strip()
        diagnostic = clean(block.get("diagnostic-code", "").split(";", 1)[-1])
        if action in ("delivered", "relayed", "expanded"):
            continue
        kind = action if action in ("failed", "delayed") else action_of(status, diagnostic)
        found.append(FailedRecipient(address.group(0).lower(), kind, status, diagnostic))
    return found
