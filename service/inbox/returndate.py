"""The return date in an out-of-office text ("back on 20 January", "bis zum 19.01.", "de retour
le 20 janvier", "hasta el 20 de enero"), in English, German, French and Spanish.

Plain rules, no guessing library: month and weekday names come from Babel's locale data (CLDR);
each date found is read with the words around it. A date after a "back/wieder/retour/vuelta"
word is the first day back; a date right after an "until/bis/jusqu'au/hasta" word is the last
day away, so the day after it is the first day back. The latest such date wins; dates more than
a day before the message, or more than RANGE after it, are ignored. Slash dates that could be
day/month or month/day (03/04) are ignored rather than guessed.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta
from functools import lru_cache

LANGUAGES = ("en", "de", "fr", "es")
#: A return date further away than this is not believed (a typo, or not a return date at all).
RANGE = timedelta(days=180)

_BACK = re.compile(
    r"\b(back|return|returning|returns|in the office|available again|reachable again|wieder|"
    r"zur(ü|ue)ck|retour|reviendrai|rentre|de vuelta|regreso|regresar(é|e)|vuelvo|volver(é|e)|"
    r"reincorporo|reincorporar(é|e))",
    re.IGNORECASE,
)
_UNTIL = re.compile(
    r"(\buntil|\btill|\bthrough|\bthru|\bto|\bbis( zum| zur| einschlie(ß|ss)lich| einschl\.)?|"
    r"\bjusqu.(au|à|a)( inclus)?|\bhasta( el)?|\bal|-|–)\s*(the\s*)?$",
    re.IGNORECASE,
)


def _fold(text: str) -> str:
    """Lower case without accents, so "März", "Maerz" and "marz" read alike ("maerz", "marz")."""
    text = text.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    plain = unicodedata.normalize("NFKD", text)
    return "".join(c for c in plain if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def _names() -> tuple[dict[str, int], list[str]]:
    """{month name or abbreviation: month number} and the weekday names, in the four languages."""
    from babel import Locale

    months: dict[str, int] = {}
    weekdays: set[str] = set()
    for language in LANGUAGES:
        locale = Locale(language)
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number, name in locale.months[context][width].items():
                    for variant in (name.lower().rstrip("."), _fold(name).rstrip(".")):
                        months[variant] = number
                for name in locale.days[context][width].values():
                    weekdays.update({name.lower().rstrip("."), _fold(name).rstrip(".")})
    # "März" typed without its umlaut.
    months.setdefault("marz", 3)
    return months, sorted(weekdays, key=len, reverse=True)


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern, re.Pattern]:
    months, weekdays = _names()
    month = "|".join(sorted((re.escape(m) for m in months), key=len, reverse=True))
    dates = re.compile(
        rf"(?P<d1>\d{{1,2}})(?:st|nd|rd|th|er|e|º|ª)?\.?\s*(?:of\s+|de\s+)?(?P<m1>{month})\.?"
        rf"(?:,?\s*(?:de\s+|del\s+)?(?P<y1>\d{{4}}))?\b"
        rf"|\b(?P<m2>{month})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s*(?P<y2>\d{{4}}))?"
        r"|\b(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2})\b"
        r"|\b(?P<dd>\d{1,2})\.(?P<dm>\d{1,2})\.(?P<dy>\d{2,4})?"
        r"|\b(?P<sa>\d{1,2})/(?P<sb>\d{1,2})(?:/(?P<sy>\d{2,4}))?\b",
        re.IGNORECASE,
    )
    days = re.compile(r"\b(" + "|".join(re.escape(w) for w in weekdays) + r")\b\.?,?", re.I)
    return dates, days


def _year(raw: str | None) -> int | None:
    if not raw:
        return None
    year = int(raw)
    return year + 2000 if year < 100 else year


def _date_of(found: re.Match) -> tuple[int | None, int, int] | None:
    """(year or None, month, day) of a date match, or None when it is no date or ambiguous."""
    months, _ = _names()
    g = found.groupdict()
    if g["m1"]:
        return _year(g["y1"]), months[_fold(g["m1"]).rstrip(".")], int(g["d1"])
    if g["m2"]:
        return _year(g["y2"]), months[_fold(g["m2"]).rstrip(".")], int(g["d2"])
    if g["iy"]:
        return int(g["iy"]), int(g["im"]), int(g["id"])
    if g["dd"]:
        return _year(g["dy"]), int(g["dm"]), int(g["dd"])
    a, b = int(g["sa"]), int(g["sb"])
    if a > 12 >= b:
        return _year(g["sy"]), b, a
    if b > 12 >= a:
        return _year(g["sy"]), a, b
    return None


def _resolve(parts: tuple[int | None, int, int], received: date) -> date | None:
    year, month, day = parts
    try:
        if year is not None:
            return date(year, month, day)
        candidate = date(received.year, month, day)
        if candidate < received - timedelta(days=14):
            candidate = date(received.year + 1, month, day)
        return candidate
    except ValueError:
        return None


def return_date(text: str, received: date) -> date | None:
    """The first day the sender is back, read from an out-of-office text; None if it names none."""
    if not text:
        return None
    text = " ".join(_fold(text).split())
    dates, days = _patterns()
    matches = list(dates.finditer(text))
    best: date | None = None
    for index, found in enumerate(matches):
        parts = _date_of(found)
        if parts is None:
            continue
        day = _resolve(parts, received)
        if day is None:
            continue
        start = matches[index - 1].end() if index else 0
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        before = days.sub(" ", text[max(start, found.start() - 80) : found.start()])
        before = " ".join(before.split())
        after = text[found.end() : min(end, found.end() + 60)]
        after = re.split(r"[.!?;]\s", after)[0]
        if _UNTIL.search(before):
            day += timedelta(days=1)
        elif not (_BACK.search(before) or _BACK.search(after)):
            continue
        if received - timedelta(days=1) <= day <= received + RANGE and (best is None or day > best):
            best = day
    return best
