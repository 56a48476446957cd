"""Records for the outcomes scenarios (issue 16: R15, R101, R110, R113, R114), written straight into the database on top
of the register world (two schools, a provider, staff of each): pupils of a school, placements with their dates,
destinations, reviews, incidents, concerns, qualifications. Each helper commits and returns ids, so the tests state
exactly what exists and can count it."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

from sqlalchemy import select

from apflow.placements.models import (
    Concern,
    Destination,
    Incident,
    LessonReport,
    Placement,
    Provider,
    Pupil,
    PurchaseOrder,
    Qualification,
    RegisterMark,
    Review,
)
from apflow.store.models import Organisation

T0 = datetime(2026, 1, 12, 8, 0, tzinfo=timezone.utc)


def org_id(core, name: str) -> int:
    with core.db.session(readonly=True) as s:
        return s.scalar(select(Organisation.id).where(Organisation.name == name))


def provider_id(core, name: str = "Bridges Learning") -> int:
    with core.db.session(readonly=True) as s:
        return s.scalar(select(Provider.id).where(Provider.name == name))


def placement(core, school: str, ref: str, start: date, end: date | None = None, kind: str = "part_time_ap",
              provider: str | None = "Bridges Learning", status: str = "active") -> int:
    """A pupil of `school` and their placement (no workflow: the figures read records, not processes)."""
    with core.db.session() as s:
        pupil = s.scalar(select(Pupil).where(Pupil.ref == ref))
        if pupil is None:
            pupil = Pupil(ref=ref, name=f"Pupil {ref}", school=school, created_at=T0, organisation_id=org_id(core, school))
            s.add(pupil)
            s.flush()
        row = Placement(pupil_id=pupil.id, provider_id=provider_id(core, provider) if provider else None, status=status,
                        referred_by="school", placement_type=kind, start_date=start, end_date=end, created_at=T0, updated_at=T0)
        s.add(row)
        s.flush()
        return row.id


def add(core, *rows) -> list[int]:
    with core.db.session() as s:
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def destination(core, placement_id: int, kind: str, starts_on: date | None, recorded: datetime = T0) -> int:
    with core.db.session() as s:
        pupil_id = s.get(Placement, placement_id).pupil_id
        row = Destination(placement_id=placement_id, pupil_id=pupil_id, kind=kind, setting_name="Northtown College", starts_on=starts_on,
                          transition_support=False, support_plan="", recorded_at=recorded)
        s.add(row)
        s.flush()
        return row.id


def review(placement_id: int, held_on: date, kind: str = "half-termly") -> Review:
    return Review(placement_id=placement_id, kind=kind, held_on=held_on, outcome="continue", content={}, recorded_at=T0, recorded_by="coord")


def incident(core, placement_id: int, when: datetime, kind: str = "behaviour") -> Incident:
    with core.db.session(readonly=True) as s:
        pupil_id = s.get(Placement, placement_id).pupil_id
    return Incident(pupil_id=pupil_id, placement_id=placement_id, occurred_at=when, kind=kind, summary="Threw a chair.", recorded_at=when)


def concern(core, placement_id: int, when: datetime, detail: str) -> Concern:
    with core.db.session(readonly=True) as s:
        pupil_id = s.get(Placement, placement_id).pupil_id
    return Concern(placement_id=placement_id, pupil_id=pupil_id, raised_at=when, summary=detail, child_protection=True,
                   cp_detail=detail, status="open")


def mark(placement_id: int, day: date, status: str, starts: str = "09:30") -> RegisterMark:
    return RegisterMark(placement_id=placement_id, day=day, starts=starts, ends="14:30", half="AM+PM", status=status, address="Mill Lane",
                        starts_at=datetime.combine(day, time(9, 30), timezone.utc), marked_at=T0, marked_by="tutor")


def lesson(placement_id: int, day: date, score: int) -> LessonReport:
    return LessonReport(placement_id=placement_id, day=day, starts="09:30", ends="14:30", covered="Fractions", participation=score,
                        behaviour=score, relationships=score, progress=score, wellbeing=score, written_at=T0, written_by="tutor")


def qualification(placement_id: int, pupil_id: int, entered_on: date, gained: bool | None = None, result_on: date | None = None,
                  kind: str = "gcse", level: str = "level_2") -> Qualification:
    return Qualification(placement_id=placement_id, pupil_id=pupil_id, subject="Maths", kind=kind, level=level, awarding_body="AQA",
                         entered_on=entered_on, result="4" if gained else "", gained=gained, result_on=result_on, recorded_at=T0,
                         recorded_by="coord")


def order(placement_id: int, issued_on: date, hours: float) -> PurchaseOrder:
    return PurchaseOrder(placement_id=placement_id, number=f"PO-{placement_id}", issued_by="school", hours_per_week=hours,
                         issued_on=issued_on, recorded_at=T0, recorded_by="coord")


def pupil_of(core, placement_id: int) -> int:
    with core.db.session(readonly=True) as s:
        return s.get(Placement, placement_id).pupil_id
