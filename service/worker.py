"""The worker: APScheduler is only the clock; every pass reads what is due from the database."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from service.config import Settings
from service.db import Database
from service.delivery import Delivery, Summary

log = logging.getLogger(__name__)

#: Never wake more often than this, whatever the database says.
MIN_WAKE = timedelta(milliseconds=20)
#: When a pass leaves something due behind, the next look is this much later.
RETRY_WAKE = timedelta(seconds=5)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Worker:
    """Runs delivery passes on a tick, plus a one-off wake-up at the next due moment."""

    def __init__(self, settings: Settings, db: Database, clock: Callable[[], datetime] = utcnow):
        self.settings = settings
        self.db = db
        self.clock = clock
        self.delivery = Delivery(settings, db)
        self.stopping = threading.Event()
        self._pass_lock = threading.Lock()
        self.scheduler: BlockingScheduler | None = None

    def run_pass(self) -> Summary | None:
        """One delivery pass; errors are logged, never fatal, so the next tick tries again."""
        if self.stopping.is_set():
            return None
        with self._pass_lock:
            try:
                summary = self.delivery.run_once(self.clock, self.stopping)
            except Exception as exc:  # the worker must outlive a database or network blip
                log.error("delivery pass failed: %s", exc, exc_info=log.isEnabledFor(logging.DEBUG))
                return None
            if summary.handled or summary.flagged or summary.expired or summary.prepared:
                log.info(
                    "pass: %s sent, %s deferred, %s failed, %s uncertain, %s expired, %s to review",
                    summary.sent,
                    summary.deferred,
                    summary.failed,
                    summary.uncertain + summary.flagged,
                    summary.expired,
                    summary.prepared,
                )
            self._schedule_wake()
            return summary

    def _schedule_wake(self) -> None:
        """Arm a one-off job at the next due moment if it comes before the next tick."""
        if self.scheduler is None or self.stopping.is_set():
            return
        try:
            wake = self.delivery.next_wake(self.clock())
        except Exception as exc:
            log.error("cannot compute the next wake-up: %s", exc)
            return
        if wake is None:
            return
        now = self.clock()
        if wake - now > self.settings.tick:
            return
        # Something still due after a pass could not be sent now (the hourly cap, an error):
        # look again shortly, not in a tight loop.
        wake = max(wake, now + (RETRY_WAKE if wake <= now else MIN_WAKE))
        self.scheduler.add_job(
            self.run_pass,
            DateTrigger(run_date=wake),
            id="wake",
            replace_existing=True,
            misfire_grace_time=None,
        )
        log.debug("next wake-up at %s", wake.isoformat())

    def stop(self, *_args) -> None:
        """Stop after the message in flight; safe to call from a signal handler."""
        if self.stopping.is_set():
            return
        log.info("stopping: finishing the message in flight")
        self.stopping.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def run_forever(self) -> None:
        """Block until SIGTERM or SIGINT, then finish the current message and return."""
        self.scheduler = BlockingScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self.scheduler.add_job(
            self.run_pass,
            IntervalTrigger(seconds=self.settings.tick.total_seconds(), timezone=UTC),
            id="tick",
            replace_existing=True,
            next_run_time=datetime.now(UTC),
        )
        previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        transport = self.delivery.transport.address
        log.info(
            "worker started: sending via %s, tick %ss, lease %ss",
            transport,
            int(self.settings.tick.total_seconds()),
            int(self.settings.send_lease.total_seconds()),
        )
        try:
            self.scheduler.start()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            # Wait for a pass still running in the executor thread: its message finishes.
            with self._pass_lock:
                pass
            log.info("worker stopped")

    def run_until_idle(self) -> Summary:
        """`worker --once`: send everything due now, then return."""
        return self.delivery.run_once(self.clock, self.stopping)
