"""The one clock the whole application reads, so tests can move time instead of sleeping.

SpiffWorkflow's timer events read this clock too: the engine points them at it when a
WorkflowHost is made (apflow.engine.runtime.use_apflow_clock).
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo


class Clock:
    """Wall-clock time, optionally frozen or shifted for tests."""

    def __init__(self):
        self._lock = threading.Lock()
        self._frozen: datetime | None = None
        self._offset = timedelta(0)

    def now(self) -> datetime:
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return datetime.now(timezone.utc) + self._offset

    def freeze(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("the clock only holds timezone-aware times")
        with self._lock:
            self._frozen = at.astimezone(timezone.utc)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            if self._frozen is not None:
                self._frozen += delta
            else:
                self._offset += delta

    def reset(self) -> None:
        with self._lock:
            self._frozen = None
            self._offset = timedelta(0)


clock = Clock()
UK = ZoneInfo("Europe/London")


def uk_time(value) -> str:
    """A moment as people in English schools read it: UK time, e.g. 'Wed 25 Nov 2026, 16:57'."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UK).strftime("%a %d %b %Y, %H:%M")
