"""The worker: APScheduler is only the clock; every pass reads what is due from the database.

Settings are re-read when `.env` or the plan file changes (looked at before every pass, so within
one FOLLOWUP_TICK) or at once on SIGHUP; a change that does not check out pauses sending until it
is fixed, rather than sending under the old settings (a mistyped FOLLOWUP_REVIEW must not send
unreviewed mail).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from service import workers
from service.config import Settings
from service.config.watch import SettingsWatch
from service.db import Database, error_line, sqlite_file
from service.delivery import Delivery, Summary
from service.notify import notify
from service.plan import Plan, load_plan

if TYPE_CHECKING:
    from service.inbox.watch import InboxWatch

log = logging.getLogger(__name__)

#: Never wake more often than this, whatever the database says.
MIN_WAKE = timedelta(milliseconds=20)
#: When a pass leaves something due behind, the next look is this much later.
RETRY_WAKE = timedelta(seconds=5)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Worker:
    """Runs delivery passes on a tick, plus a one-off wake-up at the next due moment."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Callable[[], datetime] = utcnow,
        load: Callable[[], Settings] | None = None,
    ):
        #: The settings in force (`load` reads them again; None: never, as under test).
        self.watch = SettingsWatch(settings, load, service="the worker")
        self.db = db
        self.clock = clock
        self.delivery = Delivery(settings, db)
        self.delivery.alive = self._beat_if_due
        self._last_beat: datetime | None = None
        self.inbox = _watch(settings, db, self.delivery.actor)
        self.started_at = clock()
        #: Why the worker stopped by itself (a database file that vanished), if it did.
        self.failure: str | None = None
        self._db_identity = _file_identity(db)
        self.stopping = threading.Event()
        self._pass_lock = threading.Lock()
        self.scheduler: BlockingScheduler | None = None

    @property
    def settings(self) -> Settings:
        return self.watch.settings

    @property
    def paused(self) -> str | None:
        """Why sending is paused (settings that do not check out), or None."""
        return self.watch.problem

    def refresh_settings(self) -> None:
        """Pick up changed settings; called before each pass."""
        was_paused = self.paused
        fresh = self.watch.refresh(_checked)
        if fresh is None:
            return
        new, plan = fresh
        self.delivery = Delivery(new, self.db, plan=plan)
        self.delivery.alive = self._beat_if_due
        if new.imap != (self.inbox.settings.imap if self.inbox else None):
            if self.inbox is not None:
                self.inbox.close()
            self.inbox = _watch(new, self.db, self.delivery.actor)
        if was_paused:
            log.info("settings fixed: sending resumes")

    def reload_now(self, *_args: object) -> None:
        """SIGHUP: re-read the settings at once (from a thread: not inside the signal handler)."""
        self.watch.ask()
        if self.scheduler is not None and self.scheduler.running:
            threading.Thread(target=self._wake, daemon=True).start()

    def _wake(self) -> None:
        if self.scheduler is not None and not self.stopping.is_set():
            self.scheduler.add_job(self.run_pass, id="wake", replace_existing=True)

    def run_pass(self) -> Summary | None:
        """One delivery pass; errors are logged, never fatal, so the next tick tries again."""
        if self.stopping.is_set():
            self._shutdown()  # a stop that came before the scheduler ran could not stop it
            return None
        with self._pass_lock:
            gone = self._database_gone()
            if gone:
                self.failure = f"{gone} while the worker ran: start the worker again to use it"
                log.error("stopping: %s", self.failure)
                self.stop()
                return None
            self.refresh_settings()
            if self.paused:
                log.warning("sending is paused until the settings are fixed: %s", self.paused)
                self.delivery.paused = self.paused
                self._beat()
                return None
            try:
                self._read_inbox()
                summary = self.delivery.run_once(self.clock, self.stopping)
                self._beat()
            except Exception as exc:  # the worker must outlive a database or network blip
                log.error(
                    "delivery pass failed: %s",
                    error_line(exc),
                    exc_info=log.isEnabledFor(logging.DEBUG),
                )
                return None
            if (
                summary.handled
                or summary.flagged
                or summary.expired
                or summary.prepared
                or summary.changed
            ):
                log.info(
                    "pass: %s sent, %s deferred, %s failed, %s uncertain, %s expired, %s to review"
                    "%s",
                    summary.sent,
                    summary.deferred,
                    summary.failed,
                    summary.uncertain + summary.flagged,
                    summary.expired,
                    summary.prepared,
                    f", {summary.changed} changed meanwhile: not sent" * bool(summary.changed),
                )
            self._schedule_wake()
            return summary

    def _database_gone(self) -> str | None:
        """A SQLite file deleted or replaced under the worker would be written no more."""
        if self._db_identity is None:
            return None
        now = _file_identity(self.db)
        if now is None:
            return f"the database file {sqlite_file(self.db.url)} was deleted"
        if now != self._db_identity:
            return f"the database file {sqlite_file(self.db.url)} was replaced"
        return None

    def _read_inbox(self) -> None:
        """The mailbox first: a reply that arrived stops what it concerns before the claims."""
        if self.inbox is not None:
            self.inbox.check(self.clock())

    def _beat(self, now: datetime | None = None) -> None:
        """The heartbeat: alive now, paused or not, and any mailbox problem (`followup doctor`,
        `followup health` and the review digest read it); systemd's watchdog hears it too."""
        now = now or self.clock()
        workers.beat(
            self.db,
            self.delivery.actor,
            self.started_at,
            now,
            self.delivery.paused,
            inbox_error=self.inbox.error if self.inbox else None,
        )
        self._last_beat = now
        notify("WATCHDOG=1")

    def _beat_if_due(self, now: datetime) -> None:
        """During a long pass: beat again once a third of a tick has gone by since the last."""
        if self._last_beat is None or now - self._last_beat >= self.settings.tick / 3:
            try:
                self._beat(now)
            except Exception as exc:  # the pass goes on; the next beat tries again
                log.warning("heartbeat failed: %s", exc)

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

    def stop(self, *_args: object) -> None:
        """Stop after the message in flight; safe to call from a signal handler."""
        if self.stopping.is_set():
            return
        log.info("stopping: finishing the message in flight")
        self.stopping.set()
        notify("STOPPING=1")
        self._shutdown()

    def _shutdown(self) -> None:
        """Stop the scheduler if it runs (from a signal handler or a pass: twice is harmless)."""
        if self.scheduler is not None and self.scheduler.running:
            with contextlib.suppress(SchedulerNotRunningError):
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
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self.reload_now)
        transport = self.delivery.transport.address
        log.info(
            "worker started: sending via %s, tick %ss, lease %ss",
            transport,
            int(self.settings.tick.total_seconds()),
            int(self.settings.send_lease.total_seconds()),
        )
        try:
            # Alive and connected: say so before the first pass, which may be long.
            self._beat()
            notify(f"READY=1\nSTATUS=sending via {transport}")
            self.scheduler.start()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            # Wait for a pass still running in the executor thread: its message finishes.
            with self._pass_lock:
                pass
            if self.inbox is not None:
                self.inbox.close()
            try:
                workers.forget(self.db, self.delivery.actor)
            except Exception as exc:  # stopping anyway; the row just goes stale
                log.warning("could not remove this worker's heartbeat: %s", exc)
            log.info("worker stopped")

    def run_until_idle(self) -> Summary:
        """`worker --once`: read the mailbox, send everything due now, then return."""
        try:
            self._read_inbox()
            return self.delivery.run_once(self.clock, self.stopping)
        finally:
            if self.inbox is not None:
                self.inbox.close()


def _watch(settings: Settings, db: Database, actor: str) -> InboxWatch | None:
    """The mailbox reader, when an IMAP host is set (imported only then: an idle worker without
    one never loads the IMAP library)."""
    if settings.imap is None:
        return None
    from service.inbox.watch import InboxWatch

    return InboxWatch(settings, db, actor)


def _file_identity(db: Database) -> tuple[int, int] | None:
    path = sqlite_file(db.url)
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _checked(settings: Settings) -> Plan:
    """The plan new settings name, if it reads; over SMTP, a sender that is not the example."""
    plan = load_plan(settings.plan_path)
    settings.require_sender()
    return plan
