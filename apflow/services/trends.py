"""Trends across placements (R112; value for money for R114): attendance, progress against objectives, engagement and
wellbeing, exits and destinations with the sustained checks (R101), examination entries and qualifications (R15), and
what purchase orders commissioned, term by term on the organisation's calendar,
filtered by provider, reason for referral, cohort (year group) and placement type.

Each figure is one SQL aggregate over the placements the person's school or LA commissioned, so the page costs the
same handful of queries at 100 placements as at 10,000 (bench/trends.py). Families and providers have no trends.
"""
from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import date

from sqlalchemy import Integer, String, and_, case, cast, extract, func, select, true

from apflow.errors import Invalid, NotFound
from apflow.placements import registers as domain
from apflow.placements.common import today
from apflow.placements.models import (
    Assessment,
    Destination,
    DestinationFollowUp,
    EffectivenessReport,
    LessonReport,
    Placement,
    PlacementExit,
    Provider,
    Pupil,
    PurchaseOrder,
    Qualification,
    RegisterMark,
)
from apflow.store.models import Instance, User

from . import permissions
from .core import Core

REASONS = {"attendance": "Below attendance threshold", "medical": "Medical", "needs_not_met": "Needs not met in mainstream",
           "send": "SEND", "cic": "Child in care", "cp": "Child protection"}
PLACEMENT_TYPES = {"part_time_ap": "Part-time alternative provision", "full_time_ap": "Full-time alternative provision",
                   "vocational": "Vocational course", "college_link": "College link course", "work_experience": "Work experience",
                   "tuition_mentoring": "Tuition or mentoring", "therapeutic": "Therapeutic or nurture provision",
                   "preparation_adulthood": "Preparation for adulthood"}
DESTINATIONS = {"same_school": "Back to the same school", "new_school": "A new school", "another_ap": "Another AP placement",
                "college": "College", "employment": "Employment", "training": "Training",
                "neet": "Not in education, employment or training"}
REINTEGRATION = ("same_school", "new_school", "college")  # back into (or on to) full-time education
ENGAGEMENT = ("participation", "behaviour", "relationships", "progress")  # lesson report scores, 1-5; wellbeing apart
FAR = date(9999, 12, 31)


@dataclass(frozen=True)
class Filters:
    """What the trends are narrowed to; None means all."""
    provider_id: int | None = None
    reason: str | None = None
    year_group: int | None = None
    placement_type: str | None = None


@dataclass(frozen=True)
class Period:
    """A term of the calendar, from its first day up to (not including) the next term's first day: the holiday after
    a term counts with it."""
    name: str
    start: date
    until: date


def parse_filters(args) -> Filters:
    """Filters from a query string (provider, reason, year_group, placement_type); Invalid names the field to fix."""
    errors, values = {}, {}
    for field in ("provider", "year_group"):
        text = (args.get(field) or "").strip()
        if text:
            try:
                values[field] = int(text)
            except ValueError:
                errors[field] = ["Choose one from the list." if field == "provider" else "Give the year group as a number, e.g. 10."]
    if "year_group" in values and not -1 <= values["year_group"] <= 14:
        errors["year_group"] = ["Give a year group from Reception (0) to Year 14."]
    for field, known in (("reason", REASONS), ("placement_type", PLACEMENT_TYPES)):
        text = (args.get(field) or "").strip()
        if text and text not in known:
            errors[field] = ["Choose one from the list."]
        values[field] = text or None
    if errors:
        raise Invalid("The filters need correcting.", {"fields": errors})
    return Filters(provider_id=values.get("provider"), reason=values["reason"], year_group=values.get("year_group"),
                   placement_type=values["placement_type"])


def _may_see(user: User) -> None:
    if not permissions.can(user, "trends.view"):  # school staff, LA officers, managers; never providers or families
        raise NotFound("Trends are for the staff of the school or local authority that placed the pupils.")


# -- the pieces of SQL every figure shares --------------------------------------------------------------------------

def year_group_of():
    """SQL: the pupil's national curriculum year group when the placement started (services/pupils.year_group)."""
    start, born = Placement.start_date, Pupil.date_of_birth
    academic_year = cast(extract("year", start), Integer) - case((cast(extract("month", start), Integer) >= 9, 0), else_=1)
    return academic_year - cast(extract("year", born), Integer) - case((cast(extract("month", born), Integer) >= 9, 5), else_=4)


def _scoped(query, user: User, filters: Filters):
    """`query` (which reads Placement) limited to what this person's organisations commissioned, then to the filters."""
    query = (query.join(Pupil, Pupil.id == Placement.pupil_id).outerjoin(Instance, Instance.id == Placement.instance_id)
             .where(permissions.commissioned_by(user)))
    if filters.provider_id is not None:
        query = query.where(Placement.provider_id == filters.provider_id)
    if filters.reason:  # a key of REASONS, quoted as it is stored in the JSON list
        query = query.where(cast(Placement.reasons, String).like(f'%"{filters.reason}"%'))
    if filters.placement_type:
        query = query.where(Placement.placement_type == filters.placement_type)
    if filters.year_group is not None:
        query = query.where(year_group_of() == filters.year_group)
    return query


def _term_of(column, periods: list[Period]):
    return case(*[(and_(column >= p.start, column < p.until), p.name) for p in periods], else_=None)


def attended_of():
    """SQL: 1 when a register mark counts as attended, 0 when not, NULL when it does not count either way; the same rule
    as apflow.placements.registers.attended (the school's code where coded, else the provider's report)."""
    kinds = {}
    for code, (_, kind) in domain.CODES.items():
        kinds.setdefault(kind, []).append(code)
    attended = [c for k in domain.ATTENDED_KINDS for c in kinds[k]]
    coded = and_(RegisterMark.code.is_not(None), RegisterMark.code != "")
    return case((RegisterMark.code.in_(attended), 1), (RegisterMark.code.in_(kinds["not_counted"]), None), (coded, 0),
                (RegisterMark.status.in_(("present", "late")), 1), (RegisterMark.status == "absent", 0), else_=None)


def _by_term(periods: list[Period], user: User, filters: Filters, model, day_column, *columns, where=(), via_placement=False):
    """A subquery of (term, *columns) over `model`'s rows of the scoped placements, with the term their day falls in,
    and its columns: callers group on the term outside it (PostgreSQL cannot group on a CASE with parameters). The
    placements are an IN list the database builds once, so the rows are not each joined to placement, pupil and
    instance (`via_placement` when the day is the placement's own)."""
    query = select(_term_of(day_column, periods).label("term"), *[c.label(f"c{i}") for i, c in enumerate(columns)]).select_from(model)
    if via_placement:
        query = query.join(Placement, Placement.id == model.placement_id)
    inner = query.where(model.placement_id.in_(_scoped(select(Placement.id), user, filters)), day_column >= periods[0].start,
                        *where).subquery()
    return inner, [inner.c[f"c{i}"] for i in range(len(columns))]


def periods_for(session, user: User) -> list[Period]:
    """The terms so far on the calendar of this person's organisation (the default calendar for an LA or an install
    without one); school years from September where no term dates are set up."""
    organisation_id = min(user.organisation_ids) if user.organisation_ids else None
    calendar = domain.calendar_for(session, organisation_id)
    day = today()
    terms = [t for t in (calendar.terms if calendar else ()) if t.start <= day]
    if terms:
        starts = [t.start for t in calendar.terms]
        return [Period(t.name, t.start, next((s for s in starts if s > t.start), FAR)) for t in terms]
    year = day.year if day.month >= 9 else day.year - 1
    return [Period(f"School year {y}-{(y + 1) % 100:02d}", date(y, 9, 1), date(y + 1, 9, 1)) for y in range(year - 2, year + 1)]


def _percent(part, whole) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _pounds(pence) -> float | None:
    """Pence as pounds with two decimal places (None where nothing was ordered)."""
    return round(float(pence) / 100, 2) if pence is not None else None


def _average(value) -> float | None:
    return round(float(value), 2) if value is not None else None


# -- the figures ----------------------------------------------------------------------------------------------------

def figures(core: Core, user: User, filters: Filters | None = None) -> dict:
    """Every trend for the placements this person's school or LA commissioned, narrowed by `filters`.

    Returns {"terms": [{"name", "start", "until"}], "filters": {...}, "options": {"providers", "reasons", "year_groups",
    "placement_types"} (each [{"value", "label"}]), "placements": how many match, "tables": {key: table}}. Each table is
    {"title", "about", "columns": [{"key", "label", "unit"}], "rows": [{column key: value}], "chart": {"kind":
    "line" | "bar", "series": [column keys]}}: the page draws a chart and prints the table from it, the CSV download
    is the same table (table_csv), the governors' report can quote its rows. Keys: attendance, progress, engagement,
    destinations (with the sustained checks at 3 and 6 months), qualifications, orders (value for money by term) and
    providers (value for money per provider). Percentages have one decimal place, averages two; None where there
    is nothing to count.
    Raises NotFound for anyone but school or LA staff (permissions: trends.view)."""
    _may_see(user)
    filters = filters or Filters()
    with core.db.session(readonly=True) as session:
        periods = periods_for(session, user)
        names = [p.name for p in periods]
        count = session.scalar(_scoped(select(func.count(Placement.id)), user, filters))
        marks = _marks(periods, user, filters, session)
        tables = {
            "attendance": _attendance(marks),
            "progress": _progress(session, periods, user, filters),
            "engagement": _engagement(session, periods, user, filters),
            "destinations": _destinations(session, periods, user, filters),
            "qualifications": _qualifications(session, periods, user, filters),
            "orders": _orders(session, periods, user, filters),
            "providers": _providers(session, user, filters, marks),
        }
        for key in ("attendance", "progress", "engagement", "destinations", "qualifications", "orders"):
            found = {r["term"]: r for r in tables[key]["rows"]}
            tables[key]["rows"] = [found.get(name) or {"term": name, **{c["key"]: None for c in tables[key]["columns"][1:]}}
                                   for name in names]
        return {"terms": [{"name": p.name, "start": p.start.isoformat(), "until": p.until.isoformat()} for p in periods],
                "filters": asdict(filters), "options": _options(session, user), "placements": count, "tables": tables}


def _column(key: str, label: str, unit: str = "") -> dict:
    return {"key": key, "label": label, "unit": unit}


TERM = _column("term", "Term")


def _marks(periods, user, filters, session) -> list[tuple]:
    """(term, provider id, sessions counted, sessions attended) from one pass over the register marks: counted per
    placement first, then per provider, so only one row per placement and term meets the placements table."""
    inner, (attended, _) = _by_term(periods, user, filters, RegisterMark, RegisterMark.day, attended_of(), RegisterMark.placement_id)
    per_placement = (select(inner.c.term, inner.c.c1.label("placement_id"), func.count(attended).label("counted"),
                            func.sum(attended).label("present"))
                     .where(inner.c.term.is_not(None)).group_by(inner.c.term, inner.c.c1).subquery())
    return [(term, pid, int(counted or 0), int(present or 0)) for term, pid, counted, present in session.execute(
        select(per_placement.c.term, Placement.provider_id, func.sum(per_placement.c.counted), func.sum(per_placement.c.present))
        .join(Placement, Placement.id == per_placement.c.placement_id).group_by(per_placement.c.term, Placement.provider_id))]


def _attendance(marks: list[tuple]) -> dict:
    totals: dict[str, list[int]] = {}
    for term, _, counted, present in marks:
        total = totals.setdefault(term, [0, 0])
        total[0], total[1] = total[0] + counted, total[1] + present
    rows = [{"term": term, "sessions": counted, "attended": present, "percent": _percent(present, counted)}
            for term, (counted, present) in totals.items()]
    return {"title": "Attendance", "about": "Sessions attended out of the sessions that count: the school's code where it has coded "
            "the register, otherwise what the provider reported. Sessions the pupil could not attend (codes X, Q, Y) do not count.",
            "columns": [TERM, _column("sessions", "Sessions counted"), _column("attended", "Sessions attended"),
                        _column("percent", "Attendance", "%")],
            "rows": rows, "chart": {"kind": "line", "series": ["percent"]}}


def _progress(session, periods, user, filters) -> dict:
    """Termly assessments against the plan (on track: yes, partly, no) and the provider's termly reports on each target."""
    on_track = Assessment.content["on_track"].as_string()
    inner, (answer,) = _by_term(periods, user, filters, Assessment, Assessment.assessed_on, on_track,
                                 where=[Assessment.kind == "termly"])
    counts: dict[str, dict] = {}
    for term, value, n in session.execute(select(inner.c.term, answer, func.count()).where(
            inner.c.term.is_not(None), answer.is_not(None)).group_by(inner.c.term, answer)):
        counts.setdefault(term, {})[value] = n
    for term, status, n in _target_statuses(session, periods, user, filters):
        counts.setdefault(term, {})[f"target_{status}"] = n
    rows = []
    for term, c in counts.items():
        assessed = c.get("yes", 0) + c.get("partly", 0) + c.get("no", 0)
        targets = c.get("target_met", 0) + c.get("target_partly", 0) + c.get("target_not_met", 0)
        rows.append({"term": term, "assessments": assessed, "on_track": c.get("yes", 0), "partly_on_track": c.get("partly", 0),
                     "on_track_percent": _percent(c.get("yes", 0), assessed), "targets": targets, "targets_met": c.get("target_met", 0),
                     "targets_partly": c.get("target_partly", 0), "targets_met_percent": _percent(c.get("target_met", 0), targets)})
    return {"title": "Progress against objectives", "about": "Termly assessments against the plan's objectives (on track or "
            "not), and the targets the provider reported met in its termly report on how well its provision works.",
            "columns": [TERM, _column("assessments", "Termly assessments"), _column("on_track", "On track"),
                        _column("partly_on_track", "Partly on track"), _column("on_track_percent", "On track", "%"),
                        _column("targets", "Targets reported on"), _column("targets_met", "Targets met"),
                        _column("targets_partly", "Targets partly met"), _column("targets_met_percent", "Targets met", "%")],
            "rows": rows, "chart": {"kind": "bar", "series": ["on_track_percent", "targets_met_percent"]}}


def _target_statuses(session, periods, user, filters):
    """(term, status, count) over every target of the providers' termly reports: the JSON list unnested in SQL."""
    if session.get_bind().dialect.name == "postgresql":
        item = func.json_array_elements(EffectivenessReport.targets).table_valued("value", joins_implicitly=True).render_derived()
        status = item.c.value.op("->>")("status")
    else:
        item = func.json_each(EffectivenessReport.targets).table_valued("value", joins_implicitly=True)
        status = func.json_extract(item.c.value, "$.status")
    query = _scoped(select(EffectivenessReport.term, status, func.count()).select_from(EffectivenessReport)
                    .join(Placement, Placement.id == EffectivenessReport.placement_id).join(item, true()), user, filters)
    names = [p.name for p in periods]
    return session.execute(query.where(EffectivenessReport.term.in_(names)).group_by(EffectivenessReport.term, status)).all()


def _engagement(session, periods, user, filters) -> dict:
    scores = [getattr(LessonReport, k) for k in (*ENGAGEMENT, "wellbeing")]
    inner, columns = _by_term(periods, user, filters, LessonReport, LessonReport.day, *scores)
    rows = []
    for term, reports, *averages in session.execute(select(inner.c.term, func.count(), *[func.avg(c) for c in columns])
                                                    .where(inner.c.term.is_not(None)).group_by(inner.c.term)):
        values = dict(zip((*ENGAGEMENT, "wellbeing"), (_average(a) for a in averages)))
        engagement = round(sum(values[k] for k in ENGAGEMENT) / len(ENGAGEMENT), 2)
        rows.append({"term": term, "reports": reports, **values, "engagement": engagement})
    return {"title": "Engagement and wellbeing", "about": "Averages of the tutors' lesson report scores (1 low to 5 high); "
            "engagement is the mean of participation, behaviour, relationships and progress.",
            "columns": [TERM, _column("reports", "Lesson reports"), _column("participation", "Participation"),
                        _column("behaviour", "Behaviour"), _column("relationships", "Relationships"), _column("progress", "Progress"),
                        _column("engagement", "Engagement"), _column("wellbeing", "Wellbeing")],
            "rows": rows, "chart": {"kind": "line", "series": ["engagement", "wellbeing"], "max": 5}}


def _destinations(session, periods, user, filters) -> dict:
    """Where pupils went next, in the term their placement ended; planned exits and emergency removals beside them."""
    ended = func.coalesce(Placement.end_date, Destination.starts_on)
    inner, (kind,) = _by_term(periods, user, filters, Destination, ended, Destination.kind, via_placement=True)
    counts: dict[str, dict] = {}
    for term, value, n in session.execute(select(inner.c.term, kind, func.count()).where(inner.c.term.is_not(None))
                                          .group_by(inner.c.term, kind)):
        counts.setdefault(term, {})[value] = n
    inner, (exit_kind,) = _by_term(periods, user, filters, PlacementExit,
                                   func.coalesce(PlacementExit.ends_on, PlacementExit.started_on), PlacementExit.kind)
    for term, value, n in session.execute(select(inner.c.term, exit_kind, func.count()).where(inner.c.term.is_not(None))
                                          .group_by(inner.c.term, exit_kind)):
        counts.setdefault(term, {})[f"exit_{value}"] = n
    for term, months, checked, sustained in _sustained(session, periods, user, filters, ended):
        counts.setdefault(term, {}).update({f"checked_{months}": checked, f"sustained_{months}": int(sustained or 0)})
    rows = []
    for term, c in counts.items():
        total = sum(c.get(k, 0) for k in DESTINATIONS)
        reintegrated = sum(c.get(k, 0) for k in REINTEGRATION)
        rows.append({"term": term, "planned_exits": c.get("exit_planned", 0), "emergency_removals": c.get("exit_emergency", 0),
                     "destinations": total, **{k: c.get(k, 0) for k in DESTINATIONS}, "reintegrated": reintegrated,
                     "reintegration_percent": _percent(reintegrated, total),
                     **{f"{key}_{m}": c.get(f"{key}_{m}", 0) for m in (3, 6) for key in ("checked", "sustained")},
                     **{f"sustained_{m}_percent": _percent(c.get(f"sustained_{m}", 0), c.get(f"checked_{m}", 0)) for m in (3, 6)}})
    return {"title": "Reintegration and destinations", "about": "Planned exits and emergency removals, and where pupils "
            "went next, in the term the placement ended. Reintegration counts a return to school, a new school or college. "
            "Sustained: of the destinations checked 3 and 6 months after they began, those the pupil was still in.",
            "columns": [TERM, _column("planned_exits", "Planned exits"), _column("emergency_removals", "Emergency removals"),
                        _column("destinations", "Destinations recorded"),
                        *[_column(k, words) for k, words in DESTINATIONS.items()], _column("reintegrated", "Reintegrated"),
                        _column("reintegration_percent", "Reintegrated", "%"),
                        *[c for m in (3, 6) for c in (_column(f"checked_{m}", f"Checked at {m} months"),
                                                      _column(f"sustained_{m}", f"Sustained at {m} months"),
                                                      _column(f"sustained_{m}_percent", f"Sustained at {m} months", "%"))]],
            "rows": rows, "chart": {"kind": "bar", "series": [*DESTINATIONS], "stacked": True}}


def _sustained(session, periods, user, filters, ended):
    """(term of the destination, months, checks recorded, sustained) from the 3- and 6-month follow-ups (R101)."""
    inner = (select(_term_of(ended, periods).label("term"), DestinationFollowUp.months, DestinationFollowUp.sustained)
             .select_from(DestinationFollowUp).join(Destination, Destination.id == DestinationFollowUp.destination_id)
             .join(Placement, Placement.id == DestinationFollowUp.placement_id)
             .where(DestinationFollowUp.placement_id.in_(_scoped(select(Placement.id), user, filters)), ended >= periods[0].start)
             .subquery())
    return session.execute(select(inner.c.term, inner.c.months, func.count(inner.c.sustained),
                                  func.sum(case((inner.c.sustained.is_(True), 1), else_=0)))
                           .where(inner.c.term.is_not(None)).group_by(inner.c.term, inner.c.months)).all()


def _qualifications(session, periods, user, filters) -> dict:
    """Examination entries by the term they were entered in, and results by the term they came (R15)."""
    counts: dict[str, dict] = {}
    inner, _ = _by_term(periods, user, filters, Qualification, Qualification.entered_on)
    for term, n in session.execute(select(inner.c.term, func.count()).where(inner.c.term.is_not(None)).group_by(inner.c.term)):
        counts.setdefault(term, {})["entries"] = n
    inner, (gained,) = _by_term(periods, user, filters, Qualification, Qualification.result_on, Qualification.gained,
                                where=[Qualification.gained.is_not(None)])
    for term, n, won in session.execute(select(inner.c.term, func.count(), func.sum(case((gained.is_(True), 1), else_=0)))
                                        .where(inner.c.term.is_not(None)).group_by(inner.c.term)):
        counts.setdefault(term, {}).update({"results": n, "gained": int(won or 0)})
    rows = [{"term": term, "entries": c.get("entries", 0), "results": c.get("results", 0), "gained": c.get("gained", 0),
             "gained_percent": _percent(c.get("gained", 0), c.get("results", 0))} for term, c in counts.items()]
    return {"title": "Examination entries and qualifications gained", "about": "Entries by the term the pupil was entered, "
            "results by the term they came: qualifications gained out of the results known.",
            "columns": [TERM, _column("entries", "Entries"), _column("results", "Results known"), _column("gained", "Qualifications gained"),
                        _column("gained_percent", "Gained", "%")],
            "rows": rows, "chart": {"kind": "bar", "series": ["entries", "gained"]}}


def _orders(session, periods, user, filters) -> dict:
    """What purchase orders commissioned, by the term they were issued in."""
    inner, (placement, hours, pence) = _by_term(periods, user, filters, PurchaseOrder, PurchaseOrder.issued_on,
                                                PurchaseOrder.placement_id, PurchaseOrder.hours_per_week, PurchaseOrder.value_pence)
    rows = [{"term": term, "orders": orders, "placements": placements, "hours_per_week": _average(total),
             "hours_per_placement": _average(total / placements) if total is not None and placements else None,
             "value": _pounds(value), "cost_per_placement": _pounds(value / placements) if value is not None and placements else None}
            for term, orders, placements, total, value in session.execute(
                select(inner.c.term, func.count(), func.count(placement.distinct()), func.sum(hours), func.sum(pence))
                .where(inner.c.term.is_not(None)).group_by(inner.c.term))]
    return {"title": "Purchase orders by term", "about": "Purchase orders issued in each term: how many, for how many "
            "placements, the hours a week they commission and what they commit, in all and per placement.",
            "columns": [TERM, _column("orders", "Purchase orders"), _column("placements", "Placements"),
                        _column("hours_per_week", "Hours a week commissioned"), _column("hours_per_placement", "Hours a week per placement"),
                        _column("value", "Ordered", "£"), _column("cost_per_placement", "Cost per placement", "£")],
            "rows": rows, "chart": {"kind": "bar", "series": ["hours_per_week"]}}


def _providers(session, user, filters, marks: list[tuple]) -> dict:
    """Value for money per provider over the terms shown: the hours a week purchase orders commission there, set
    against the sessions pupils attended (`marks`: see _marks)."""
    orders = {pid: (n, placements, hours, pence) for pid, n, placements, hours, pence in session.execute(_scoped(
        select(Placement.provider_id, func.count(PurchaseOrder.id), func.count(Placement.id.distinct()), func.sum(PurchaseOrder.hours_per_week),
               func.sum(PurchaseOrder.value_pence))
        .select_from(PurchaseOrder).join(Placement, Placement.id == PurchaseOrder.placement_id), user, filters)
        .group_by(Placement.provider_id))}
    by_provider: dict[int, tuple[int, int]] = {}
    for _, pid, counted, present in marks:
        before = by_provider.get(pid, (0, 0))
        by_provider[pid] = (before[0] + counted, before[1] + present)
    placed = dict(session.execute(_scoped(select(Placement.provider_id, func.count(Placement.id)), user, filters)
                                  .where(Placement.provider_id.is_not(None)).group_by(Placement.provider_id)).all())
    names = dict(session.execute(select(Provider.id, Provider.name).where(Provider.id.in_(list(placed) or [-1]))).all())
    rows = []
    for pid in sorted(placed, key=lambda p: names.get(p, "")):
        n, with_order, hours, pence = orders.get(pid, (0, 0, None, None))
        counted, present = by_provider.get(pid, (0, 0))
        rows.append({"provider": names.get(pid, ""), "placements": placed[pid], "orders": n, "hours_per_week": _average(hours),
                     "hours_per_placement": _average(hours / with_order) if hours is not None and with_order else None,
                     "sessions": counted, "attended": present, "percent": _percent(present, counted), "value": _pounds(pence),
                     "cost_per_placement": _pounds(pence / with_order) if pence is not None and with_order else None,
                     "cost_per_session": _pounds(pence / present) if pence is not None and present else None})
    return {"title": "Value for money by provider", "about": "For each provider: placements, purchase orders, the hours a "
            "week and the money they commit, the sessions pupils attended there (all terms), and what each placement and "
            "each attended session cost.",
            "columns": [_column("provider", "Provider"), _column("placements", "Placements"), _column("orders", "Purchase orders"),
                        _column("hours_per_week", "Hours a week commissioned"), _column("hours_per_placement", "Hours a week per placement"),
                        _column("sessions", "Sessions counted"), _column("attended", "Sessions attended"),
                        _column("percent", "Attendance", "%"), _column("value", "Ordered", "£"),
                        _column("cost_per_placement", "Cost per placement", "£"), _column("cost_per_session", "Cost per session attended", "£")],
            "rows": rows, "chart": {"kind": "bar", "series": ["percent"], "label": "provider"}}


def _options(session, user: User) -> dict:
    """What the filters offer: the providers and year groups of this person's placements, every reason and type."""
    everything = Filters()
    providers = session.execute(_scoped(select(Provider.id, Provider.name).select_from(Placement)
                                        .join(Provider, Provider.id == Placement.provider_id), user, everything).distinct()).all()
    groups = {g for (g,) in session.execute(_scoped(select(year_group_of()).select_from(Placement), user, everything).distinct())
              if g is not None}
    return {"providers": [{"value": pid, "label": name} for pid, name in sorted(providers, key=lambda r: r[1])],
            "reasons": [{"value": k, "label": v} for k, v in REASONS.items()],
            "year_groups": [{"value": g, "label": "Reception" if g == 0 else f"Year {g}"} for g in sorted(groups)],
            "placement_types": [{"value": k, "label": v} for k, v in PLACEMENT_TYPES.items()]}


# -- downloads ------------------------------------------------------------------------------------------------------

def table_csv(table: dict) -> str:
    """One table of figures() as CSV: a header row of the column labels (with their unit), then the rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c["label"] + (f" ({c['unit']})" if c["unit"] else "") for c in table["columns"]])
    for row in table["rows"]:
        writer.writerow(["" if row.get(c["key"]) is None else _safe(row[c["key"]]) for c in table["columns"]])
    return out.getvalue()


def _safe(value):
    """A cell a spreadsheet will not run as a formula (provider names are typed by people)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
