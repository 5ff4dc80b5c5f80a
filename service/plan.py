"""The follow-up plan: which steps follow an interview, when, to whom; read from a TOML file."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path

from service.calendar import DAY_NAMES, Window
from service.errors import UsageError
from service.validation import parse_duration

DEFAULT_PLAN = Path(__file__).resolve().parent / "default_plan.toml"

RECIPIENTS = ("interviewers", "first", "me")
CONDITIONS = ("always", "questions", "decision_date", "no_decision_date")
FULL_DAY_NAMES = {
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}
#: A plan step further out than this is a typo, not a follow-up.
MAX_OFFSET_DAYS = 365
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_BUSINESS = re.compile(r"^\s*(\d+)\s*business\s+days?\s*$", re.IGNORECASE)
_DAYS = re.compile(r"^\s*(\d+)\s*(d|days?|w|weeks?)\s*$", re.IGNORECASE)
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class PlanError(UsageError):
    """The plan file is not valid; the message names the file, the step and the key."""


@dataclass(frozen=True)
class Offset:
    """How long after an anchor a step is due: elapsed time, calendar days or business days."""

    kind: str  # "elapsed" | "days" | "business_days"
    amount: int  # seconds for "elapsed", else a day count
    text: str

    @classmethod
    def parse(cls, value: object, where: str) -> Offset:
        text = str(value).strip()
        if m := _BUSINESS.match(text):
            offset = cls("business_days", int(m.group(1)), text)
        elif m := _DAYS.match(text):
            factor = 7 if m.group(2).lower().startswith("w") else 1
            offset = cls("days", int(m.group(1)) * factor, text)
        else:
            try:
                seconds = parse_duration(text, where)
            except UsageError:
                raise PlanError(
                    f"{where} = {value!r} is not a delay: use '30s', '2h', '7d', '2w' or "
                    "'1 business day'"
                ) from None
            offset = cls("elapsed", int(seconds.total_seconds()), text)
        days = offset.amount / 86400 if offset.kind == "elapsed" else offset.amount
        if days > MAX_OFFSET_DAYS:
            raise PlanError(f"{where} = {value!r} is more than {MAX_OFFSET_DAYS} days")
        return offset


@dataclass(frozen=True)
class Step:
    """One follow-up in the plan."""

    name: str
    template: str
    to: str
    after: Offset
    after_decision_date: Offset | None = None
    when: str = "always"
    review: bool | None = None
    expire_after: timedelta | None = None


@dataclass(frozen=True)
class Plan:
    window: Window
    steps: tuple[Step, ...]
    source: str

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)


def _window(raw: dict, where: str) -> Window:
    if not isinstance(raw, dict):
        raise PlanError(f"{where}: window must be a [window] table")
    unknown = set(raw) - {"enabled", "hours", "days"}
    if unknown:
        raise PlanError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} in [window]")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise PlanError(f"{where}: [window] enabled must be true or false")
    hours = str(raw.get("hours", "09:00-17:00"))
    m = _HOURS.match(hours)
    try:
        if m is None:
            raise ValueError(hours)
        start = time(int(m.group(1)), int(m.group(2)))
        end = time(int(m.group(3)), int(m.group(4)))
    except ValueError:
        raise PlanError(f"{where}: [window] hours = {hours!r} is not 'HH:MM-HH:MM'") from None
    if end <= start:
        raise PlanError(f"{where}: [window] hours = {hours!r} must end after it starts")
    days = raw.get("days", list(DAY_NAMES[:5]))
    if not isinstance(days, list) or not days:
        raise PlanError(f'{where}: [window] days must be a list such as ["mon", "tue"]')
    indexes = set()
    for day in days:
        name = str(day).strip().lower()
        name = FULL_DAY_NAMES.get(name, name)
        if name not in DAY_NAMES:
            raise PlanError(f"{where}: [window] days has {day!r}: use mon, tue, ... sun")
        indexes.add(DAY_NAMES.index(name))
    return Window(enabled=enabled, start=start, end=end, days=frozenset(indexes))


_STEP_KEYS = {
    "name",
    "after",
    "template",
    "to",
    "after_decision_date",
    "when",
    "review",
    "expire_after",
}


def _step(raw: dict, where: str) -> Step:
    if not isinstance(raw, dict):
        raise PlanError(f"{where}: steps must be [[steps]] tables, not {raw!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise PlanError(f"{where}: every step needs a name of lowercase letters, digits and _")
    here = f"{where}: step {name!r}"
    unknown = set(raw) - _STEP_KEYS
    if unknown:
        raise PlanError(f"{here}: unknown key(s) {', '.join(sorted(unknown))}")
    if "after" not in raw:
        raise PlanError(f"{here}: 'after' is missing (e.g. after = \"1 business day\")")
    template = raw.get("template", name)
    if not isinstance(template, str) or not _NAME.match(template):
        raise PlanError(f"{here}: template {template!r} is not a template name")
    to = raw.get("to", "interviewers")
    if to not in RECIPIENTS:
        raise PlanError(f"{here}: to = {to!r}: use one of {', '.join(RECIPIENTS)}")
    when = raw.get("when", "always")
    if when not in CONDITIONS:
        raise PlanError(f"{here}: when = {when!r}: use one of {', '.join(CONDITIONS)}")
    review = raw.get("review")
    if review is not None and not isinstance(review, bool):
        raise PlanError(f"{here}: review must be true or false")
    expire = raw.get("expire_after")
    try:
        expire_after = parse_duration(str(expire), f"{here} expire_after") if expire else None
    except UsageError as exc:
        raise PlanError(str(exc)) from None
    decision = raw.get("after_decision_date")
    return Step(
        name=name,
        template=template,
        to=to,
        after=Offset.parse(raw["after"], f"{here} after"),
        after_decision_date=(
            Offset.parse(decision, f"{here} after_decision_date") if decision else None
        ),
        when=when,
        review=review,
        expire_after=expire_after,
    )


def parse_plan(text: str, source: str = "plan") -> Plan:
    """Parse and check a plan; any problem raises PlanError naming source and step."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{source}: not valid TOML ({exc})") from None
    unknown = set(raw) - {"window", "steps"}
    if unknown:
        raise PlanError(f"{source}: unknown section(s) {', '.join(sorted(unknown))}")
    window = _window(raw.get("window", {}), source)
    steps_raw = raw.get("steps", [])
    if not isinstance(steps_raw, list) or not steps_raw:
        raise PlanError(f"{source}: the plan has no [[steps]]")
    steps = tuple(_step(s, source) for s in steps_raw)
    names = [s.name for s in steps]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise PlanError(f"{source}: step name(s) {', '.join(dupes)} used twice")
    return Plan(window=window, steps=steps, source=source)


def load_plan(path: Path | None = None) -> Plan:
    """Read the plan at path, or the shipped default plan."""
    path = path or DEFAULT_PLAN
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"cannot read plan {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise PlanError(
            f"plan {path} is not UTF-8 text (byte {exc.start}): save it as UTF-8"
        ) from None
    return parse_plan(text, str(path))
