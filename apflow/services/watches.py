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

from . import compliance, family_portal, preferences, registers  # compliance (issue 16); reminders, digests, registers (15)
from .core import Core
from .outcomes import open_destination_follow_ups  # R101: the 3- and 6-month checks (issue 16)
from .policy_review import start_policy_reviews  # R113: February's policy review (issue 16)
from .retention import run_retention  # R111: the daily retention run (issue 16)

log = logging.getLogger(__name__)

WATCHES: list[tuple[str, Callable[[Core], int]]] = [
    # registers (issue 15: R71, R79), in this order: lay out today's, then chase what is missing, then follow up
    ("registers laid out", registers.lay_out_registers),
    ("missing registers", registers.chase_missing_registers),
    ("absence follow-ups", registers.open_absence_follow_ups),
    ("attendance patterns", registers.attendance_patterns),
    ("lesson reminders", family_portal.send_lesson_reminders),  # R7: families' e-mail the evening before (issue 15)
    ("notification digests", preferences.send_digests),  # the daily digest e-mail people chose (issue 15)
    # provider compliance (issue 16: R25): renewal tasks ahead of expiry, then the block and cascade once expired
    ("compliance renewals", compliance.open_renewals),
    ("compliance expiries", compliance.apply_expiries),
    # outcomes (issue 16: R101, R113): each destination's checks on the day they fall due; each year's policy review
    ("destination follow-ups", open_destination_follow_ups),
    ("annual policy review", start_policy_reviews),
    ("retention", run_retention),  # R111: deletes what the retention rules say is due, once a day (issue 16)
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
