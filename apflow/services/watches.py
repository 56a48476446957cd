"""Checks the scheduler runs every minute during the day: missing registers, absence follow-ups, family reminders,
digests. Each is a function of the application object that does what has fallen due at `clock.now()` and returns
how many things it did; it must be safe to run twice at once (two schedulers on one database) and to run late
(after downtime it catches up), so each claims what it acts on in its own transaction.

Tests call the functions directly with a moved clock; `TimerScheduler.watch` calls them all, one failure not
stopping the others. Add a watch to WATCHES with its name.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from . import family_portal, preferences, registers  # lesson reminders and digests; registers (issue 15)
from .core import Core

log = logging.getLogger(__name__)

WATCHES: list[tuple[str, Callable[[Core], int]]] = [
    # registers (issue 15: R71, R79), in this order: lay out today's, then chase what is missing, then follow up
    ("registers laid out", registers.lay_out_registers),
    ("missing registers", registers.chase_missing_registers),
    ("absence follow-ups", registers.open_absence_follow_ups),
    ("attendance patterns", registers.attendance_patterns),
    ("lesson reminders", family_portal.send_lesson_reminders),  # R7: families' e-mail the evening before (issue 15)
    ("notification digests", preferences.send_digests),  # the daily digest e-mail people chose (issue 15)
]


def run_all(core: Core) -> dict[str, int | str]:
    """Run every watch once; a failing watch is reported by name and the others still run."""
    done: dict[str, int | str] = {}
    for name, watch in WATCHES:
        try:
            done[name] = watch(core)
        except Exception as err:  # noqa: BLE001 - one watch must not stop the others
            log.exception("the %s check failed; it runs again within a minute", name)
            done[name] = f"failed: {err.__class__.__name__}"
    return done
