"""Fires pending timers and deadline alerts on time, sends the e-mail outbox, and keeps house (old idempotency keys).

The pending_timers and deadline_alerts tables are the truth; APScheduler is only the trigger:
one job armed at the nearest due time, re-armed as soon as a nearer one is committed, and a
sweep every few seconds for anything missed (downtime, clock jumps). On PostgreSQL, commits in
any process announce new due times with NOTIFY, so a separate `apflow scheduler` re-arms at once
instead of waiting for its sweep. Firing claims the instance in a transaction, so several
schedulers sharing a database never fire anything twice.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from apflow.clock import clock
from apflow.errors import Unavailable
from apflow.services import deadlines, idempotency, instances, notifications, watches, webhooks
from apflow.services.core import Core

log = logging.getLogger(__name__)
WAKE_JOB = "apflow-wake"
SWEEP_JOB = "apflow-sweep"
OUTBOX_JOB = "apflow-outbox"
HOUSEKEEPING_JOB = "apflow-housekeeping"
HOUSEKEEPING_SECONDS = 3600
WATCH_JOB = "apflow-watch"
WATCH_SECONDS = 60


class TimerScheduler:
    def __init__(self, core: Core, sweep_seconds: float | None = None):
        self.core = core
        self.sweep_seconds = sweep_seconds if sweep_seconds is not None else core.settings.sweep_seconds
        self._scheduler = BackgroundScheduler(timezone=timezone.utc, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        self._lock = threading.Lock()
        self._armed_for: datetime | None = None
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        # Passes of run_due finished so far: tests wait on this instead of sleeping (see wait_for_passes).
        self._passes = 0
        self._passed = threading.Condition()
        core.on_timer_scheduled(self.timer_scheduled)

    def start(self) -> None:
        self._scheduler.start()
        self._scheduler.add_job(self.run_due, IntervalTrigger(seconds=self.sweep_seconds), id=SWEEP_JOB, replace_existing=True)
        outbox_every = IntervalTrigger(seconds=self.core.settings.outbox_seconds)
        self._scheduler.add_job(self.send_mail, outbox_every, id=OUTBOX_JOB, replace_existing=True)
        self._scheduler.add_job(self.housekeeping, IntervalTrigger(seconds=HOUSEKEEPING_SECONDS), id=HOUSEKEEPING_JOB,
                                replace_existing=True)
        self._scheduler.add_job(self.watch, IntervalTrigger(seconds=WATCH_SECONDS), id=WATCH_JOB, replace_existing=True)
        # Catch up at start-up on whatever fell due while nothing was running.
        self._scheduler.add_job(self.run_due, id="apflow-startup")
        if not self.core.db.is_sqlite:
            self._listener = threading.Thread(target=self._listen, name="apflow-timer-listener", daemon=True)
            self._listener.start()

    def shutdown(self) -> None:
        self._stop.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        if self._listener is not None:
            self._listener.join(timeout=5)

    def timer_scheduled(self, due_at: datetime) -> None:
        """Something was committed that falls due at due_at: make sure we wake no later than that."""
        with self._lock:
            if self._armed_for is not None and self._armed_for <= due_at:
                return
            self._arm(due_at)

    def run_due(self) -> int:
        """Fire everything due now, send any mail it produced, then arm the wake-up for what comes next."""
        try:
            return self._run_due()
        finally:
            with self._passed:
                self._passes += 1
                self._passed.notify_all()

    @property
    def passes(self) -> int:
        """How many times run_due has finished, whichever job (start-up, sweep, wake-up) or caller ran it."""
        with self._passed:
            return self._passes

    def wait_for_passes(self, count: int, timeout: float | None = None) -> bool:
        """Block until run_due has finished at least count times in all; False if timeout (seconds) ran out
        first. Lets tests follow the scheduler's threads by the work they did rather than by the clock."""
        with self._passed:
            return self._passed.wait_for(lambda: self._passes >= count, timeout)

    def _run_due(self) -> int:
        total = 0
        for fire in (instances.fire_due_timers, deadlines.fire_due_alerts):
            try:
                total += fire(self.core)
            except Unavailable as err:  # nothing was marked failed: what is due stays due
                log.warning("the database did not answer (%s); the sweep will fire what is due once it does", err)
            except Exception:
                log.exception("firing due work failed; the sweep will try again")
        if total:
            self.send_mail()
        try:
            upcoming = instances.next_due_at(self.core)
        except Unavailable as err:
            log.warning("could not read the next due time: the database did not answer (%s); the sweep looks again", err)
            upcoming = None
        except Exception:
            log.exception("could not read the next due time")
            upcoming = None
        with self._lock:
            self._armed_for = None
            if upcoming is not None:
                self._arm(upcoming)
        return total

    def send_mail(self) -> None:
        try:
            notifications.deliver_outbox(self.core)
        except Unavailable as err:
            log.warning("the database did not answer while sending e-mail (%s); it will be retried", err)
        except Exception:
            log.exception("sending the e-mail outbox failed; it will be retried")
        try:  # service tasks' webhooks (issue 17): posted here, never while a step holds its placement
            webhooks.deliver_webhooks(self.core)
        except Unavailable as err:
            log.warning("the database did not answer while posting webhooks (%s); they will be retried", err)
        except Exception:
            log.exception("posting webhooks failed; they will be retried")

    def housekeeping(self) -> None:
        """Hourly: forget idempotency keys older than a day."""
        try:
            idempotency.purge(self.core)
        except Exception:
            log.exception("housekeeping failed; it runs again within the hour")

    def watch(self) -> None:
        """Every minute: the checks of apflow/services/watches.py (missing registers, reminders, digests)."""
        watches.run_all(self.core)

    def _arm(self, due_at: datetime) -> None:
        # The app clock may be shifted (tests, clock corrections); APScheduler runs on real time.
        delay = max((due_at - clock.now()).total_seconds(), 0.0)
        run_at = datetime.now(timezone.utc) + timedelta(seconds=delay)
        self._armed_for = due_at
        if self._scheduler.running:
            self._scheduler.add_job(self.run_due, DateTrigger(run_date=run_at), id=WAKE_JOB, replace_existing=True)

    def _listen(self) -> None:
        """PostgreSQL only: hear about due times committed by other processes."""
        self.core.db.listen(instances.TIMER_CHANNEL, self._stop, self._heard)

    def _heard(self, payload: str) -> None:
        try:
            self.timer_scheduled(datetime.fromisoformat(payload))
        except ValueError:
            log.warning("ignored a malformed timer notification %r", payload)
