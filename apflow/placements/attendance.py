"""Daily attendance (R71, R72, R7): one register for each school day of the pupil's timetable, with engagement and
the lesson report; an unexplained absence alerts the school at once and is followed up."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from apflow.errors import Invalid
from apflow.store import outbox

from . import gates
from .common import Host, iso, log, not_before_now, now, parse_date, placement_of, pupil_organisation, school_day_bounds, today
from .models import AttendanceRecord, Placement, Pupil, TimetableSession

ENGAGEMENT = ["participation", "behaviour", "relationships", "progress", "wellbeing"]


def timetable_days(session, placement: Placement) -> set[int]:
    days = set(session.scalars(select(TimetableSession.weekday).where(TimetableSession.placement_id == placement.id)))
    return days or {0, 1, 2, 3, 4}


def next_register_day(core: Host, session, placement: Placement, after: date, include: bool = False) -> date:
    """The next school day (after `after`, or on it when include) on which the pupil's timetable has a session."""
    calendar = core.calendar()
    weekdays = timetable_days(session, placement)
    day = calendar.next_school_day(after, include_today=include)
    for _ in range(400):
        if day.weekday() in weekdays:
            return day
        day = calendar.next_school_day(day, include_today=False)
    raise Invalid("The pupil's timetable has no session on any school day in the calendar.")


def _register_data(core: Host, day: date) -> dict:
    start, end = school_day_bounds(core.calendar(), day)
    return {"attendance_day": day.isoformat(), "register_due": iso(end), "next_register_at": iso(not_before_now(start))}


def first_register(core: Host, session, placement: Placement, start: date) -> dict:
    return _register_data(core, next_register_day(core, session, placement, start, include=True))


def resume_register(core: Host, session, placement: Placement) -> dict:
    """After an interruption (a concern, a suspension): the next register is today's, or the day after the last one."""
    from datetime import timedelta

    last = session.scalar(select(AttendanceRecord.day).where(AttendanceRecord.placement_id == placement.id)
                          .order_by(AttendanceRecord.day.desc()).limit(1))
    start = today() if last is None or last < today() else last + timedelta(days=1)
    return _register_data(core, next_register_day(core, session, placement, start, include=True))


def record_attendance(ctx):
    placement = placement_of(ctx)
    if placement.status not in ("active",):
        raise Invalid(f"Attendance is registered only while the placement is running (it is {placement.status}).")
    gates.require_relational_learning_plan(ctx.session, placement)
    a = ctx.answers
    day = parse_date(a["attendance_day"], "attendance_day")
    expected = ctx.data.get("attendance_day")
    if expected and day.isoformat() != expected:
        raise Invalid(f"This register is for {expected}; each school day has its own register.",
                      {"fields": {"attendance_day": [f"Register {expected} here."]}})
    if day > today():
        raise Invalid("A day can be registered once it has started.", {"fields": {"attendance_day": ["Not yet."]}})
    record = ctx.session.scalar(select(AttendanceRecord).where(AttendanceRecord.placement_id == placement.id,
                                                               AttendanceRecord.day == day))
    if record is None:
        record = AttendanceRecord(placement_id=placement.id, day=day)
        ctx.session.add(record)
    record.status, record.code = a["status"], a["code"]
    record.site_address = a.get("site_address", "")
    record.engagement = {k: a[f"engagement_{k}"] for k in ENGAGEMENT if a.get(f"engagement_{k}") is not None}
    record.lesson_report = a.get("lesson_report", "")
    record.recorded_at, record.recorded_by = now(), ctx.actor.name
    unexplained = a["status"] == "unexplained_absence"
    log(ctx, f"Attendance {day}: {a['status'].replace('_', ' ')} ({a['code']})", placement=placement, record=record)
    if unexplained:
        pupil = ctx.session.get(Pupil, placement.pupil_id)
        org = pupil_organisation(ctx, pupil)
        people = [*outbox.role_members(ctx.session, "coordinator", org), *outbox.role_members(ctx.session, "dsl", org)]
        outbox.notify(ctx.session, people, "unexplained_absence",
                      f"Unexplained absence: {pupil.name} ({pupil.ref}) did not attend on {day}. Follow it up now.",
                      instance_id=ctx.instance.id, subject="An unexplained absence needs following up now",
                      email="A pupil's unexplained absence needs following up now. Open apflow to see who and act:",
                      link=f"/placements/{ctx.instance.id}")
    following = next_register_day(ctx.core, ctx.session, placement, day)
    return {"unexplained_absence": unexplained, "last_absence_day": day.isoformat() if unexplained else ctx.data.get("last_absence_day"),
            **_register_data(ctx.core, following)}


def record_absence_follow_up(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    day = parse_date(ctx.data.get("last_absence_day"))
    record = ctx.session.scalar(select(AttendanceRecord).where(AttendanceRecord.placement_id == placement.id,
                                                               AttendanceRecord.day == day)) if day else None
    if record is not None:
        record.followed_up_at = now()
        record.follow_up = {k: a.get(k) for k in ("contacted", "absence_outcome", "pupil_safe", "absence_code")}
        record.code = a["absence_code"]
    log(ctx, f"Absence on {day} followed up: {a['absence_outcome']} (pupil safe: {a['pupil_safe']})", placement=placement, record=record)
    if a["pupil_safe"] != "yes":
        pupil = ctx.session.get(Pupil, placement.pupil_id)
        outbox.notify(ctx.session, outbox.role_members(ctx.session, "dsl", pupil_organisation(ctx, pupil)), "absence_safety",
                      f"{pupil.name} ({pupil.ref}) is absent and not known to be safe ({day}).", instance_id=ctx.instance.id,
                      subject="A pupil is absent and not known to be safe",
                      email="A pupil is absent and not known to be safe. Open apflow to see who and act:", link=f"/placements/{ctx.instance.id}")
