"""Regenerate docs/screenshots/: the main pages of `followup serve`, at desktop and phone width.

    .venv/bin/python bench/screenshots.py [--out FOLDER]

Records two interviews in a throwaway folder (outbox mode: nothing is sent), lets the worker put
their follow-ups up for review, starts the real server on a free loopback port and photographs
the pages with Debian's Chromium (/usr/bin/chromium) through Playwright. --out writes them
somewhere else (to look at them before replacing the documented ones). Exits 1 when a page does
not load.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "screenshots"
PASSWORD = "screenshots-only-password"
PAGES = {"today": "/", "review": "/review", "interview": "/interviews/1", "setup": "/setup"}
SIZES = {"desktop": {"width": 1200, "height": 900}, "phone": {"width": 390, "height": 844}}


def followup(cwd: Path, env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "service", *args], cwd=cwd, env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def seed(cwd: Path, env: dict) -> None:
    yesterday = date.today() - timedelta(days=1)
    followup(cwd, env, "migrate")
    followup(
        cwd, env, "interview", "add", "--company", "Acme Corp", "--role", "Staff Engineer",
        "--at", f"{yesterday} 14:00", "--tz", "America/New_York", "--duration", "45m",
        "--contact", "Jane Roe <jane@acme.example> | Engineering Manager | +1 555 0100 | "
        "topic=the move to event sourcing",
        "--contact", "Dr. Bob Lee <bob@acme.example> | topic=how on-call works",
        "--question", "How is on-call organised?",
        "--decision-date", f"{yesterday + timedelta(days=9)}",
    )  # fmt: skip
    followup(
        cwd, env, "interview", "add", "--company", "Globex", "--role", "Data Engineer",
        "--at", f"{yesterday} 10:00", "--tz", "Europe/London",
        "--contact", "Hank Scorpio <hank@globex.example> | topic=the data platform migration",
    )  # fmt: skip
    followup(cwd, env, "worker", "--once")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"default {OUT.relative_to(REPO)}")
    args = parser.parse_args()
    out = args.out.resolve()
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        (cwd / ".env").write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
        env.update(
            FOLLOWUP_FROM="Ada Lovelace <ada@fastmail.com>",
            FOLLOWUP_TIMEZONE="Europe/Berlin",
            FOLLOWUP_REVIEW="on",
            FOLLOWUP_REVIEW_LEAD="4d",
            FOLLOWUP_WEB_PASSWORD=PASSWORD,
            FOLLOWUP_LOG_LEVEL="WARNING",
            PYTHONPATH=str(REPO),
        )
        seed(cwd, env)
        server = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port)], cwd=cwd, env=env
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    if httpx.get(url + "/login", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            with sync_playwright() as playwright:
                chromium = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium",
                    args=["--headless", "--no-sandbox", "--disable-gpu",
                          "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", "--no-first-run"],
                )  # fmt: skip
                for size, viewport in SIZES.items():
                    page = chromium.new_page(viewport=viewport)
                    page.goto(url + "/login")
                    page.fill("#password", PASSWORD)
                    page.click("button[type=submit]")
                    page.wait_for_url(url + "/")
                    for name, path in PAGES.items():
                        response = page.goto(url + path)
                        if response is None or response.status != 200:
                            code = response.status if response else "no answer"
                            sys.exit(f"FAILED: {path} answered {code}")
                        target = out / f"{name}-{size}.png"
                        page.screenshot(path=str(target), full_page=size == "desktop")
                        print(target)
                chromium.close()
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
