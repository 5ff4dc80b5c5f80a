"""Sendmail version 5 (and other old UNIX mailers): a transcript, then the unsent message.

Follows the layout of Sendmail 5's "Returned mail: ..." report, as in Sisimai's sample
email-v5sendmail-01.eml (lib/Sisimai/Lhost/V5sendmail.pm):

     ----- Transcript of session follows -----
  550 <jane@acme.example>... User unknown
  421 acme.example (smtp)... Deferred: Connection timed out during user open with acme.example

     ----- Unsent message follows -----
  From: ...
  To: jane@acme.example

A transcript line naming an address gives that recipient; when the transcript names only the
host, the recipients are the To of the unsent message. "Cannot send message for N days" in the
subject means the server gave up: the failure is permanent whatever the last reply was.
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

NAME = "sendmail5"
MARKER = "----- Transcript of session follows -----"
COPY = re.compile(r"-----\s*(Unsent|Returned|Original) message follows\s*-----", re.I)
_REPLY_LINE = re.compile(r"^\s*([245]\d\d)[ -](.*)$")


def parse(message: Incoming) -> Bounce | None:
    text = message.text.replace("\r\n", "\n")
    if MARKER not in text:
        return None
    after = text.split(MARKER, 1)[1]
    found_copy = COPY.search(after)
    transcript = after[: found_copy.start()] if found_copy else after
    copy = after[found_copy.end() :] if found_copy else ""
    gave_up = "cannot send message for" in message.subject.lower()
    words = []
    named: dict[str, str] = {}
    for line in transcript.split("\n"):
        reply = _REPLY_LINE.match(line)
        if not reply:
            continue
        words.append(line.strip())
        found = ADDRESS.search(reply.group(2).split("...")[0])
        if found and "..." in reply.group(2):
            named[found.group(0).lower()] = line.strip()
    if not named:
        head = copy.split("\n\n", 1)[0]
        to = re.search(r"^To:[ \t]*(.*(?:\n[ \t].*)*)", head, re.I | re.M)
        for address in ADDRESS.findall(to.group(1) if to else ""):
            named[address.lower()] = " ".join(words)
    bounce = Bounce(NAME)
    for address, said in named.items():
        diagnostic = clean(said)
        status = status_in(diagnostic)
        action = "failed" if gave_up else action_of(status, diagnostic)
        bounce.recipients.append(FailedRecipient(address, action, status, diagnostic))
    bounce.original_message_id = returned_message_id(message)
    return bounce
