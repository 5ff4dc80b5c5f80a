"""`followup serve`: uvicorn on the web app, after the safety checks; the login password made at
first start; and, with --with-worker, `followup worker` as a child process beside it. The app
reads .env and the plan file again when they change (looked at on each request), or at once on
SIGHUP, which the worker beside it gets too."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from service.config import Settings
from service.config.web import is_loopback
from service.db import Database
from service.errors import UsageError

log = logging.getLogger(__name__)
#: How long the worker may take to finish the message in flight when the server stops.
WORKER_GRACE = 60


def check_bind(settings: Settings, host: str, port: int) -> None:
    """Refuse what would expose the service: a non-loopback address without a password of the
    user's own, a password that guesses would find, or an address that cannot be listened on."""
    if settings.web.password_problem:
        raise UsageError(settings.web.password_problem)
    if not is_loopback(host) and not settings.web.password:
        raise UsageError(
            f"refusing to listen on {host}: anyone who can reach it could send mail as you; set "
            "FOLLOWUP_WEB_PASSWORD in .env (and put https in front), or listen on 127.0.0.1"
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (another program may use the "
            "port: choose one with --port or FOLLOWUP_WEB_PORT)"
        ) from None


def login_hint(settings: Settings, db: Database, now: datetime, *, renew: bool) -> str:
    """What the user needs to log in; makes (and shows once) a password when none is set."""
    from service.web.security import generated_password, new_password

    if settings.web.password:
        if renew:
            raise UsageError(
                "--new-password: FOLLOWUP_WEB_PASSWORD is set; change it in .env instead, e.g. "
                f"to {new_password()}"
            )
        return "log in with FOLLOWUP_WEB_PASSWORD"
    made = generated_password(db, now, renew=renew)
    if made:
        return (
            f"log in with this password (shown only now; only its hash is kept): {made}\n"
            "  (set FOLLOWUP_WEB_PASSWORD in .env to choose your own)"
        )
    return (
        "log in with the password printed when `followup serve` first started "
        "(forgot it? `followup serve --new-password` prints a new one)"
    )


def bound(settings: Settings, host: str, port: int) -> Settings:
    """The settings, with the address the server listens on (a flag may name another than
    .env; a change in .env takes a restart)."""
    return dataclasses.replace(
        settings, web=dataclasses.replace(settings.web, host=host, port=port)
    )


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for X-Forwarded-For and -Proto: believed only from the proxies named in
    FOLLOWUP_WEB_TRUSTED_PROXIES (uvicorn's own default trusts 127.0.0.1, so anyone on this
    machine could pose as another address to the login limit); none named: ignored."""
    trusted = list(settings.web.trusted_proxies)
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted}


def start_worker() -> subprocess.Popen:
    """`followup worker` beside the server: same settings, same folder, its own process."""
    return subprocess.Popen([sys.executable, "-m", "service", "worker"], env=os.environ.copy())


def stop_worker(worker: subprocess.Popen) -> None:
    """SIGTERM, so it finishes the message in flight; it may have had Ctrl-C already."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=WORKER_GRACE)
    except subprocess.TimeoutExpired:
        log.error("the worker did not stop within %ss: killing it", WORKER_GRACE)
        worker.kill()
        worker.wait()


def serve(
    settings: Settings,
    db: Database,
    host: str,
    port: int,
    *,
    with_worker: bool = False,
    new_password: bool = False,
    echo: Callable[[str], None] = print,
) -> None:
    """Run the web app until SIGINT or SIGTERM (and the worker, when asked)."""
    import uvicorn

    from service.config import load_settings
    from service.web.app import create_app

    check_bind(settings, host, port)
    settings = bound(settings, host, port)
    echo(login_hint(settings, db, datetime.now(UTC), renew=new_password))
    app = create_app(settings, db, load=lambda: bound(load_settings(), host, port))
    worker = start_worker() if with_worker else None

    def reread(_signum: int, _frame: FrameType | None) -> None:
        """SIGHUP: read the settings again at once (in a thread: not inside the handler); the
        worker started beside the server is told too."""
        app.state.web.watch.ask()
        threading.Thread(target=app.state.web.refresh_settings, daemon=True).start()
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGHUP)

    shown = f"[{host}]" if ":" in host else host
    echo(f"open http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{port}")
    if settings.web.url:
        echo(f"digest links point at {settings.web.url}")
    # uvicorn re-raises the signal that stopped it once it is done: with these handlers that
    # ends the call here, so the worker is stopped too (the default would kill the process).
    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, reread)
    try:
        # No access log: the path of a digest's approve link is a credential.
        uvicorn.run(
            app,
            host=host,
            port=port,
            access_log=False,
            log_config=None,
            server_header=False,
            **proxy_options(settings),
        )
    except Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if worker is not None:
            stop_worker(worker)


class Stopped(Exception):
    """SIGINT or SIGTERM, after uvicorn finished its graceful shutdown."""


def _stopped(_signum: int, _frame: FrameType | None) -> None:
    raise Stopped()
