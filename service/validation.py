"""Checks of user-supplied values at the boundary: text fields, addresses, times, zones, durations."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.headerregistry import Address
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from service.errors import UsageError

# Line and paragraph separators are not control characters to unicodedata ("Zl", "Zp") but mail
# clients and header folding treat them as line breaks, so they are refused in one-line fields.
_LINE_BREAKS = {"\u2028", "\u2029", "\x85"}


#: How much of a value an error message repeats: a 5,000-character setting is not echoed whole.
SHOWN = 80


def shown(value: object, limit: int = SHOWN) -> str:
    """A value as an error message quotes it: its repr, cut short (saying how long it is)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def _is_control(ch: str, allow_newlines: bool) -> bool:
    if allow_newlines and ch in "\n\t":
        return False
    # Cs: a lone surrogate is how Python passes on bytes that were not UTF-8 (e.g. in argv).
    return (
        ch in _LINE_BREAKS
        or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs")
        and ch != "\u200d"
    )


def clean_line(value: str, field: str, *, max_len: int = 300, required: bool = True) -> str:
    """Return a one-line text field stripped, refusing CR/LF and control characters."""
    if value is None:
        value = ""
    plain = value.isascii() and value.isprintable()  # the common case: nothing to look at
    for ch in "" if plain else value:
        if _is_control(ch, allow_newlines=False):
            if unicodedata.category(ch) == "Cs":
                raise UsageError(f"{field} is not valid UTF-8 text: give it as UTF-8")
            raise UsageError(
                f"{field} contains a line break or control character ({ch!r}): "
                "give it as a single line of plain text"
            )
    value = value.strip()
    if required and not value:
        raise UsageError(f"{field} is empty: give a value")
    if len(value) > max_len:
        raise UsageError(f"{field} is {len(value)} characters long: at most {max_len} allowed")
    return value


def clean_text(value: str | None, field: str, *, max_len: int = 20_000) -> str:
    """Return a multi-line text field, allowing newlines and tabs but no other control characters."""
    value = (value or "").replace("\r\n", "\n")
    for ch in value:
        if _is_control(ch, allow_newlines=True):
            if unicodedata.category(ch) == "Cs":
                raise UsageError(f"{field} is not valid UTF-8 text: give it as UTF-8")
            raise UsageError(
                f"{field} contains a control character ({ch!r}): use plain text and newlines only"
            )
    if len(value) > max_len:
        raise UsageError(f"{field} is {len(value)} characters long: at most {max_len} allowed")
    return value.strip()


#: An ordinary ASCII address (a subset of what email-validator accepts): no need to ask it.
_PLAIN_ADDRESS = re.compile(
    r"^(?P<local>[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})$"
)
#: Special-use top-level domains email-validator refuses (RFC 6761 and friends): its call.
_SPECIAL_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


def check_email(value: str, field: str = "address") -> str:
    """Return a syntactically valid address in the form mail servers take: an international
    domain in its ASCII (IDNA) form. A local part that is not ASCII, or longer than the 64
    characters RFC 5321 allows, is refused: most servers could never deliver it."""
    value = clean_line(value, field, max_len=254)
    plain = _PLAIN_ADDRESS.match(value)
    if (
        plain
        and len(plain.group("local")) <= 64
        and plain.group("domain").rpartition(".")[2].lower() not in _SPECIAL_TLDS
    ):
        return f"{plain.group('local')}@{plain.group('domain').lower()}"
    # Imported here: the long-running worker never validates input and need not carry it.
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise UsageError(f"{field} {shown(value)} is not a valid email address: {exc}") from None
    local = result.ascii_email.rpartition("@")[0] if result.ascii_email else ""
    if len(local) > 64:
        raise UsageError(
            f"{field} {shown(value)} is not a valid email address: the part before the @ is "
            f"{len(local)} characters long, at most 64 are allowed"
        )
    return result.ascii_email or result.normalized


@dataclass(frozen=True)
class Mailbox:
    """A display name and an address, as in `Ada Lovelace <ada@example.org>`."""

    name: str
    email: str

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2].lower()

    def header(self) -> Address:
        """The mailbox as an email.headerregistry.Address (encodes the name safely)."""
        username, _, domain = self.email.rpartition("@")
        return Address(display_name=self.name, username=username, domain=domain)

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


_MAILBOX = re.compile(r"^\s*(?:\"?(?P<name>[^<>\"]*?)\"?\s*)?<(?P<addr>[^<>]+)>\s*$")


def parse_mailbox(value: str, field: str = "contact") -> Mailbox:
    """Parse `Name <address>` (or a bare address) into a Mailbox, refusing anything ambiguous."""
    value = clean_line(value, field, max_len=400)
    match = _MAILBOX.match(value)
    if match:
        name = clean_line(match.group("name") or "", f"{field} name", required=False)
        addr = match.group("addr")
    elif "<" in value or ">" in value:
        raise UsageError(f"{field} {shown(value)} is not of the form 'Name <address>'")
    else:
        name, addr = "", value
    return Mailbox(name=name, email=check_email(addr, f"{field} address"))


def check_zone(value: str, field: str = "time zone") -> ZoneInfo:
    """Return the IANA time zone named by value or raise UsageError.

    Only UTC and Area/Location names are accepted: "EST", "CET" or "Etc/GMT+5" are fixed offsets
    or old aliases that a place's daylight-saving rules do not follow.
    """
    value = clean_line(value, field, max_len=64)
    if value in ("UTC", "Etc/UTC"):
        return ZoneInfo("UTC")
    # "localtime" and "Factory" are files in the tz database, not places.
    if value in _zone_names() and value not in NOT_ZONES:
        if "/" in value and not value.startswith("Etc/"):
            try:
                return ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                pass
        else:
            raise UsageError(
                f"{field} {shown(value)} is a fixed offset or an old alias that ignores local "
                "daylight-saving rules: use the place's name, e.g. 'America/New_York' or "
                "'Europe/Berlin' (or UTC)"
            )
    raise UsageError(
        f"{field} {shown(value)} is not a known IANA time zone: use a name like 'Europe/Berlin' "
        "or 'America/New_York'"
    )


NOT_ZONES = ("localtime", "Factory", "posixrules")
_ZONES: set[str] | None = None


def _zone_names() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones()
    return _ZONES


def local_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """Resolve a naive wall-clock time in zone to UTC for scheduling.

    A time skipped by a daylight-saving jump moves forward by the size of the gap (02:30 on a
    spring-forward night becomes 03:30): with fold=0 zoneinfo applies the offset from before the
    jump (PEP 495). A repeated time takes its first occurrence.
    """
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def wall_time_status(wall: datetime, zone: ZoneInfo) -> str:
    """Tell whether a naive wall time in zone is 'ok', 'nonexistent' or 'ambiguous'."""
    a = wall.replace(tzinfo=zone, fold=0)
    b = wall.replace(tzinfo=zone, fold=1)
    if a.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        return "nonexistent"
    if a.utcoffset() != b.utcoffset():
        return "ambiguous"
    return "ok"


#: 'YYYY-MM-DD HH:MM' (or with T, seconds, an explicit offset); a date alone is not a start time.
_AT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$")


def parse_local_datetime(value: str, zone: ZoneInfo, field: str = "--at") -> datetime:
    """Parse 'YYYY-MM-DD HH:MM' in zone (or with an explicit UTC offset) into an aware UTC time."""
    value = clean_line(value, field, max_len=40)
    if not _AT.match(value):
        raise UsageError(
            f"{field} {shown(value)} is not a date and time: use 'YYYY-MM-DD HH:MM', e.g. '2026-03-06 14:30'"
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(f"{field} {shown(value)} is not a real date and time: {exc}") from None
    check_moment(parsed, field, value)
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    status = wall_time_status(parsed, zone)
    if status == "nonexistent":
        raise UsageError(
            f"{field} {value} does not exist in {zone.key} (the clocks jump forward then): "
            "check the time"
        )
    if status == "ambiguous":
        off0 = parsed.replace(tzinfo=zone, fold=0).strftime("%z")
        off1 = parsed.replace(tzinfo=zone, fold=1).strftime("%z")
        raise UsageError(
            f"{field} {value} happens twice in {zone.key} (the clocks go back then): "
            f"add the UTC offset, e.g. '{value}{off0[:3]}:{off0[3:]}' or '{value}{off1[:3]}:{off1[3:]}'"
        )
    moment = parsed.replace(tzinfo=zone)
    check_moment(moment, field, value)
    return moment.astimezone(UTC)


def parse_date(value: str, field: str) -> date:
    """Parse 'YYYY-MM-DD' or raise UsageError."""
    value = clean_line(value, field, max_len=20)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{field} {shown(value)} is not a date: use 'YYYY-MM-DD'") from None
    _check_year(day.year, value, field)
    return day


#: Dates a job search can be about; anything else is a typo (and breaks date arithmetic).
YEARS = range(2000, 2100)


def _check_year(year: int, value: str, field: str) -> None:
    if year not in YEARS:
        raise UsageError(
            f"{field} {shown(value)} is not between the years 2000 and 2099: check the year"
        )


#: A record id as the database stores it (a 32-bit integer on Postgres): 1 to 2**31 - 1.
MAX_ID = 2**31 - 1


def parse_id(value: str | int, field: str) -> int:
    """A record id from text (a form field, a cursor, a query) or a number: a whole number from
    1 to MAX_ID, else UsageError in one line. Never parses a huge number whole (Python refuses
    over 4,300 digits, and SQLite and Postgres overflow far sooner)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number: int | None = value
        said = str(value) if -(10**20) < value < 10**20 else "a huge number"
    else:
        text = str(value).strip()
        small = text.isascii() and text.isdecimal() and len(text) <= 10
        number = int(text) if small else None
        said = repr(text) if len(text) <= 20 else repr(text[:20] + "...")
    if number is None or not 1 <= number <= MAX_ID:
        raise UsageError(f"{field} {said} is not an id: give a whole number from 1 to {MAX_ID}")
    return number


def check_moment(moment: datetime | date, field: str, value: str | None = None) -> None:
    """The one check for every date that enters (CLI, CSV, .ics, .eml, API, web form, `load`):
    its year, as written and in UTC, is within 2000-2099; else UsageError naming `field` and the
    `value` as given (default: the moment itself)."""
    shown = value if value is not None else moment.isoformat()
    _check_year(moment.year, shown, field)
    if isinstance(moment, datetime) and moment.utcoffset() is not None:
        try:
            in_utc = moment.astimezone(UTC)
        except OverflowError:
            in_utc = None
        _check_year(in_utc.year if in_utc else 0, shown, field)


def require_aware(moment: datetime, what: str = "time") -> datetime:
    """Return moment in UTC; a naive datetime is a programming error and raises ValueError."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {moment!r}")
    return moment.astimezone(UTC)


_DURATION = re.compile(
    r"^\s*(?P<n>\d+)\s*(?P<unit>s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?|w|weeks?)\s*$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str | int, field: str) -> timedelta:
    """Parse '30s', '45m', '2h', '7d', '2w' (or a bare number of seconds) into a timedelta."""
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdecimal()):
        seconds = int(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise UsageError(
                f"{field} {shown(value)} is not a duration: use a number with a unit, e.g. '30s', '45m', "
                "'2h', '7d'"
            )
        unit = match.group("unit").lower()
        key = "m" if unit.startswith("mi") else unit[0]
        seconds = int(match.group("n")) * _UNIT_SECONDS[key]
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise UsageError(f"{field} {shown(value)} is far too long a duration") from None


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def check_host(value: str, field: str) -> str:
    """A host name or IP address, as the network needs it: an international name in its ASCII
    (IDNA) form; empty labels ("smtp..example.com") and labels over 63 characters refused."""
    import ipaddress

    value = clean_line(value, field, max_len=253)
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        pass
    try:
        ascii_name = value.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        ascii_name = ""
    labels = ascii_name.split(".")
    if not ascii_name or len(ascii_name) > 253 or not all(_LABEL.match(x) for x in labels):
        raise UsageError(
            f"{field}={shown(value)} is not a host name: check for typos such as '..', spaces or a "
            "part longer than 63 characters (e.g. smtp.fastmail.com)"
        )
    return ascii_name


def is_file(path: Path) -> bool:
    """Path.is_file(), False (not an exception) for a name too long or otherwise impossible."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def user_path(raw: str) -> Path:
    """A path as typed: `~` is the home folder; `~nobody` of a user that does not exist stays
    literal rather than failing."""
    try:
        return Path(raw).expanduser()
    except RuntimeError:
        return Path(raw)
