"""Helpers for the browser tests: `followup serve --with-worker` as a real process, Debian's
Chromium driven by Playwright, and waiting for what the worker does."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from mailserver import free_port
from processes import LogReader

from service.db import Database
from service.models import FollowUp

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def wait_until(check: Callable[[], object], what: str, timeout: float = 30) -> object:
    """Poll until `check()` gives something true; fail saying what did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        time.sleep(0.1)


class Server:
    """`followup serve --with-worker` on a free loopback port, stopped with SIGTERM."""

    def __init__(self, cwd: Path, env: dict[str, str], *args: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = env | {"FOLLOWUP_WEB_URL": self.url}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "service",
                "serve",
                "--port",
                str(self.port),
                "--with-worker",
                *args,
            ],  # fmt: skip
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log = LogReader(self.process)

    def wait_ready(self) -> Server:
        def answers() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"followup serve exited:\n{self.log.text}")
            try:
                return httpx.get(self.url + "/login", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, "followup serve answering")
        return self

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        text = self.log.finish()
        # Its stderr closes only when the worker it started (which shares it) is gone too.
        assert self.log.closed, f"the worker outlived `followup serve`:\n{text}"
        return text


@contextlib.contextmanager
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def statuses(db_url: str, status: str) -> list[int]:
    """Ids of follow-ups (not notes) in a status."""
    db = Database(db_url)
    try:
        with db.reading() as session:
            return list(
                session.scalars(
                    FollowUp.__table__.select()
                    .with_only_columns(FollowUp.id)
                    .where(FollowUp.status == status, FollowUp.kind == "followup")
                    .order_by(FollowUp.id)
                )
            )
    finally:
        db.dispose()


def received_by(mailserver, address: str):
    """The first message the sink accepted for this address, if any."""
    for item in list(mailserver.received):
        if address in item.rcpt_tos:
            return item
    return None


def plain_text(item) -> str:
    """The decoded text part, with the wire's CRLF as LF."""
    return item.message.get_body(("plain",)).get_content().replace("\r\n", "\n")
