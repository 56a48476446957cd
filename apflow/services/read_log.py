"""Who read a pupil's records (R111): one row per read, written beside the child-protection read log (cp_reads, which
the DSL reads on the child's file) and covering every page and API route that names a pupil or a placement.

How reads get here:
- The web layer's after-request hook (apflow/web/data_protection.py) logs every successful GET of a route naming a
  pupil (`ref`), a placement (`placement_id`, or the placement's `instance_id`), a task or a lesson material, resolving
  the pupil from the route; list pages (whereabouts, the provider's registers) name their pupils with `note_reads`.
- Anything else that reads a pupil's records outside those routes (an export, an evidence pack, a scheduled report)
  calls `record(session, user, pupil_id, what)` inside its own write transaction, or `write(core, user, pupil_ids,
  what)` when it reads in a read-only one.

A failed write never fails the read: a DSL finding where a child is in an emergency must not be stopped by the audit
table. The entry is written to the application log at ERROR level instead (every field of it), so it can be recovered
and the failure is seen; see docs/operations.md.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select

from apflow.clock import UK, clock
from apflow.errors import Invalid, NotFound
from apflow.placements.models import Concern, LessonMaterial, Placement, Plan, Pupil, ReadLogEntry
from apflow.store.models import HumanTask, User

from . import permissions
from .core import Core

log = logging.getLogger("apflow.read_log")
PAGE = 500  # newest reads shown at once on the page; filters narrow the rest down


def _entry(user: User, pupil_id: int, what: str, route: str, restricted: bool) -> dict:
    return {"pupil_id": pupil_id, "user_id": user.id, "username": user.username, "roles": " ".join(sorted(user.role_names))[:300],
            "what": what[:300], "route": route[:500], "restricted": restricted, "at": clock.now()}


def record(session, user: User, pupil_id: int, what: str, route: str = "", restricted: bool = False) -> None:
    """Log one read of a pupil's records in the caller's (writing) transaction: `what` in words ("Evidence pack",
    "Census export"), `route` the page or API path it came from. Restricted reads are of child-protection records."""
    session.add(ReadLogEntry(**_entry(user, pupil_id, what, route, restricted)))


def write(core: Core, user: User, pupil_ids: Iterable[int], what: str, route: str = "", restricted: bool = False) -> bool:
    """Log reads of these pupils' records in a short transaction of its own (one INSERT): for callers that read in a
    read-only transaction. Never raises: a failure is logged at ERROR with every entry, and False returned."""
    rows = [_entry(user, pupil_id, what, route, restricted) for pupil_id in dict.fromkeys(pupil_ids) if pupil_id is not None]
    if not rows:
        return True
    try:
        with core.db.session() as session:
            session.execute(ReadLogEntry.__table__.insert(), rows)
        return True
    except Exception:  # noqa: BLE001 - the read goes on; the entry is kept in the application log instead
        for row in rows:
            log.error("read log entry not written: %s", {**row, "at": row["at"].isoformat()}, exc_info=row is rows[0])
        return False


def write_named(core: Core, user: User, what: str, route: str = "", restricted: bool = False, **named) -> bool:
    """Log a read of the pupils a route names (pupils_named's keys), finding them and writing the rows in one short
    transaction. Never raises (see write)."""
    try:
        with core.db.session() as session:
            rows = [_entry(user, pupil_id, what, route, restricted) for pupil_id in _named(session, **named)]
            if rows:
                session.execute(ReadLogEntry.__table__.insert(), rows)
        return True
    except Exception:  # noqa: BLE001 - the read goes on; the entry is kept in the application log instead
        log.error("read log entry not written: %s", {"user_id": user.id, "username": user.username, "what": what, "route": route,
                                                      "named": {k: v for k, v in named.items() if v}, "at": clock.now().isoformat()},
                  exc_info=True)
        return False


def pupils_named(core: Core, **named) -> list[int]:
    """The pupils a route names, by whichever key it uses; an unknown key names nobody (nothing was read)."""
    with core.db.session(readonly=True) as session:
        return _named(session, **named)


def _named(session, *, ref: str | None = None, refs: Iterable[str] = (), instance_id: int | None = None,
           placement_id: int | None = None, placement_ids: Iterable[int] = (), task_id: str | None = None,
           material_id: int | None = None, plan_id: int | None = None) -> list[int]:
    refs = [r for r in [ref, *refs] if r]
    placement_ids = [p for p in [placement_id, *placement_ids] if p is not None]
    if task_id is not None:
        instance_id = session.scalar(select(HumanTask.instance_id).where(HumanTask.id == str(task_id)))
    if material_id is not None:
        placement_ids.append(session.scalar(select(LessonMaterial.placement_id).where(LessonMaterial.id == material_id)))
    if plan_id is not None:
        placement_ids.append(session.scalar(select(Plan.placement_id).where(Plan.id == plan_id)))
    found: list[int] = []
    if refs:
        found += session.scalars(select(Pupil.id).where(Pupil.ref.in_(refs)))
    if placement_ids:
        found += session.scalars(select(Placement.pupil_id).where(Placement.id.in_([p for p in placement_ids if p is not None])))
    if instance_id is not None:  # a placement's workflow, else a safeguarding concern's
        pupil_id = session.scalar(select(Placement.pupil_id).where(Placement.instance_id == instance_id).limit(1))
        if pupil_id is None:
            pupil_id = session.scalar(select(Concern.pupil_id).where(Concern.instance_id == instance_id).limit(1))
        found += [pupil_id] if pupil_id is not None else []
    return list(dict.fromkeys(found))


# -- who looked at this pupil: the pupil's managers and DSLs ----------------------------------------------------------

def _pupil_to_see(session, user: User, ref: str) -> Pupil:
    pupil = session.scalar(select(Pupil).where(Pupil.ref == ref))
    if pupil is None or not permissions.can(user, "reads.view", pupil.id, session):
        raise NotFound(f"There is no pupil {ref} whose read log you can see.")
    return pupil


def may_view(core: Core, user: User, ref: str) -> bool:
    with core.db.session(readonly=True) as session:
        pupil = session.scalar(select(Pupil).where(Pupil.ref == ref))
        return pupil is not None and permissions.can(user, "reads.view", pupil.id, session)


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid("Give dates as YYYY-MM-DD.", {"fields": {field: "Give a date as YYYY-MM-DD, e.g. 2026-01-31."}}) from None


def reads(core: Core, user: User, ref: str, who: str = "", role: str = "", what: str = "", since: str | None = None,
          until: str | None = None) -> dict:
    """Who read this pupil's records, newest first (reads of the child-protection file only for those entitled to it;
    the file's own page keeps its log, cp_reads, too). Filters: a name, a role, words of what was read or the route,
    and a date range (UK days, inclusive)."""
    start, end = _day(since, "since"), _day(until, "until")
    if start and end and end < start:
        raise Invalid("The end date is before the start date.", {"fields": {"until": "Choose a date on or after the start date."}})
    with core.db.session(readonly=True) as session:
        pupil = _pupil_to_see(session, user, ref)
        cp = permissions.can(user, "cp.view", pupil.id, session)
        query = (select(ReadLogEntry, User.display_name).outerjoin(User, User.id == ReadLogEntry.user_id)
                 .where(ReadLogEntry.pupil_id == pupil.id))
        if not cp:
            query = query.where(ReadLogEntry.restricted.is_(False))
        if who.strip():
            like = f"%{who.strip().lower()}%"
            query = query.where(or_(ReadLogEntry.username.ilike(like), User.display_name.ilike(like)))
        if role.strip():
            query = query.where(ReadLogEntry.roles.ilike(f"%{role.strip()}%"))
        if what.strip():
            query = query.where(or_(ReadLogEntry.what.ilike(f"%{what.strip()}%"), ReadLogEntry.route.ilike(f"%{what.strip()}%")))
        if start:
            query = query.where(ReadLogEntry.at >= datetime.combine(start, time(0), tzinfo=UK))
        if end:
            query = query.where(ReadLogEntry.at < datetime.combine(end + timedelta(days=1), time(0), tzinfo=UK))
        rows = session.execute(query.order_by(ReadLogEntry.at.desc(), ReadLogEntry.id.desc()).limit(PAGE + 1)).all()
        entries = [{"at": e.at.isoformat(), "who": e.username, "name": name or e.username, "roles": e.roles.split(),
                    "what": e.what, "route": e.route, "child_protection": e.restricted} for e, name in rows[:PAGE]]
        return {"pupil": {"ref": pupil.ref, "name": pupil.name}, "reads": entries, "more": len(rows) > PAGE,
                "filters": {"who": who, "role": role, "what": what, "since": since or "", "until": until or ""},
                "child_protection_included": cp}
