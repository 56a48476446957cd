"""The organisation's school-term calendar: stored in the database, edited by managers, read by timers."""
from __future__ import annotations

from pathlib import Path

from apflow.errors import Invalid
from apflow.school_calendar import CalendarError, SchoolCalendar
from apflow.store import term_dates

from . import permissions
from .core import Core

DEMO_TERMS = Path(__file__).resolve().parent.parent / "data" / "terms-2025-2027.csv"


def current(core: Core) -> SchoolCalendar | None:
    """The term dates in use, read now (None before any are set up)."""
    with core.db.session(readonly=True) as session:
        return term_dates.load(session)


def import_csv(core: Core, text: str, by: str, user=None) -> SchoolCalendar:
    """Replace the term dates from a CSV file (kind,name,start,end); refuses bad data with the line to fix."""
    if user is not None:
        permissions.require(user, "calendar.edit")
    try:
        calendar = SchoolCalendar.from_csv(text)
    except CalendarError as err:
        raise Invalid(f"The term dates were not changed: {err}", {"csv": [str(err)]}) from None
    with core.db.session() as session:
        term_dates.save(session, calendar, by)
    core.calendar_changed()
    return calendar


def describe(calendar: SchoolCalendar | None) -> dict:
    if calendar is None:
        return {"configured": False, "terms": [], "inset_days": [], "bank_holidays": []}
    data = calendar.to_dict()
    return {"configured": True, **data,
            "half_term_windows": [[a.isoformat(), b.isoformat()] for a, b in calendar.half_term_windows()]}
