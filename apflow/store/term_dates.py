"""The organisation's school-term calendar as stored: one row holding the term dates, INSET days and bank holidays."""
from __future__ import annotations

from sqlalchemy import select

from apflow.clock import clock
from apflow.school_calendar import SchoolCalendar

from .models import SchoolCalendarRecord


def load(session) -> SchoolCalendar | None:
    record = session.scalar(select(SchoolCalendarRecord).where(SchoolCalendarRecord.organisation_id.is_(None)))
    return SchoolCalendar.from_dict(record.data) if record else None


def save(session, calendar: SchoolCalendar, by: str) -> None:
    record = session.scalar(select(SchoolCalendarRecord).where(SchoolCalendarRecord.organisation_id.is_(None)))
    if record is None:
        record = SchoolCalendarRecord(organisation_id=None, data={}, updated_at=clock.now(), updated_by=by)
        session.add(record)
    record.data, record.updated_at, record.updated_by = calendar.to_dict(), clock.now(), by
