"""Whether followup is healthy, for `followup health` (Compose healthchecks, monitors): a worker
that beat within three ticks and whose sending is not paused, and the web app answering."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta

from service import workers
from service.db import Database
from service.errors import UsageError


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    detail: str


def check_workers(
    db: Database, now: datetime, tick: timedelta, *, this_host: bool = False
) -> Finding:
    """At least one worker beat within three ticks (on this host, with `this_host`), and none
    of those is paused."""
    host = socket.gethostname()

    def here(name: str) -> bool:
        return not this_host or name.partition("@")[2].rpartition(":")[0] == host

    everyone = [w for w in workers.everyone(db) if here(w.name)]
    fresh = [w for w in everyone if w.heartbeat_at >= now - 3 * tick]
    where = f" on {host}" if this_host else ""
    if not fresh:
        last = max((w.heartbeat_at for w in everyone), default=None)
        seen = f"the last beat was {_ago(now - last)} ago" if last else "none has ever beaten here"
        return Finding(
            False,
            "worker",
            f"no worker{where} beat in the last three ticks ({_ago(3 * tick)}): {seen}",
        )
    paused = [w for w in fresh if w.paused_reason]
    if paused:
        w = paused[0]
        return Finding(False, "worker", f"{w.name}: sending paused: {w.paused_reason}")
    newest = max(w.heartbeat_at for w in fresh)
    return Finding(
        True, "worker", f"{len(fresh)} running{where}, last beat {_ago(now - newest)} ago"
    )


def check_web(url: str, timeout: float = 5.0) -> Finding:
    """The web app answers `url` with a success status."""
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--web {url!r} is not an http(s) URL: e.g. http://127.0.0.1:8000/healthz")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (checked)
            status = response.status
    except urllib.error.HTTPError as exc:
        return Finding(False, "web", f"{url} answered {exc.code} {exc.reason}")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Finding(False, "web", f"{url} does not answer: {reason}")
    return Finding(200 <= status < 300, "web", f"{url} answered {status}")


def _ago(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}min"
    return f"{seconds // 3600}h"
