"""Fires pending timers on time.

The pending_timers table is the truth; APScheduler is only the trigger: one job armed at the
nearest due time (re-armed as soon as a nearer timer is committed in this process) and a sweep
every few seconds that catches timers committed by other processes, missed during downtime, or
pushed by a clock jump. Firing claims the instance in a transaction, so several schedulers
sharing a database never fire a timer twice.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from apflow.clock import clock
from apflow.services import instances

log = logging.getLogger(__name__)
WAKE_JOB = "apflow-wake"
SWEEP_JOB = "apflow-sweep"


class TimerScheduler:
    def __init__(self, app, sweep_seconds: float | None = None):
        self.app = app
        self.sweep_seconds = sweep_seconds if sweep_seconds is not None else app.settings.sweep_seconds
        self._scheduler = BackgroundScheduler(timezone=timezone.utc, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        self._lock = threading.Lock()
        self._armed_for: datetime | None = None
        app.on_timer_scheduled(self.timer_scheduled)

    def start(self) -> None:
        self._scheduler.start()
        self._scheduler.add_job(self.run_due, IntervalTrigger(seconds=self.sweep_seconds), id=SWEEP_JOB, replace_existing=True)
        # Catch up at start-up on whatever fell due while nothing was running.
        self._scheduler.add_job(self.run_due, id="apflow-startup")

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)

    def timer_scheduled(self, due_at: datetime) -> None:
        """A transaction committed a timer due at due_at: make sure we wake no later than that."""
        with self._lock:
            if self._armed_for is not None and self._armed_for <= due_at:
                return
            self._arm(due_at)

    def run_due(self) -> int:
        """Fire everything due now, then arm the wake-up job for the next due timer."""
        total = 0
        try:
            total = instances.fire_due_timers(self.app)
        except Exception:
            log.exception("firing due timers failed; the sweep will try again")
        try:
            upcoming = instances.next_due_at(self.app)
        except Exception:
            log.exception("could not read the next due timer")
            upcoming = None
        with self._lock:
            self._armed_for = None
            if upcoming is not None:
                self._arm(upcoming)
        return total

    def _arm(self, due_at: datetime) -> None:
        # The app clock may be shifted (tests, clock corrections); APScheduler runs on real time.
        delay = max((due_at - clock.now()).total_seconds(), 0.0)
        run_at = datetime.now(timezone.utc) + timedelta(seconds=delay)
        self._armed_for = due_at
        if self._scheduler.running:
            self._scheduler.add_job(self.run_due, DateTrigger(run_date=run_at), id=WAKE_JOB, replace_existing=True)
