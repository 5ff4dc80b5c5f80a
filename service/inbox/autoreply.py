"""Auto-replies: out-of-office and other automatic answers, told apart from a person's reply.

Headers and subject first; then the body alone, for out-of-office texts sent without any marker:
only an *announcement* counts (near the start of what the sender wrote, in the present or future
tense, with an "until / back on / limited access" shape), never a mention ("I was out of office
last week").
"""

from __future__ import annotations

import re

from service.inbox.hiring import own_text
from service.inbox.message import Incoming

#: The Precedence value of an automatic answer (`bulk`, `list` and `junk` are list mail: machine.py).
AUTOMATIC_PRECEDENCE = ("auto_reply",)
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


#: How much of what the sender wrote the body rules read: an announcement comes first.
HEAD = 600
#: An announcement must start this close to the beginning of the sender's own text.
START = 300

#: "I am / I'm / I will be ... out of the office / away / on leave" (and in de, fr, es), in the
#: present or future tense: "I was out of office last week" is no announcement.
_ANNOUNCE = re.compile(
    r"""
    \b(i\ am|i'm|i’m|i\ will\ be|i'll\ be|i’ll\ be)\ (currently\ |now\ |presently\ )?
      (out\ of\ (the\ )?office|ooo\b|away|on\ (annual\ |parental\ |maternity\ |paternity\ |sick\ )?
       (leave|vacation|holiday)|travell?ing)
    | \bich\ (bin|befinde\ mich)\b(?:[^.!?]|(?<=\d)\.){0,80}?
      (nicht\ im\ b(ü|ue)ro|abwesend|im\ urlaub|au(ß|ss)er\ haus|nicht\ erreichbar|in\ elternzeit
       |auf\ (dienst|gesch(ä|ae)fts)reise)
    | \bje\ (suis|serai)\b(?:[^.!?]|(?<=\d)\.){0,60}?
      (absente?|en\ (cong(é|e)s?|vacances)|hors\ du\ bureau|en\ d(é|e)placement)
    | \b(estoy|estar(é|e)|me\ encuentro)\b(?:[^.!?]|(?<=\d)\.){0,60}?
      (fuera\ de\ (la\ )?oficina|de\ vacaciones|ausente|de\ viaje|fuera)
    """,
    re.IGNORECASE | re.VERBOSE,
)
#: What makes a mention an announcement: a date it lasts until, a return, limited access.
_SHAPE = re.compile(
    r"""
    \b(until|till|through|thru|return|returning|back\ (on|in|at)|limited\ (access|availability)
      |no\ access|without\ access|intermittent|in\ my\ absence|upon\ my\ return|for\ urgent
      |bis|ab\ dem|wieder|zur(ü|ue)ck|eingeschr(ä|ae)nkt|in\ dringenden|vertretung
      |jusqu|retour|(à|a)\ partir\ du|acc(è|e)s\ limit(é|e)|en\ cas\ d.urgence
      |hasta|regreso|volver(é|e)|vuelta|acceso\ limitado|en\ caso\ de\ urgencia)
    """,
    re.IGNORECASE | re.VERBOSE,
)


def body_reason(text: str) -> str | None:
    """Why the first lines of the body read as an out-of-office announcement, or None."""
    head = " ".join(own_text(text).split())[:HEAD]
    found = _ANNOUNCE.search(head)
    if found is None or found.start() > START:
        return None
    if not _SHAPE.search(head, found.start()):
        return None
    return f"out-of-office text in the body ({found.group(0).strip()!r})"
