"""Registers as records (R71, R72, R79): the provider's "Today" grid and its missing registers, marking many sessions
at once, the school's view of a placement's register where it codes marks, and the minute checks that lay registers
out, chase missing ones, open the follow-up of absences and notice patterns (low attendance, repeated lateness).

An absence alerts the school at once when it is unexplained or on the pupil's first day, and every absence opens the
coordinator's follow-up task on the placement (the `absence_reported` signal). Each check claims what it acts on in
its own transaction, so two schedulers never alert twice and a late run catches up.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select, update

from apflow.clock import clock
from apflow.errors import Forbidden, Invalid, NotFound
from apflow.placements import registers as domain
from apflow.placements.attendance import ABSENCE_SIGNAL
from apflow.placements.common import UK
from apflow.placements.models import LogEntry, Placement, Provider, Pupil, RegisterBook, RegisterMark, RegisterReview
from apflow.store import outbox
from apflow.store.models import HumanTask, Instance, Organisation, User

from . import instances, permissions
from .core import Core

log = logging.getLogger(__name__)
FOLLOW_UP_TASK = "Task_absence_follow_up"
PATTERN_WINDOW_DAYS = 28
PATTERN_MIN_SESSIONS = 10  # fewer counted sessions than this over four weeks say too little to open a review
MISSING_SHOWN = 500


def today() -> date:
    return clock.now().astimezone(UK).date()


def _grace(core: Core) -> timedelta:
    return timedelta(minutes=core.settings.register_missing_minutes)


def _name(user: User) -> str:
    return user.display_name or user.username


# -- reading: the provider's Today page and missing registers --------------------------------------------------------

def _delivered(session, user: User, running_only: bool = True):
    query = (select(Placement, Pupil, Instance.organisation_id, Provider).join(Pupil, Pupil.id == Placement.pupil_id)
             .outerjoin(Instance, Instance.id == Placement.instance_id).outerjoin(Provider, Provider.id == Placement.provider_id)
             .where(permissions.delivered_by(user)).order_by(Pupil.name, Placement.id))
    if running_only:
        query = query.where(Placement.status.in_(domain.RUNNING))
    return list(session.execute(query))


def _school_names(session, rows) -> dict[int, str]:
    ids = {domain.school_id(pupil, commissioner) for p, pupil, commissioner, _ in rows} - {None}
    return dict(session.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))).all()) if ids else {}


def _row(core: Core, mark: RegisterMark, placement: Placement, pupil: Pupil, school: str | None, now: datetime) -> dict:
    return {"key": f"{placement.id}:{mark.day.isoformat()}:{mark.starts}", "placement_id": placement.id, "instance_id": placement.instance_id,
            "pupil": pupil.name, "ref": pupil.ref, "school": school or pupil.school, "day": mark.day.isoformat(), "starts": mark.starts,
            "ends": mark.ends, "half": mark.half, "activity": mark.activity, "address": mark.address, "status": mark.status,
            "minutes_late": mark.minutes_late, "reason": mark.reason, "note": mark.note, "marked_by": mark.marked_by or None,
            "started": mark.starts_at <= now, "missing": domain.is_missing(mark, now, core.settings.register_missing_minutes),
            "code": mark.code}


def provider_day(core: Core, user: User, day: date | None = None) -> dict:
    """The provider's register grid for a day (today by default): one row per session of every pupil they teach, across
    every commissioning school, and every register still missing from earlier days."""
    if "provider" not in permissions.staff_roles(user):
        raise Forbidden("The register grid is for provider staff: they report attendance, the school codes it.")
    now, day = clock.now(), day or today()
    if day > today():
        raise Invalid("Registers can be shown for today or an earlier day.", {"fields": {"day": ["Choose today or an earlier day."]}})
    with core.db.session(readonly=True) as session:
        rows = _delivered(session, user)
        schools = _school_names(session, rows)
        calendars = domain.Calendars(session)
        by_id = {p.id: (p, pupil) for p, pupil, _, _ in rows}
        school_of = {p.id: domain.school_id(pupil, commissioner) for p, pupil, commissioner, _ in rows}
        marks = domain.registers(session, [p for p, *_ in rows], lambda p: calendars(school_of[p.id]), day, day)
        grid = [_row(core, m, by_id[pid][0], by_id[pid][1], schools.get(school_of[pid]), now)
                for pid, ms in marks.items() for m in ms]
        grid.sort(key=lambda r: (r["starts"], r["pupil"]))
        missing = _missing(core, session, user, now, calendars, rows)
    return {"day": day.isoformat(), "day_words": f"{day:%A} {day.day} {day:%B %Y}", "rows": grid, "missing": missing, "reasons": {k: v[0] for k, v in domain.REASONS.items()},
            "statuses": domain.STATUSES}


def _missing(core: Core, session, user: User, now: datetime, calendars, delivered: list | None = None) -> list[dict]:
    """Registers not kept for sessions that started more than the grace period ago (earlier days and today), oldest
    first: those laid out and, for placements whose days are not laid out yet, those days too."""
    cutoff = now - _grace(core)
    query = (select(RegisterMark, Placement, Pupil).join(Placement, Placement.id == RegisterMark.placement_id)
             .join(Pupil, Pupil.id == Placement.pupil_id).outerjoin(Instance, Instance.id == Placement.instance_id)
             .where(permissions.delivered_by(user), RegisterMark.status.is_(None), RegisterMark.starts_at <= cutoff)
             .order_by(RegisterMark.starts_at).limit(MISSING_SHOWN))
    found = [(m, p, pupil) for m, p, pupil in session.execute(query)]
    # days of running placements not laid out yet (the scheduler was down): only those placements are read again
    delivered = delivered if delivered is not None else _delivered(session, user)
    kept = set(session.scalars(select(RegisterBook.placement_id).where(
        RegisterBook.kept_through >= today(), RegisterBook.placement_id.in_([r[0].id for r in delivered] or [-1]))))
    running = [r for r in delivered if r[0].id not in kept]
    if running:
        school_of = {p.id: domain.school_id(pupil, commissioner) for p, pupil, commissioner, _ in running}
        pupils = {p.id: pupil for p, pupil, *_ in running}
        earliest = min((p.start_date for p, *_ in running if p.start_date), default=today())
        virtual = domain.registers(session, [p for p, *_ in running], lambda p: calendars(school_of[p.id]), earliest, today())
        for p, *_ in running:
            found += [(m, p, pupils[p.id]) for m in virtual[p.id] if m.id is None and m.starts_at <= cutoff]
    found.sort(key=lambda f: f[0].starts_at)
    return [{"key": f"{p.id}:{m.day.isoformat()}:{m.starts}", "placement_id": p.id, "pupil": pupil.name, "ref": pupil.ref,
             "day": m.day.isoformat(), "day_words": f"{m.day:%a} {m.day.day} {m.day:%b}", "starts": m.starts, "ends": m.ends,
             "activity": m.activity, "chased": m.chased_at is not None}
            for m, p, pupil in found[:MISSING_SHOWN]]


def missing_registers(core: Core, user: User) -> list[dict]:
    if "provider" not in permissions.staff_roles(user):
        raise Forbidden("Missing registers are listed for provider staff.")
    with core.db.session(readonly=True) as session:
        return _missing(core, session, user, clock.now(), domain.Calendars(session))


# -- marking ------------------------------------------------------------------------------------------------------

def record_marks(core: Core, user: User, raw_marks: list, all_present: list | None = None) -> dict:
    """Record many marks at once, all or nothing. `all_present` names sessions (keys "placement:day:HH:MM") to mark
    present unless a mark for them is also given. Sending the same marks again changes nothing (a double submit)."""
    if "provider" not in permissions.staff_roles(user):
        raise Forbidden("Registers are kept by the provider's staff; the school codes them on the placement's register.")
    if not isinstance(raw_marks, list) or not all(isinstance(r, dict) for r in raw_marks):
        raise Invalid('Send {"marks": [{"placement_id": 1, "day": "2026-01-12", "starts": "09:30", "status": "present"}]}.')
    errors, reports = {}, {}
    for raw in raw_marks:
        try:
            report = domain.Report.parse(raw, str(raw.get("key") or ""))
            reports[(report.placement_id, report.day, report.starts)] = report
        except Invalid as err:
            errors.update(err.details.get("fields", {}))
    bulk = set()  # "all present": sessions with no mark yet that have started; a mark already made stays as it is
    for key in all_present or []:
        try:
            placement_id, day, starts = str(key).split(":", 2)
            report = domain.Report.parse({"placement_id": placement_id, "day": day, "starts": starts, "status": "present"}, str(key))
        except (ValueError, Invalid):
            errors[f"{key}.status"] = ["This session could not be found."]
            continue
        where = (report.placement_id, report.day, report.starts)
        if where not in reports:
            reports[where] = report
            bulk.add(where)
    if not reports and not errors:
        raise Invalid("Choose present, late or absent for at least one session.")
    now, when = clock.now(), today()
    changed, absences = [], []
    with core.db.session() as session:
        placements = {}
        for (placement_id, _, _), report in reports.items():
            placement = placements.get(placement_id) or session.get(Placement, placement_id)
            if placement is None or not permissions.can(user, "register.mark", placement, session):
                raise NotFound(f"There is no placement {placement_id} whose register you keep.")
            placements[placement_id] = placement
        calendars = domain.Calendars(session)
        for placement in placements.values():
            domain.lay_out(session, placement, calendars(domain.school_of(session, placement)), when)
        session.flush()
        days = {day for _, day, _ in reports}
        stored = {(m.placement_id, m.day, m.starts): m for m in session.scalars(select(RegisterMark).where(
            RegisterMark.placement_id.in_(list(placements)), RegisterMark.day.in_(days)))}
        for (placement_id, day, starts), report in sorted(reports.items()):
            mark = stored.get((placement_id, day, starts))
            if mark is None:
                errors[f"{report.key}.status"] = [f"There is no register for a session at {starts} on {day:%a %d %b %Y} for this pupil."]
                continue
            if (placement_id, day, starts) in bulk and (mark.status is not None or mark.starts_at > now):
                continue
            problem = domain.check_timing(mark, report, now, when)
            if problem:
                errors[f"{report.key}.status"] = [problem]
                continue
            was_absent = mark.status == "absent"
            if domain.apply(mark, report, user, now):
                changed.append(mark)
                if mark.status == "absent" and not was_absent:
                    absences.append(mark)
        if errors:
            session.rollback()
            only = next(iter(errors.values()))[0] if len(errors) == 1 else "Some marks need correcting"
            raise Invalid(f"{only.rstrip('.')}; nothing was saved.", {"fields": errors})
        _log_marks(session, user, placements, changed)
        alerted = _alert_absences(session, placements, absences, now)
    opened = 0
    for placement_id in sorted({m.placement_id for m in absences}):
        try:
            opened += follow_up_absences(core, placement_id)
        except Exception:  # the marks are saved; the minute check opens the follow-up
            log.exception("could not open the follow-up of placement %s's absence; the scheduler will", placement_id)
    return {"saved": len(changed), "unchanged": len(reports) - len(changed), "absences": len(absences), "school_alerted": alerted,
            "follow_ups_opened": opened}


def _log_marks(session, user: User, placements: dict, changed: list[RegisterMark]) -> None:
    by_placement = defaultdict(list)
    for mark in changed:
        by_placement[mark.placement_id].append(mark)
    for placement_id, marks in by_placement.items():
        placement = placements[placement_id]
        words = "; ".join(f"{m.day:%a %d %b} {m.starts} {domain.mark_words(m)['report'].lower()}" for m in marks)
        session.add(LogEntry(placement_id=placement.id, provider_id=placement.provider_id, instance_id=placement.instance_id,
                             at=clock.now(), actor_id=user.id, actor=user.username, kind="register", record="register_marks",
                             record_id=marks[0].id, summary=f"Register kept by {_name(user)}: {words}"[:2000]))


def _school_people(session, placement: Placement, roles=("coordinator", "dsl")) -> list[User]:
    pupil = session.get(Pupil, placement.pupil_id)
    instance = session.get(Instance, placement.instance_id) if placement.instance_id else None
    org = pupil.organisation_id if pupil.organisation_id is not None else (instance.organisation_id if instance else None)
    org = outbox.installation_organisation(session, org)
    return [p for role in roles for p in outbox.role_members(session, role, org)]


def _alert_absences(session, placements: dict, absences: list[RegisterMark], now: datetime) -> int:
    """An unexplained absence, or any absence on the pupil's first day, tells the school's coordinators and DSLs at
    once (in the app with the pupil's name; by e-mail only that something needs following up, with the link)."""
    alerted = 0
    for mark in absences:
        claimed = session.execute(update(RegisterMark).where(RegisterMark.id == mark.id, RegisterMark.alerted_at.is_(None))
                                  .values(alerted_at=now).execution_options(synchronize_session=False)).rowcount
        first_day = domain.is_first_day(session, mark)
        if not claimed or not (mark.reason == domain.UNEXPLAINED or first_day):
            continue
        placement = placements[mark.placement_id]
        pupil = session.get(Pupil, placement.pupil_id)
        when = f"the {mark.starts} session on {mark.day:%a %d %b}"
        if first_day:
            message = (f"First day: {pupil.name} ({pupil.ref}) did not arrive for {when} at the provider "
                       f"({domain.REASONS[mark.reason][0].lower()}). Check they are safe now.")
        else:
            message = f"Unexplained absence: {pupil.name} ({pupil.ref}) did not arrive for {when}, and no reason was given. Follow it up now."
        outbox.notify(session, _school_people(session, placement), "unexplained_absence", message, instance_id=placement.instance_id,
                      subject="A pupil's absence needs following up now",
                      email="A pupil in alternative provision is absent and needs following up now. Open apflow to see who and act:",
                      link=f"/placements/{placement.instance_id}/register" if placement.instance_id else "/whereabouts")
        alerted += 1
    return alerted


def follow_up_absences(core: Core, placement_id: int) -> bool:
    """Open the school's follow-up of the placement's absences not followed up yet (the `absence_reported` signal).
    Claimed first, so two callers never open two; when the placement cannot take the signal (it is not in progress)
    the coordinators are told instead. True when something was done."""
    now = clock.now()
    with core.db.session() as session:
        claimed = session.execute(update(RegisterMark).where(
            RegisterMark.placement_id == placement_id, RegisterMark.status == "absent", RegisterMark.followed_up_at.is_(None),
            RegisterMark.signalled_at.is_(None)).values(signalled_at=now).execution_options(synchronize_session=False)).rowcount
        placement = session.get(Placement, placement_id)
        instance_id = placement.instance_id if placement else None
    if not claimed or instance_id is None:
        return False
    try:
        caught = instances.send_signal(core, None, instance_id, ABSENCE_SIGNAL, {"placement_id": placement_id})["caught"]
    except Exception:
        with core.db.session() as session:  # let the next check try again
            session.execute(update(RegisterMark).where(RegisterMark.placement_id == placement_id, RegisterMark.signalled_at == now)
                            .values(signalled_at=None).execution_options(synchronize_session=False))
        raise
    if caught or _follow_up_open(core, instance_id):
        return True
    with core.db.session() as session:
        placement = session.get(Placement, placement_id)
        pupil = session.get(Pupil, placement.pupil_id)
        outbox.notify(session, _school_people(session, placement, ("coordinator",)), "absence_reported",
                      f"{pupil.name} ({pupil.ref}) was reported absent; the placement is not in progress, so no follow-up task "
                      "could open. Follow the absence up and code it on the placement's register.", instance_id=instance_id,
                      subject="An absence to follow up", email="An absence needs following up. Open apflow to see it:",
                      link=f"/placements/{instance_id}/register")
    return True


def _follow_up_open(core: Core, instance_id: int) -> bool:
    with core.db.session(readonly=True) as session:
        return session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id, HumanTask.state == "ready",
                                                         HumanTask.spec_id == FOLLOW_UP_TASK).limit(1)) is not None


# -- the school's view of a placement's register ------------------------------------------------------------------

def placement_register(core: Core, user: User, placement_id: int, since: date | None = None, until: date | None = None) -> dict:
    """A placement's register, per day and session: the provider's report, the school's code (and the usual one), the
    follow-up of absences; attendance percentages. For the school's staff and the provider delivering it."""
    until = min(until or today(), today())
    since = since or until - timedelta(days=27)
    if since > until:
        raise Invalid("The first day must come before the last.", {"fields": {"from": ["Choose an earlier first day."]}})
    since = max(since, until - timedelta(days=366))
    now = clock.now()
    with core.db.session(readonly=True) as session:
        placement = session.get(Placement, placement_id)
        if placement is None or not permissions.can(user, "register.view", placement, session):
            raise NotFound(f"There is no placement {placement_id} whose register you can see.")
        pupil = session.get(Pupil, placement.pupil_id)
        calendar = domain.calendar_for(session, domain.school_of(session, placement, pupil))
        marks = domain.register(session, placement, calendar, since, until)
        may_code = permissions.can(user, "register.code", placement, session)
        open_task = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == placement.instance_id, HumanTask.state == "ready",
                                                              HumanTask.spec_id == FOLLOW_UP_TASK).limit(1)) if placement.instance_id else None
        days = defaultdict(list)
        for m in marks:
            days[m.day].append({"id": m.id, "starts": m.starts, "ends": m.ends, "half": m.half, "activity": m.activity, "address": m.address,
                                **domain.mark_words(m), "minutes_late": m.minutes_late, "reason": m.reason, "note": m.note,
                                "marked_by": m.marked_by or None, "marked_at": m.marked_at.isoformat() if m.marked_at else None,
                                "coded_by": m.coded_by or None, "suggested_code": domain.suggested_code(placement, m),
                                "missing": domain.is_missing(m, now, core.settings.register_missing_minutes),
                                "started": m.starts_at <= now, "followed_up": m.followed_up_at is not None,
                                "follow_up": m.follow_up if m.follow_up else None})
        return {"placement_id": placement.id, "instance_id": placement.instance_id, "pupil": {"name": pupil.name, "ref": pupil.ref},
                "status": placement.status, "from": since.isoformat(), "to": until.isoformat(), "may_code": may_code,
                "attendance_percent": domain.percent(marks), "codes": {c: w for c, (w, _) in domain.CODES.items()},
                "to_follow_up": sum(1 for m in marks if m.status == "absent" and m.followed_up_at is None),
                "follow_up_task": open_task,
                "days": [{"day": d.isoformat(), "sessions": s} for d, s in sorted(days.items(), reverse=True)]}


def code_marks(core: Core, user: User, placement_id: int, codes: dict, suggested: bool = False) -> dict:
    """The school enters its register codes for the provider's marks (R79): {mark id: code}; with `suggested`, every
    reported mark not coded yet gets the usual code for what the provider reported. All or nothing."""
    if not isinstance(codes, dict):
        raise Invalid('Send {"codes": {"<mark id>": "B"}}.')
    now = clock.now()
    with core.db.session() as session:
        placement = session.get(Placement, placement_id)
        if placement is None or not permissions.can(user, "register.view", placement, session):
            raise NotFound(f"There is no placement {placement_id} whose register you can see.")
        if not permissions.can(user, "register.code", placement, session):
            raise Forbidden("The school codes the register: its AP coordinators, headteacher or managers.")
        errors, wanted = {}, {}
        for key, code in codes.items():
            code = str(code or "").strip().upper()
            if not code:
                continue
            if code not in domain.CODES:
                errors[f"code-{key}"] = [f"'{code}' is not a register code: choose one from the list."]
                continue
            try:
                wanted[int(key)] = code
            except ValueError:
                errors[f"code-{key}"] = ["Unknown mark."]
        marks = {m.id: m for m in session.scalars(select(RegisterMark).where(RegisterMark.placement_id == placement.id,
                                                                             RegisterMark.id.in_(list(wanted) or [-1])))}
        for mark_id in wanted:
            if mark_id not in marks:
                errors[f"code-{mark_id}"] = ["This mark is not on this placement's register."]
            elif marks[mark_id].starts_at > now:
                errors[f"code-{mark_id}"] = ["Code a session once it has started."]
        if errors:
            raise Invalid("Some codes need correcting; none were saved.", {"fields": errors})
        if suggested:
            for mark in session.scalars(select(RegisterMark).where(RegisterMark.placement_id == placement.id, RegisterMark.code.is_(None),
                                                                   RegisterMark.status.is_not(None))):
                wanted.setdefault(mark.id, domain.suggested_code(placement, mark))
                marks[mark.id] = mark
        changed = []
        for mark_id, code in wanted.items():
            mark = marks[mark_id]
            if mark.code != code:
                mark.code, mark.coded_at, mark.coded_by = code, now, _name(user)
                changed.append(mark)
        if changed:
            words = "; ".join(f"{m.day:%a %d %b} {m.starts} {m.code}" for m in changed)
            session.add(LogEntry(placement_id=placement.id, provider_id=placement.provider_id, instance_id=placement.instance_id,
                                 at=now, actor_id=user.id, actor=user.username, kind="register_codes", record="register_marks",
                                 record_id=changed[0].id, summary=f"Register coded by {_name(user)}: {words}"[:2000]))
        return {"coded": len(changed)}


def attendance_summary(session, placement_ids: list[int], since: date | None = None, until: date | None = None) -> dict:
    """Sessions registered on these placements (for the pupil's page and reports): counts and the percentage."""
    query = select(RegisterMark).where(RegisterMark.placement_id.in_(placement_ids or [-1]), RegisterMark.status.is_not(None))
    if since:
        query = query.where(RegisterMark.day >= since)
    if until:
        query = query.where(RegisterMark.day <= until)
    marks = list(session.scalars(query))
    return {"sessions": len(marks), "present": sum(1 for m in marks if m.status == "present"),
            "late": sum(1 for m in marks if m.status == "late"), "absent": sum(1 for m in marks if m.status == "absent"),
            "unexplained": sum(1 for m in marks if m.status == "absent" and m.reason == domain.UNEXPLAINED),
            "percent": domain.percent(marks)}


# -- the minute checks (apflow/services/watches.py) ---------------------------------------------------------------

def lay_out_registers(core: Core, batch: int = 200) -> int:
    """Lay out today's registers (and any days missed while the scheduler was down) for every running placement, and
    pass over the days of placements that are not running. Idempotent: rows are unique per session and day."""
    when, added = today(), 0
    with core.db.session() as session:
        session.execute(update(RegisterBook).where(
            or_(RegisterBook.kept_through.is_(None), RegisterBook.kept_through < when),
            RegisterBook.placement_id.in_(select(Placement.id).where(Placement.status.not_in(domain.RUNNING))))
            .values(kept_through=when).execution_options(synchronize_session=False))
        due = list(session.scalars(select(Placement.id).outerjoin(RegisterBook, RegisterBook.placement_id == Placement.id).where(
            Placement.status.in_(domain.RUNNING), Placement.start_date.is_not(None), Placement.start_date <= when,
            or_(RegisterBook.kept_through.is_(None), RegisterBook.kept_through < when)).order_by(Placement.id)))
    for start in range(0, len(due), batch):
        with core.db.session() as session:
            calendars = domain.Calendars(session)
            for placement in session.scalars(select(Placement).where(Placement.id.in_(due[start:start + batch]))):
                added += domain.lay_out(session, placement, calendars(domain.school_of(session, placement)), when)
    return added


def chase_missing_registers(core: Core) -> int:
    """A register still missing the configured minutes after its session started chases the provider's staff; still
    missing that long again, it tells the school's coordinators (on the pupil's first day, its DSLs too, more
    strongly). Each session is chased once and told once."""
    now = clock.now()
    chased = _chase_providers(core, now - _grace(core), now)
    told = _tell_schools(core, now - _grace(core) - timedelta(minutes=core.settings.register_school_minutes), now)
    return chased + told


def _claim(session, column, mark_ids: list[int], now: datetime) -> list[int]:
    claimed = []
    for mark_id in mark_ids:
        if session.execute(update(RegisterMark).where(RegisterMark.id == mark_id, column.is_(None))
                           .values({column.key: now}).execution_options(synchronize_session=False)).rowcount:
            claimed.append(mark_id)
    return claimed


def _missing_query(column, cutoff: datetime, *extra):
    return (select(RegisterMark, Placement, Pupil, Instance).join(Placement, Placement.id == RegisterMark.placement_id)
            .join(Pupil, Pupil.id == Placement.pupil_id).outerjoin(Instance, Instance.id == Placement.instance_id)
            .where(RegisterMark.status.is_(None), column.is_(None), RegisterMark.starts_at <= cutoff,
                   Placement.status.in_(domain.RUNNING), *extra).order_by(RegisterMark.starts_at))


def _chase_providers(core: Core, cutoff: datetime, now: datetime) -> int:
    with core.db.session() as session:
        found = list(session.execute(_missing_query(RegisterMark.chased_at, cutoff)))
        claimed = set(_claim(session, RegisterMark.chased_at, [m.id for m, *_ in found], now))
        by_provider = defaultdict(list)
        for mark, placement, pupil, instance in found:
            if mark.id in claimed:
                by_provider[instance.provider_organisation_id if instance else None].append((mark, pupil))
        for org, missing in by_provider.items():
            names = ", ".join(sorted({f"{pupil.name} ({pupil.ref})" for _, pupil in missing}))
            # a provider with no organisation on record: nobody, never every provider's staff
            outbox.notify(session, outbox.role_members(session, "provider", org if org is not None else []), "register_missing",
                          f"{len(missing)} register{'s are' if len(missing) > 1 else ' is'} missing: {names}. "
                          "Mark them on your Today page now.", subject="Registers are missing",
                          email="Some registers are missing. Open apflow to mark them now:", link="/registers")
        return len(claimed)


def _tell_schools(core: Core, cutoff: datetime, now: datetime) -> int:
    with core.db.session() as session:
        found = list(session.execute(_missing_query(RegisterMark.school_told_at, cutoff, RegisterMark.chased_at.is_not(None))))
        claimed = set(_claim(session, RegisterMark.school_told_at, [m.id for m, *_ in found], now))
        for mark, placement, pupil, instance in found:
            if mark.id not in claimed:
                continue
            when = f"the {mark.starts} session on {mark.day:%a %d %b}"
            if domain.is_first_day(session, mark):
                message = (f"First day: the provider has not registered {pupil.name} ({pupil.ref}) for {when}. "
                           "Check now that the pupil arrived and is safe.")
                people, kind = _school_people(session, placement), "unexplained_absence"
            else:
                message = (f"The provider has not registered {pupil.name} ({pupil.ref}) for {when}, though reminded. "
                           "Contact the provider to find out whether the pupil is there.")
                people, kind = _school_people(session, placement, ("coordinator",)), "register_missing_school"
            outbox.notify(session, people, kind, message, instance_id=placement.instance_id, subject="A register is still missing",
                          email="A provider has not registered a pupil in alternative provision. Open apflow to see who and act:",
                          link=f"/placements/{placement.instance_id}/register" if placement.instance_id else "/whereabouts")
        return len(claimed)


def open_absence_follow_ups(core: Core) -> int:
    """Every absence reported and not followed up has the school's follow-up open: catches absences whose signal was
    not sent (the marking's request failed, or the scheduler was down)."""
    with core.db.session(readonly=True) as session:
        placement_ids = sorted(set(session.scalars(select(RegisterMark.placement_id).where(
            RegisterMark.status == "absent", RegisterMark.followed_up_at.is_(None), RegisterMark.signalled_at.is_(None)))))
    return sum(1 for placement_id in placement_ids if follow_up_absences(core, placement_id))


def attendance_patterns(core: Core) -> int:
    """Once each school day, after it ends: a running placement whose attendance over the last four weeks is below the
    threshold, or with repeated lateness, has a review asked for (once per pattern until it has cleared for a window)."""
    now, when = clock.now(), today()
    with core.db.session() as session:
        candidates = list(session.execute(select(Placement, RegisterBook).join(RegisterBook, RegisterBook.placement_id == Placement.id)
                                          .where(Placement.status.in_(domain.RUNNING),
                                                 or_(RegisterBook.patterns_checked_on.is_(None), RegisterBook.patterns_checked_on < when))))
        calendars = domain.Calendars(session)
        due = [p.id for p, _ in candidates if _school_day_over(calendars(domain.school_of(session, p)), when, now)]
    raised = []
    for placement_id in due:
        with core.db.session() as session:
            claimed = session.execute(update(RegisterBook).where(
                RegisterBook.placement_id == placement_id,
                or_(RegisterBook.patterns_checked_on.is_(None), RegisterBook.patterns_checked_on < when))
                .values(patterns_checked_on=when).execution_options(synchronize_session=False)).rowcount
            if claimed:
                raised += _patterns(core, session, session.get(Placement, placement_id), when)
    for review_id in raised:
        _ask_for_review(core, review_id)
    return len(raised)


def _school_day_over(calendar, when: date, now: datetime) -> bool:
    if calendar is None or not calendar.is_school_day(when):
        return False
    return now >= datetime.combine(when, calendar.day_end, tzinfo=calendar.zone)


def _patterns(core: Core, session, placement: Placement, when: date) -> list[int]:
    settings = core.settings
    window = list(session.scalars(select(RegisterMark).where(RegisterMark.placement_id == placement.id,
                                                             RegisterMark.day > when - timedelta(days=PATTERN_WINDOW_DAYS),
                                                             RegisterMark.day <= when)))
    found = []
    counted = [a for a in (domain.attended(m) for m in window) if a is not None]
    if len(counted) >= PATTERN_MIN_SESSIONS:
        rate = round(100 * sum(counted) / len(counted), 1)
        if rate < settings.attendance_review_percent:
            found.append(("low_attendance", PATTERN_WINDOW_DAYS,
                          f"Attendance was {rate}% over the last four weeks ({sum(counted)} of {len(counted)} sessions), "
                          f"below {settings.attendance_review_percent:g}%."))
    lates = [m for m in window if m.status == "late" and m.day > when - timedelta(days=settings.lateness_review_days)]
    if len(lates) >= settings.lateness_review_count:
        found.append(("lateness", settings.lateness_review_days,
                      f"Late {len(lates)} times in the last {settings.lateness_review_days} days."))
    raised = []
    for kind, days, reason in found:
        recent = session.scalar(select(RegisterReview.id).where(RegisterReview.placement_id == placement.id, RegisterReview.kind == kind,
                                                                RegisterReview.raised_on > when - timedelta(days=days)).limit(1))
        if recent is None:
            review = RegisterReview(placement_id=placement.id, kind=kind, raised_on=when, reason=reason, review_opened=False)
            session.add(review)
            session.flush()
            raised.append(review.id)
    return raised


def _ask_for_review(core: Core, review_id: int) -> None:
    """The review request of a pattern, the way a person's request goes (R73): on the placement's history, and the
    running placement's `review_requested` signal."""
    with core.db.session() as session:
        review = session.get(RegisterReview, review_id)
        placement = session.get(Placement, review.placement_id)
        session.add(LogEntry(placement_id=placement.id, provider_id=placement.provider_id, instance_id=placement.instance_id,
                             at=clock.now(), actor="apflow", kind="review_requested",
                             summary=f"Review requested by apflow from the registers: {review.reason}"))
        instance_id, reason = placement.instance_id, review.reason
        pupil = session.get(Pupil, placement.pupil_id)
        outbox.notify(session, _school_people(session, placement, ("coordinator",)), "review_requested",
                      f"A review of {pupil.name}'s placement ({pupil.ref}) was asked for: {reason}", instance_id=instance_id,
                      subject="A placement review was asked for", email="A placement review was asked for because of attendance. Open apflow:",
                      link=f"/placements/{instance_id}/register" if instance_id else None)
    if instance_id is None:
        return
    caught = instances.send_signal(core, None, instance_id, "review_requested", {"reason": reason})["caught"]
    if caught:
        with core.db.session() as session:
            session.get(RegisterReview, review_id).review_opened = True



def placement_of_instance(core: Core, instance_id: int) -> int:
    """The placement a workflow instance runs (placement pages are addressed by instance); NotFound when none."""
    with core.db.session(readonly=True) as session:
        placement_id = session.scalar(select(Placement.id).where(Placement.instance_id == instance_id))
    if placement_id is None:
        raise NotFound(f"There is no placement {instance_id} whose register you can see.")
    return placement_id
