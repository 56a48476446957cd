"""The headteacher's termly report to governors on alternative provision (R110, R114, N 12.1): for one term, the
pupils in AP by type and provider, attendance, progress, engagement, incidents and concerns (numbers only: never a
word of child-protection detail), reviews held on time or late, reintegration and sustained destinations,
qualifications, cost, and compliance issues; with the headteacher's narrative and the date it went to governors.

A saved report keeps its figures as they stood when written (what the governors were shown); past reports are kept,
one per term. The school's leaders (headteacher, coordinator, manager) of their own organisation only.
"""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, func, or_, select

from apflow.errors import Invalid, NotFound
from apflow.placements import gates
from apflow.placements import outcomes as domain
from apflow.placements.common import now, parse_date, today
from apflow.placements.models import (
    Assessment,
    Concern,
    Destination,
    DestinationFollowUp,
    GovernorsReport,
    Incident,
    LessonReport,
    Placement,
    Provider,
    Pupil,
    PurchaseOrder,
    QaVisit,
    Qualification,
    RegisterMark,
    Review,
)
from apflow.placements.registers import UNEXPLAINED
from apflow.school_calendar import CalendarError, Term
from apflow.store.models import Instance, User

from . import permissions, trends
from .core import Core

NOT_PLACEMENT_REVIEWS = ("passport", "transition", "dsl_safety_decision", "intervention_check", "early_intervention")
ENGAGEMENT = ("participation", "behaviour", "relationships", "progress", "wellbeing")
NARRATIVE_LIMIT = 8000


def _require(user: User) -> None:
    if not permissions.can(user, "governors.report"):
        raise NotFound("There is no governors' report you can see.")


def scopes(user: User) -> list[str] | None:
    """The report scopes this person reads (their organisations'; none for someone in no organisation: issue 17)."""
    return [domain.scope_of(o) for o in sorted(user.organisation_ids)]


def _own_organisation(user: User) -> int | None:
    return min(user.organisation_ids) if user.organisation_ids else None


def terms(core: Core) -> list[Term]:
    try:
        return list(core.calendar().terms)
    except CalendarError:
        return []


def _term(core: Core, name: str | None) -> Term:
    known = terms(core)
    if not known:
        raise Invalid("No school-term dates are set up; a manager can import them on the Calendar page.")
    if not name:  # the current term, or the last one ended
        started = [t for t in known if t.start <= today()]
        return started[-1] if started else known[0]
    for t in known:
        if t.name == name:
            return t
    raise Invalid(f"There is no term called {name!r}; choose one of the terms listed.", {"fields": {"term": ["Choose a term."]}})


def _moment(day: date) -> datetime:
    return datetime.combine(day, time(), timezone.utc)


# -- the figures ------------------------------------------------------------------------------------------------

def figures(core: Core, user: User, term_name: str | None = None) -> dict:
    """The term's figures over the placements this person's school or LA commissioned."""
    _require(user)
    term = _term(core, term_name)
    with core.db.session(readonly=True) as session:
        found = _figures(core, session, user, term)
    return {**found, "value_for_money": value_for_money(core, user, term.name)}


def value_for_money(core: Core, user: User, term_name: str) -> dict:
    """From the trends (services/trends.py): what purchase orders commissioned in the term, and per provider the hours
    commissioned against the sessions attended."""
    try:
        found = trends.figures(core, user)
    except NotFound:
        return {"term": None, "providers": []}
    term_row = next((r for r in found["tables"]["orders"]["rows"] if r["term"] == term_name), None)
    return {"term": term_row, "providers": found["tables"]["providers"]["rows"]}


def _figures(core: Core, session, user: User, term: Term) -> dict:
    """One aggregate query per figure over subqueries of the placements (not lists of ids), so a report over 10,000
    placements costs what one over 10 does (bench/governors.py)."""
    first, last = term.start, term.end
    commissioned = (select(Placement.id).join(Pupil, Pupil.id == Placement.pupil_id)
                    .outerjoin(Instance, Instance.id == Placement.instance_id).where(permissions.commissioned_by(user)))
    in_term = commissioned.where(Placement.start_date.is_not(None), Placement.start_date <= last,
                                 or_(Placement.end_date.is_(None), Placement.end_date >= first))
    ids, every = in_term.scalar_subquery(), commissioned.scalar_subquery()
    start_at, end_at = _moment(first), _moment(last + timedelta(days=1))
    counts = session.execute(select(func.count(Placement.id), func.count(Placement.pupil_id.distinct()))
                             .where(Placement.id.in_(ids))).one()
    by_type = dict(session.execute(select(Placement.placement_type, func.count()).where(Placement.id.in_(ids))
                                   .group_by(Placement.placement_type)).all())
    by_provider = Counter({name or "No provider yet": n for name, n in session.execute(
        select(Provider.name, func.count()).select_from(Placement).outerjoin(Provider, Provider.id == Placement.provider_id)
        .where(Placement.id.in_(ids)).group_by(Provider.name))})
    return {
        "term": {"name": term.name, "start": first.isoformat(), "end": last.isoformat()},
        "pupils": counts[1],
        "placements": counts[0],
        "by_type": dict(sorted(by_type.items())),
        "by_provider": dict(sorted(by_provider.items())),
        "attendance": _attendance(session, ids, first, last),
        "progress": _progress(session, ids, first, last),
        "engagement": _engagement(session, ids, first, last),
        "incidents": _incidents(session, ids, start_at, end_at),
        "concerns": {"raised": session.scalar(select(func.count(Concern.id)).where(
            Concern.placement_id.in_(ids), Concern.raised_at >= start_at, Concern.raised_at < end_at))},
        "reviews": _reviews(core, session, ids, first, last),
        "destinations": _destinations(session, every, first, last),
        "qualifications": _qualifications(session, every, first, last),
        "cost": _cost(session, ids, last),
        "compliance": _compliance(session, ids, first, last),
    }


def _attendance(session, ids, first, last) -> dict:
    """Sessions registered in the term, counted as services/registers.attendance_summary counts them."""
    attended = trends.attended_of()
    found = Counter()
    counted = present = 0
    for status, reason, n, c, a in session.execute(
            select(RegisterMark.status, RegisterMark.reason, func.count(), func.count(attended), func.sum(attended))
            .where(RegisterMark.placement_id.in_(ids), RegisterMark.status.is_not(None), RegisterMark.day >= first, RegisterMark.day <= last)
            .group_by(RegisterMark.status, RegisterMark.reason)):
        found[status] += n
        found["unexplained"] += n if status == "absent" and reason == UNEXPLAINED else 0
        counted, present = counted + c, present + int(a or 0)
    return {"sessions": found["present"] + found["late"] + found["absent"], "present": found["present"], "late": found["late"],
            "absent": found["absent"], "unexplained": found["unexplained"],
            "percent": round(100 * present / counted, 1) if counted else None}


def _progress(session, ids, first, last) -> dict:
    in_term = (Assessment.placement_id.in_(ids), Assessment.assessed_on >= first, Assessment.assessed_on <= last)
    on_track = Counter(str((content or {}).get("on_track") or "not said") for content in session.scalars(
        select(Assessment.content).where(*in_term, Assessment.kind == "termly")))
    reports = session.scalar(select(func.count(Assessment.id)).where(*in_term, Assessment.kind == "progress"))
    return {"termly_assessments": sum(on_track.values()), "on_track": on_track.get("yes", 0), "partly": on_track.get("partly", 0),
            "not_on_track": on_track.get("no", 0), "progress_reports": reports}


def _engagement(session, ids, first, last) -> dict:
    row = session.execute(select(func.count(LessonReport.id), *[func.avg(getattr(LessonReport, k)) for k in ENGAGEMENT])
                          .where(LessonReport.placement_id.in_(ids), LessonReport.day >= first, LessonReport.day <= last)).one()
    return {"lesson_reports": row[0], **{k: round(float(v), 2) if v is not None else None for k, v in zip(ENGAGEMENT, row[1:])}}


def _incidents(session, ids, start_at, end_at) -> dict:
    kinds = dict(session.execute(select(Incident.kind, func.count()).where(
        Incident.placement_id.in_(ids), Incident.occurred_at >= start_at, Incident.occurred_at < end_at).group_by(Incident.kind)).all())
    return {"total": sum(kinds.values()), "by_kind": dict(sorted(kinds.items()))}


def _reviews(core: Core, session, ids, first, last) -> dict:
    """Each half-term window of the term a placement ran through needs a review (R74): held in the window (on time),
    held after it (late), or not held. A window still open counts only once its review is held."""
    try:
        windows = [(a, b) for a, b in core.calendar().half_term_windows() if a >= first and b <= last]
    except CalendarError:
        windows = []
    held: dict[int, list[date]] = {}
    for placement_id, day in session.execute(select(Review.placement_id, Review.held_on).where(
            Review.placement_id.in_(ids), Review.kind.not_in(NOT_PLACEMENT_REVIEWS))):
        held.setdefault(placement_id, []).append(day)
    result = Counter(due=0, on_time=0, late=0, not_held=0)
    on = today()
    for placement_id, starts, ends in session.execute(select(Placement.id, Placement.start_date, Placement.end_date).where(Placement.id.in_(ids))):
        for a, b in windows:
            if a > on or starts > b or (ends is not None and ends < a):
                continue  # the window is to come, or the placement did not run in it
            days = held.get(placement_id, [])
            if any(a <= d <= b for d in days):
                result["on_time"] += 1
            elif b >= on:
                continue  # the window is still open and nothing is held yet: neither on time nor late so far
            elif any(d > b for d in days):
                result["late"] += 1
            else:
                result["not_held"] += 1
            result["due"] += 1
    return dict(result)


def _destinations(session, every, first, last) -> dict:
    """Destinations that began in the term, and the 3- and 6-month checks made in it (of placements that may have ended
    terms ago)."""
    kinds = Counter(d.kind for d in session.scalars(select(Destination).where(
        Destination.placement_id.in_(every), or_(and_(Destination.starts_on >= first, Destination.starts_on <= last),
                                                  and_(Destination.starts_on.is_(None), Destination.recorded_at >= _moment(first),
                                                       Destination.recorded_at < _moment(last + timedelta(days=1)))))))
    checks = Counter((months, sustained) for months, sustained in session.execute(
        select(DestinationFollowUp.months, DestinationFollowUp.sustained).where(
            DestinationFollowUp.placement_id.in_(every), DestinationFollowUp.checked_on >= first, DestinationFollowUp.checked_on <= last)))
    return {"recorded": sum(kinds.values()), "by_kind": dict(sorted(kinds.items())),
            "reintegrated": sum(n for k, n in kinds.items() if k in domain.REINTEGRATED),
            "checks": sum(checks.values()), "sustained": sum(n for (_, s), n in checks.items() if s),
            "not_sustained": sum(n for (_, s), n in checks.items() if s is False),
            "sustained_at_6_months": checks.get((6, True), 0)}


def _qualifications(session, every, first, last) -> dict:
    """Entries made in the term, and results that came in it (often after the placement ended)."""
    entered = session.scalar(select(func.count(Qualification.id)).where(
        Qualification.placement_id.in_(every), Qualification.entered_on >= first, Qualification.entered_on <= last))
    results = Counter()
    for kind, level, gained, n in session.execute(select(Qualification.kind, Qualification.level, Qualification.gained, func.count()).where(
            Qualification.placement_id.in_(every), Qualification.gained.is_not(None), Qualification.result_on >= first,
            Qualification.result_on <= last).group_by(Qualification.kind, Qualification.level, Qualification.gained)):
        results[(kind, level, gained)] += n
    gained = {k: n for k, n in results.items() if k[2]}
    return {"entered": entered, "results": sum(results.values()), "gained": sum(gained.values()),
            "not_gained": sum(results.values()) - sum(gained.values()),
            "gained_by_type": dict(sorted((f"{domain.KINDS.get(k, k)} {domain.LEVELS.get(lv, lv)}", n) for (k, lv, _), n in gained.items()))}


def _cost(session, ids, last) -> dict:
    """Commissioned hours from the latest purchase order of each of the term's placements (R3)."""
    latest = (select(PurchaseOrder.placement_id, func.max(PurchaseOrder.id).label("id"))
              .where(PurchaseOrder.placement_id.in_(ids), PurchaseOrder.issued_on <= last).group_by(PurchaseOrder.placement_id).subquery())
    orders, hours = session.execute(select(func.count(PurchaseOrder.id), func.sum(PurchaseOrder.hours_per_week))
                                    .join(latest, latest.c.id == PurchaseOrder.id)).one()
    issued = session.scalar(select(func.count(PurchaseOrder.id)).where(PurchaseOrder.placement_id.in_(ids), PurchaseOrder.issued_on <= last))
    return {"purchase_orders": issued, "placements_with_orders": orders, "hours_per_week": round(float(hours or 0), 1)}


def _compliance(session, ids, first, last) -> dict:
    """Providers used in the term without a QA visit in it (R23), without a service level agreement in force (R30), or
    with due diligence not complete (R21)."""
    used = list(session.scalars(select(Provider).where(Provider.id.in_(select(Placement.provider_id).where(Placement.id.in_(ids))))))
    visited = set(session.scalars(select(QaVisit.provider_id).where(QaVisit.provider_id.in_([p.id for p in used] or [-1]),
                                                                    QaVisit.visited_on >= first, QaVisit.visited_on <= last)))
    no_visit = sorted(p.name for p in used if p.id not in visited)
    no_sla = sorted(p.name for p in used if gates.sla_in_force(session, p) is None)
    no_dd = sorted(p.name for p in used if not p.due_diligence_complete)
    return {"providers": len(used), "without_qa_visit": no_visit, "without_sla": no_sla, "due_diligence_incomplete": no_dd,
            "issues": len(no_visit) + len(no_sla) + len(no_dd)}


# -- the reports ---------------------------------------------------------------------------------------------------

def _report_dict(r: GovernorsReport) -> dict:
    return {"id": r.id, "term": r.term, "term_start": r.term_start.isoformat(), "term_end": r.term_end.isoformat(), "figures": r.figures,
            "narrative": r.narrative, "presented_on": r.presented_on.isoformat() if r.presented_on else None,
            "written_at": r.written_at.isoformat(), "written_by": r.written_by}


def _visible_report(session, user: User, report_id: int) -> GovernorsReport:
    _require(user)
    report = session.get(GovernorsReport, report_id)
    allowed = scopes(user)
    if report is None or (allowed is not None and report.scope not in allowed):
        raise NotFound(f"There is no governors' report {report_id} that you can see.")
    return report


def list_reports(core: Core, user: User) -> list[dict]:
    """Past and current reports of this person's school, newest term first."""
    _require(user)
    allowed = scopes(user)
    with core.db.session(readonly=True) as session:
        query = select(GovernorsReport).order_by(GovernorsReport.term_start.desc(), GovernorsReport.id.desc())
        if allowed is not None:
            query = query.where(GovernorsReport.scope.in_(allowed))
        return [_report_dict(r) for r in session.scalars(query)]


def get_report(core: Core, user: User, report_id: int) -> dict:
    with core.db.session(readonly=True) as session:
        return _report_dict(_visible_report(session, user, report_id))


def save_report(core: Core, user: User, term_name: str, narrative: str) -> dict:
    """Write (or rewrite) the term's report: the figures as they stand now and the headteacher's narrative. A report
    already presented to governors is kept as it was shown."""
    _require(user)
    narrative = (narrative or "").strip()
    if len(narrative) < 20:
        raise Invalid("Write a short narrative for the governors (at least 20 characters): what went well, what will change.",
                      {"fields": {"narrative": ["Write at least 20 characters."]}})
    if len(narrative) > NARRATIVE_LIMIT:
        raise Invalid(f"Keep the narrative under {NARRATIVE_LIMIT} characters.", {"fields": {"narrative": ["Too long."]}})
    term = _term(core, term_name)
    org = _own_organisation(user)
    scope = domain.scope_of(org)
    money = value_for_money(core, user, term.name)  # read first: its own session
    with core.db.session() as session:
        report = session.scalar(select(GovernorsReport).where(GovernorsReport.scope == scope, GovernorsReport.term == term.name))
        if report is not None and report.presented_on is not None:
            raise Invalid(f"The {term.name} report went to governors on {report.presented_on}; it is kept as they saw it.")
        figures_now = {**_figures(core, session, user, term), "value_for_money": money}
        if report is None:
            report = GovernorsReport(scope=scope, organisation_id=org, term=term.name, term_start=term.start, term_end=term.end,
                                     figures=figures_now, narrative=narrative, written_at=now(), written_by=user.display_name or user.username)
            session.add(report)
        else:
            report.figures, report.narrative, report.written_at = figures_now, narrative, now()
            report.written_by = user.display_name or user.username
        session.flush()
        return _report_dict(report)


def mark_presented(core: Core, user: User, report_id: int, presented_on: str) -> dict:
    """Record the date the report was presented to governors; from then on it is kept as it was."""
    with core.db.session() as session:
        report = _visible_report(session, user, report_id)
        try:
            day = parse_date(presented_on, "presented_on")
        except Invalid:
            day = None
        if day is None:
            raise Invalid("Give the date of the governors' meeting, like 2026-03-24.", {"fields": {"presented_on": ["Use a date like 2026-03-24."]}})
        if day > today():
            raise Invalid("Record the meeting once it has happened: the date cannot be in the future.",
                          {"fields": {"presented_on": ["Use today's date or an earlier one."]}})
        if day < report.term_start:
            raise Invalid("The report cannot have gone to governors before its term began.", {"fields": {"presented_on": ["Check the date."]}})
        report.presented_on = day
        return _report_dict(report)


def latest_reports(session, organisation_id: int | None, count: int = 3) -> list[dict]:
    """The last reports of an organisation, for the annual policy review's evidence."""
    return [_report_dict(r) for r in session.scalars(select(GovernorsReport).where(GovernorsReport.scope == domain.scope_of(organisation_id))
                                                     .order_by(GovernorsReport.term_start.desc()).limit(count))]
