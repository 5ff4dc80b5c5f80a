"""The template sandbox: Jinja's, plus a CPU-time budget and a size limit, so a runaway template
stops in a second instead of hanging the worker or filling the database."""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

#: range() in a template: Jinja's own sandbox stops here too.
MAX_RANGE = 100_000


@dataclass(frozen=True)
class Limits:
    """How much CPU time one render may use, and how much text it may make."""

    seconds: float = 1.0
    max_chars: int = 256 * 1024


class OverBudget(Exception):
    """A render made too much text, or asked for too much; the message says which."""


class OverTime(OverBudget):
    """A render used more CPU time than its budget: the template, or a machine starved of CPU."""


def cpu_clock() -> float:
    """The CPU time of this thread: what a busy machine or a slow disk does not add to."""
    return time.thread_time()


_current = threading.local()


def _spent() -> float:
    """The CPU time the template's own code has used so far in this render."""
    since = getattr(_current, "since", None)
    return _current.spent + (cpu_clock() - since if since is not None else 0.0)


def _check() -> None:
    """Called at every step a template can repeat: a call, a loop round, an operator."""
    limits: Limits | None = getattr(_current, "limits", None)
    if limits is not None and _spent() > limits.seconds:
        raise OverTime(f"it used more than {limits.seconds:g}s of CPU time to render")


def _check_size(size: int) -> None:
    limits: Limits | None = getattr(_current, "limits", None)
    if limits is not None and size > limits.max_chars:
        raise OverBudget(f"it makes more than {limits.max_chars // 1024} KB of text")


class budget:
    """`with budget(limits):` a render. Only the time inside `collect` (the template's code)
    counts, not finding, reading or compiling the files; nested renders share the outer budget."""

    def __init__(self, limits: Limits):
        self.limits = limits

    def __enter__(self) -> None:
        self.outer = tuple(getattr(_current, k, None) for k in ("limits", "spent", "since"))
        if self.outer[0] is None:
            _current.limits, _current.spent, _current.since = self.limits, 0.0, None

    def __exit__(self, *exc: object) -> None:
        _current.limits, _current.spent, _current.since = self.outer


@contextlib.contextmanager
def _metered() -> Iterator[None]:
    """The CPU clock of the budget runs inside this block (once, if blocks nest)."""
    if getattr(_current, "limits", None) is None or _current.since is not None:
        yield
        return
    _current.since = cpu_clock()
    try:
        yield
    finally:
        _current.spent += cpu_clock() - _current.since
        _current.since = None


def collect(chunks: Iterator[str]) -> str:
    """Join a template's output, stopping as soon as it is too slow or too big."""
    parts, size = [], 0
    with _metered():
        for chunk in chunks:
            size += len(chunk)
            _check_size(size)
            _check()
            parts.append(chunk)
    return "".join(parts)


def _range(*args: int) -> Iterator[int]:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise OverBudget(f"range() of {len(numbers)} numbers is more than {MAX_RANGE}")
    for n in numbers:
        _check()
        yield n


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple)) else 0


#: Filters that can make much more text than they are given, and how much they would make.
_GROWTH: dict[str, Callable[..., int]] = {
    "center": lambda s, width=80, *a, **k: max(len(str(s)), int(width)),
    "indent": lambda s, width=4, *a, **k: (
        len(str(s)) * 2
        + (str(s).count("\n") + 1) * (int(width) if isinstance(width, int) else len(str(width)))
    ),
    "replace": lambda s, old, new, count=None: (
        len(str(s)) + (len(str(s)) + 1 if not old else str(s).count(str(old))) * len(str(new))
    ),
    "format": lambda s, *a, **k: len(str(s)) + sum(len(str(x)) for x in a) + _widths(str(s)),
    "wordwrap": lambda s, *a, **k: len(str(s)) * 2,
}


def _widths(pattern: str) -> int:
    """The widths and precisions a %-format asks for ("%100000s" asks for 100000)."""
    import re

    return sum(int(n) for n in re.findall(r"%[-+ #0]*(\d+)", pattern) if len(n) < 12)


def _guarded(name: str, fn: Callable) -> Callable:
    growth = _GROWTH.get(name)

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _check()
        if growth is not None:
            # Filters that take the context or environment get it first; the value comes next.
            value_args = args[1:] if getattr(fn, "jinja_pass_arg", None) else args
            # Bad arguments: the filter itself says what is wrong with them.
            with contextlib.suppress(TypeError, ValueError):
                _check_size(growth(*value_args, **kwargs))
        result = fn(*args, **kwargs)
        if isinstance(result, str):
            _check_size(len(result))
        return result

    return guarded


class BoundedEnvironment(SandboxedEnvironment):
    """SandboxedEnvironment that checks the budget at every call, loop round and operator."""

    intercepted_binops = frozenset({"*", "**", "+"})

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.globals["range"] = _range
        self.filters = {name: _guarded(name, fn) for name, fn in self.filters.items()}

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check()
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(times, int) and _sized(seq):
                    _check_size(_sized(seq) * times)
        elif operator == "**" and isinstance(left, int) and isinstance(right, int):
            if right > 64 and abs(left) > 1:
                raise OverBudget(f"{left} ** {right} is too large a number")
        elif operator == "+":
            _check_size(_sized(left) + _sized(right))
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _check()
        return super().call(__context, __obj, *args, **kwargs)
