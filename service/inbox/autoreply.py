"""Auto-replies: out-of-office and other automatic answers, told apart from a person's reply."""

from __future__ import annotations

import re

from service.inbox.message import Incoming

#: Precedence values that mark mail no person wrote for this conversation (RFC 3834 section 2).
AUTOMATIC_PRECEDENCE = ("auto_reply", "bulk", "junk", "list")
#: Exchange's X-Auto-Response-Suppress values set on automatic messages (MS-OXCMAIL 2.2.3.2.14).
SUPPRESS_MARKERS = ("all", "oof", "autoreply", "dr", "ndr", "rn", "nrn")

#: Out-of-office subjects, in English, German, French and Spanish (as Outlook, Exchange, Gmail,
#: Zimbra, Dovecot's vacation and people name them).
_OUT_OF_OFFICE = re.compile(
    r"""
    \b(
      out\ of\ (the\ )?office | automatic\ reply | auto(matic)?[-\ ]?(reply|response)
      | autoreply | auto: | away\ from\ (the\ )?office | on\ (vacation|holiday|leave)
      | abwesenheit(snotiz|smeldung|sassistent)? | automatische\ antwort | nicht\ im\ b(ü|ue)ro
      | au(ß|ss)er\ haus | bin\ im\ urlaub | urlaubsbedingt | abwesend
      | r(é|e)ponse\ automatique | absent(e)?\ du\ bureau | message\ d.absence | en\ cong(é|e)
      | respuesta\ autom(á|a)tica | fuera\ de\ (la\ )?oficina | ausente | de\ vacaciones
    )""",
    re.IGNORECASE | re.VERBOSE,
)


def auto_reply_reason(message: Incoming) -> str | None:
    """Why the message is an automatic answer, or None when nothing says it is."""
    submitted = message.header("Auto-Submitted").lower()
    if submitted and submitted.split(";")[0].split("(")[0].strip() != "no":
        return f"Auto-Submitted: {submitted}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if message.has(name):
            return f"{name} header"
    suppress = message.header("X-Auto-Response-Suppress").lower()
    if any(m.strip() in SUPPRESS_MARKERS for m in suppress.split(",")):
        return f"X-Auto-Response-Suppress: {suppress}"
    precedence = message.header("Precedence").lower()
    if precedence in AUTOMATIC_PRECEDENCE:
        return f"Precedence: {precedence}"
    found = _OUT_OF_OFFICE.search(message.subject)
    if found:
        return f"out-of-office subject ({found.group(0).strip()!r})"
    return None
