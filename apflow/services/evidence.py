"""Evidence packs (R110, issue 16): what an Ofsted inspector or the LA asks to see of one placement or one provider,
gathered for printing.

A placement's pack is its file (every completed task's answers, in the forms' own words, through the same disclosure
rules as the placement page: child-protection answers never reach it) with its records summed up beside it: the
registers, the lesson reports, the plans and their sign-offs, reviews, risk assessments, incidents and where the pupil
went next. A provider's pack is its record (criteria, due diligence, approval, the agreement, QA visits, sites) with
the placements the reader may see and how each went. The web layer prints them (apflow/web/evidence.py); each pack
produced is logged here, since it discloses pupils' records.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from types import SimpleNamespace

from sqlalchemy import func, select

from apflow.clock import clock
from apflow.engine.forms import in_words
from apflow.errors import NotFound
from apflow.placements import lessons as lesson_domain
from apflow.placements import registers as register_domain
from apflow.placements.models import (
    Assessment,
    Consent,
    Destination,
    EffectivenessReport,
    EvidencePack,
    Incident,
    KeyInformationDocument,
    LessonReport,
    Placement,
    PlacementExit,
    Plan,
    PlanSignoff,
    Provider,
    Pupil,
    PurchaseOrder,
    RegisterMark,
    Review,
    RiskAssessment,
    TimetableSession,
)
from apflow.store.models import HumanTask, Instance, Organisation, User

from . import compliance, disclosure, permissions, placement_file, placements
from .core import Core

PLAN_KINDS = {"personalised": "Personalised plan", "relational_learning": "Relational Learning Plan", "pupil_passport": "Pupil Passport"}
REFERRAL_FORM = "referral.schema.json"
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
CP_INCIDENTS = {"safeguarding"}  # their detail belongs to the child-protection file (R81): the pack says only that one happened
COMPLIANCE_HIDDEN = ("The provider's compliance documents are kept by the schools that commission it and by the provider "
                     "itself; they are not shown to you, so this pack leaves them out.")


def _words(value: str | None) -> str:
    return in_words(value) if value else ""


def _referral_words(core: Core, session, instance: Instance, placement: Placement) -> dict:
    """The referral's choices as the referral form labels them (its reasons, the type of placement, who referred)."""
    row = session.execute(select(HumanTask.form_schema, HumanTask.form_ui_schema).where(
        HumanTask.instance_id == instance.id, HumanTask.form_schema == REFERRAL_FORM, HumanTask.state == "completed").limit(1)).first()
    form = core.form(instance.version, *row) if row else None
    if form is None:
        return {}
    answers = {"reasons": placement.reasons, "placement_type": placement.placement_type, "referred_by": placement.referred_by}
    return {a["key"]: a["text"] for a in form.readable(answers)}


def _day(value) -> str | None:
    return value.isoformat() if value else None


def _organisation(session, user: User, fallback_id: int | None = None) -> str:
    """Whom the pack is printed for: the reader's own organisations, else the placement's commissioner."""
    ids = sorted(user.organisation_ids) or ([fallback_id] if fallback_id else [])
    names = list(session.scalars(select(Organisation.name).where(Organisation.id.in_(ids)).order_by(Organisation.name))) if ids else []
    return ", ".join(names) or "apflow"


def _printed(user: User) -> dict:
    return {"printed_by": user.display_name or user.username, "printed_at": clock.now().isoformat()}


# -- attendance from the registers, counted in the database ------------------------------------------------------------

def _percent(counts: dict) -> float | None:
    """registers.percent over counted marks: {(code, status): n} -> the share attended, as the registers count it."""
    attended = counted = 0
    for (code, status), n in counts.items():
        a = register_domain.attended(SimpleNamespace(code=code, status=status))
        if a is not None:
            counted += n
            attended += n if a else 0
    return round(100 * attended / counted, 1) if counted else None


def _attendance(rows) -> dict:
    """Totals from rows of (code, status, reason, n) for marked sessions."""
    counts, total = defaultdict(int), Counter()
    for code, status, reason, n in rows:
        counts[(code, status)] += n
        total["sessions"] += n
        total[status] += n
        if status == "absent" and reason == register_domain.UNEXPLAINED:
            total["unexplained"] += n
    return {"sessions": total["sessions"], "present": total["present"], "late": total["late"], "absent": total["absent"],
            "unexplained": total["unexplained"], "percent": _percent(counts)}


def _registers(session, placement: Placement) -> dict:
    """The placement's registers summed up: overall, month by month, and the codes the school entered."""
    rows = session.execute(select(RegisterMark.day, RegisterMark.code, RegisterMark.status, RegisterMark.reason, RegisterMark.followed_up_at)
                           .where(RegisterMark.placement_id == placement.id, RegisterMark.status.is_not(None))).all()
    by_month, codes = defaultdict(list), Counter()
    for day, code, status, reason, _ in rows:
        by_month[(day.year, day.month)].append((code, status, reason, 1))
        if code:
            codes[code] += 1
    months = [{"month": f"{date(y, m, 1):%B %Y}", **_attendance(r)} for (y, m), r in sorted(by_month.items())]
    return {**_attendance([(c, s, r, 1) for _, c, s, r, _ in rows]),
            "first": _day(min((r[0] for r in rows), default=None)), "last": _day(max((r[0] for r in rows), default=None)),
            "not_followed_up": sum(1 for r in rows if r[2] == "absent" and r[4] is None),
            "months": months,
            "codes": [{"code": c, "words": register_domain.CODES.get(c, ("", ""))[0], "count": n} for c, n in sorted(codes.items())]}


def _lessons(session, placement: Placement) -> dict:
    """The tutors' lesson reports summed up: how many, and the average of each engagement measure by month (R72)."""
    reports = list(session.scalars(select(LessonReport).where(LessonReport.placement_id == placement.id).order_by(LessonReport.day)))
    by_month = defaultdict(list)
    for r in reports:
        by_month[(r.day.year, r.day.month)].append(r)

    def averages(group) -> dict:
        return {m: round(sum(getattr(r, m) for r in group) / len(group), 1) for m in lesson_domain.MEASURES}
    return {"count": len(reports), "first": _day(reports[0].day) if reports else None, "last": _day(reports[-1].day) if reports else None,
            "measures": [{"key": m, "title": lesson_domain.MEASURE_TITLES[m]} for m in lesson_domain.MEASURES],
            "averages": averages(reports) if reports else {},
            "months": [{"month": f"{date(y, m, 1):%B %Y}", "count": len(g), "averages": averages(g)}
                       for (y, m), g in sorted(by_month.items())]}


def _rows(session, model, placement_id: int, order):
    return list(session.scalars(select(model).where(model.placement_id == placement_id).order_by(order)))


def _records(session, placement: Placement, school: bool) -> dict:
    """The placement's own records, listed: what was recorded, when and by whom. What each said is in the file."""
    signoffs = {s.plan_id: s for s in _rows(session, PlanSignoff, placement.id, PlanSignoff.id)}
    plans = []
    for p in _rows(session, Plan, placement.id, Plan.id):
        s = signoffs.get(p.id)
        plans.append({"kind": PLAN_KINDS.get(p.kind, _words(p.kind)), "version": p.version, "recorded_at": p.recorded_at.isoformat(),
                      "recorded_by": p.recorded_by,
                      "signoff": {"by": s.signed_by_name, "at": s.signed_at.isoformat(), "checks": [_words(c) for c in s.checks],
                                  "comments": s.comments} if s else None})
    incidents = [{"kind": _words(i.kind), "occurred_at": i.occurred_at.isoformat(), "by": i.recorded_by_name,
                  "summary": None if i.kind in CP_INCIDENTS else i.summary, "action_taken": None if i.kind in CP_INCIDENTS else i.action_taken,
                  "review_opened": i.review_opened} for i in _rows(session, Incident, placement.id, Incident.occurred_at)]
    records = {
        "timetable": [{"day": WEEKDAYS[s.weekday], "starts": s.starts, "ends": s.ends, "activity": s.activity, "address": s.address}
                      for s in _rows(session, TimetableSession, placement.id, TimetableSession.weekday)],
        "plans": plans,
        "reviews": [{"kind": _words(r.kind), "held_on": _day(r.held_on), "outcome": _words(r.outcome), "by": r.recorded_by}
                    for r in _rows(session, Review, placement.id, Review.held_on)],
        "risk_assessments": [{"kind": _words(r.kind), "reason": _words(r.reason), "overall_risk": _words(r.overall_risk) or "Not rated",
                              "assessed_on": _day(r.assessed_on), "by": r.recorded_by}
                             for r in _rows(session, RiskAssessment, placement.id, RiskAssessment.assessed_on)],
        "assessments": [{"kind": _words(a.kind), "assessed_on": _day(a.assessed_on), "by": a.recorded_by}
                        for a in _rows(session, Assessment, placement.id, Assessment.assessed_on)],
        "effectiveness": [{"term": e.term, "by": e.recorded_by_name, "targets": [f"{t.get('target', '')}: {_words(t.get('status'))}" for t in e.targets]}
                          for e in _rows(session, EffectivenessReport, placement.id, EffectivenessReport.id)],
        "incidents": incidents,
        "exits": [{"kind": _words(e.kind), "started_on": _day(e.started_on), "ends_on": _day(e.ends_on)}
                  for e in _rows(session, PlacementExit, placement.id, PlacementExit.id)],
        "destinations": [{"kind": _words(d.kind), "setting": d.setting_name, "starts_on": _day(d.starts_on),
                          "transition_support": d.transition_support, "attends_unaided_on": _day(d.attends_unaided_on)}
                         for d in _rows(session, Destination, placement.id, Destination.id)],
        "consents": [], "purchase_orders": [], "key_information_documents": [],
    }
    if school:  # the school's own dealings with the family and the funder
        records["consents"] = [{"given": c.given, "signed_name": c.signed_name, "signed_on": _day(c.signed_on)}
                               for c in _rows(session, Consent, placement.id, Consent.id)]
        records["purchase_orders"] = [{"number": o.number, "issued_by": o.issued_by.upper(), "issued_on": _day(o.issued_on),
                                       "hours_per_week": o.hours_per_week} for o in _rows(session, PurchaseOrder, placement.id, PurchaseOrder.id)]
        records["key_information_documents"] = [{"sent_on": _day(k.sent_on), "sent_to": k.sent_to, "signed_by": k.signed_by,
                                                  "signed_on": _day(k.signed_on)}
                                                 for k in _rows(session, KeyInformationDocument, placement.id, KeyInformationDocument.id)]
    return records


# -- a placement's pack ------------------------------------------------------------------------------------------------

def _placement_of(session, user: User, instance_id: int) -> Placement:
    placement = session.scalar(select(Placement).where(Placement.instance_id == instance_id))
    if placement is None or not permissions.can(user, "evidence.placement", placement, session):
        raise NotFound(f"There is no placement {instance_id} whose evidence pack you can print.")
    return placement


def may_print_placement(core: Core, user: User, instance_id: int) -> bool:
    """Whether the placement page shows the pack's button to this person."""
    with core.db.session(readonly=True) as session:
        try:
            _placement_of(session, user, instance_id)
        except NotFound:
            return False
        return True


def placement_pack(core: Core, user: User, instance_id: int) -> dict:
    """Everything a placement's evidence pack prints, as this person may read it (404 for anyone else: families too)."""
    with core.db.session(readonly=True) as session:
        placement = _placement_of(session, user, instance_id)
        instance = session.get(Instance, instance_id)
        audience = disclosure.audience(user, instance)
        school = audience == disclosure.SCHOOL
        pupil = session.get(Pupil, placement.pupil_id)
        provider = session.get(Provider, placement.provider_id) if placement.provider_id else None
        referral = _referral_words(core, session, instance, placement)
        summary = [
            ("Pupil", f"{pupil.name} ({pupil.ref})"), ("Date of birth", _day(pupil.date_of_birth) or "Not recorded"),
            ("School", pupil.school or "Not recorded"), ("Provider", provider.name if provider else "Not chosen yet"),
            ("Status", _words(placement.status)),
            ("Type of placement", referral.get("placement_type") or _words(placement.placement_type)),
            ("Reasons for referral", ", ".join(referral.get("reasons") or [_words(r) for r in placement.reasons]) or "Not recorded"),
            ("Purpose", placement.purpose or "Not recorded"),
            ("Referred by", referral.get("referred_by") or _words(placement.referred_by)),
            ("Started", _day(placement.start_date) or "Not started"), ("Ended", _day(placement.end_date) or "Not ended"),
            ("Tutor", placement.tutor_name or "Not recorded"),
            ("LA officer", placement.la_officer_name or "None named"),
        ]
        if school:
            summary.append(("Usual register code", placement.attendance_code or "Not set"))
        result = {"kind": "placement", "title": f"Evidence pack: {pupil.name} ({pupil.ref})", "audience": audience,
                  "organisation": _organisation(session, user, instance.organisation_id), **_printed(user),
                  "placement_id": placement.id, "instance_id": instance_id, "pupil_id": pupil.id, "pupil_ref": pupil.ref,
                  "provider_id": placement.provider_id, "summary": summary,
                  "registers": _registers(session, placement), "lessons": _lessons(session, placement),
                  **_records(session, placement, school)}
    result["file"] = placement_file.placement_file(core, user, instance_id)  # the same answers the placement page shows them
    return result


# -- a provider's pack -------------------------------------------------------------------------------------------------

def may_print_provider(user: User) -> bool:
    return permissions.can(user, "evidence.provider")


def provider_pack(core: Core, user: User, provider_id: int) -> dict:
    """A provider's record and the placements with it that this person may see, each with its attendance, latest
    review and destination."""
    if not permissions.can(user, "evidence.provider"):
        raise NotFound(f"There is no provider {provider_id} that you can see.")
    record = placements.provider_record(core, user, provider_id)  # NotFound for a provider that does not exist
    with core.db.session(readonly=True) as session:
        rows = session.execute(select(Placement, Pupil).join(Pupil, Pupil.id == Placement.pupil_id)
                               .where(Placement.provider_id == provider_id).order_by(Placement.start_date, Placement.id)).all()
        seen = [(p, pupil) for p, pupil in rows if permissions.can(user, "placement.view", p, session)]
        ids = [p.id for p, _ in seen] or [-1]
        marks = defaultdict(list)
        for pid, code, status, reason, n in session.execute(
                select(RegisterMark.placement_id, RegisterMark.code, RegisterMark.status, RegisterMark.reason, func.count())
                .where(RegisterMark.placement_id.in_(ids), RegisterMark.status.is_not(None))
                .group_by(RegisterMark.placement_id, RegisterMark.code, RegisterMark.status, RegisterMark.reason)):
            marks[pid].append((code, status, reason, n))
        reviews = {}
        for pid, held_on, outcome in session.execute(select(Review.placement_id, Review.held_on, Review.outcome)
                                                     .where(Review.placement_id.in_(ids)).order_by(Review.held_on, Review.id)):
            reviews[pid] = {"held_on": _day(held_on), "outcome": _words(outcome)}
        destinations = {}
        for d in session.scalars(select(Destination).where(Destination.placement_id.in_(ids)).order_by(Destination.id)):
            destinations[d.placement_id] = {"kind": _words(d.kind), "setting": d.setting_name, "starts_on": _day(d.starts_on)}
        listed = [{"pupil": pupil.name, "ref": pupil.ref, "school": pupil.school, "status": _words(p.status),
                   "start_date": _day(p.start_date), "end_date": _day(p.end_date), "attendance": _attendance(marks.get(p.id, [])),
                   "last_review": reviews.get(p.id), "destination": destinations.get(p.id)} for p, pupil in seen]
        outcomes = Counter(d["kind"] for d in destinations.values())
        return {"kind": "provider", "title": f"Evidence pack: {record['name']}", "audience": "provider" if permissions.staff_roles(user) == {"provider"} else "school",
                "organisation": _organisation(session, user), **_printed(user), "provider_id": provider_id, "record": record,
                "placements": listed, "placements_total": len(rows), "destinations": dict(outcomes),
                "attendance": _attendance([m for pid in ids for m in marks.get(pid, [])]), "compliance": _compliance(core, user, provider_id)}


def _compliance(core: Core, user: User, provider_id: int) -> dict:
    """The compliance documents in force (R25) with their dates and state, and what is missing or has lapsed; for the
    people who may read them (apflow.services.compliance decides), else a note that they are left out."""
    try:
        seen = compliance.overview(core, user, provider_id)
    except NotFound:
        return {"shown": False, "note": COMPLIANCE_HIDDEN}
    return {"shown": True, "blocked": seen["blocked"], "block_words": seen["block_words"],
            "missing": [m["label"] for m in seen["missing"]],
            "in_force": [{"label": d["label"], "site": d["site_name"], "reference": d["reference"], "issued": d["issued_words"],
                          "expires": d["expires_words"], "state": d["state_words"]} for d in seen["in_force"]],
            "waiting": len(seen["waiting"])}


# -- the log of packs produced -----------------------------------------------------------------------------------------

def log_pack(core: Core, user: User, pack: dict, pages: int, size_bytes: int) -> None:
    """Keep who produced which pack, when, and how many pupils' records it disclosed (R111)."""
    placement = pack["kind"] == "placement"
    with core.db.session() as session:
        session.add(EvidencePack(kind=pack["kind"], placement_id=pack.get("placement_id") if placement else None,
                                 pupil_id=pack.get("pupil_id") if placement else None, provider_id=pack.get("provider_id"),
                                 pupils=1 if placement else len(pack["placements"]), audience=pack["audience"], produced_at=clock.now(),
                                 produced_by=user.id, produced_by_name=user.display_name or user.username, pages=pages, size_bytes=size_bytes))


def packs_produced(core: Core, user: User, instance_id: int | None = None, provider_id: int | None = None, limit: int = 10) -> list[dict]:
    """The latest packs produced of one placement (for its school's staff) or of one provider (for staff who are
    not a provider's): who, when, how many pages. Empty for anyone else."""
    with core.db.session(readonly=True) as session:
        query = select(EvidencePack)
        if instance_id is not None:
            placement = _placement_of(session, user, instance_id)
            if disclosure.audience(user, session.get(Instance, instance_id)) != disclosure.SCHOOL:
                return []
            query = query.where(EvidencePack.placement_id == placement.id)
        else:
            if not permissions.staff_roles(user) or permissions.staff_roles(user) == {"provider"}:
                return []
            query = query.where(EvidencePack.provider_id == provider_id, EvidencePack.kind == "provider")
        return [{"at": p.produced_at.isoformat(), "by": p.produced_by_name, "pages": p.pages, "audience": p.audience}
                for p in session.scalars(query.order_by(EvidencePack.produced_at.desc(), EvidencePack.id.desc()).limit(limit))]
