"""Placement queries for pages, the API and reports: list and search placements, one placement with its whole
history, a pupil's placements, the register of pupils (R11), the provider register (R22), and trends across
placements (R112). Every function checks the one permission rule. Where a pupil is (R62): services/whereabouts.py."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import func, or_, select

from apflow.engine.forms import Form
from apflow.errors import Invalid, NotFound
from apflow.placements import providers
from apflow.placements.common import now
from apflow.placements.models import (
    Assessment,
    Communication,
    Consent,
    Destination,
    KeyInformationDocument,
    LogEntry,
    Placement,
    PlacementExit,
    Plan,
    Provider,
    Pupil,
    PurchaseOrder,
    QaVisit,
    RegisterMark,
    Review,
    RiskAssessment,
    ServiceLevelAgreement,
    TimetableSession,
)
from apflow.store.models import HumanTask, Instance, User

from . import instances, permissions
from .core import Core

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ACTIVE = ("active", "ending")


def _summary(session, placement: Placement) -> dict:
    pupil = session.get(Pupil, placement.pupil_id)
    provider = session.get(Provider, placement.provider_id) if placement.provider_id else None
    return {"id": placement.id, "instance_id": placement.instance_id, "status": placement.status,
            "pupil": {"id": pupil.id, "name": pupil.name, "ref": pupil.ref, "school": pupil.school},
            "provider": {"id": provider.id, "name": provider.name} if provider else None,
            "reasons": placement.reasons, "referred_by": placement.referred_by,
            "placement_type": placement.placement_type, "purpose": placement.purpose,
            "start_date": placement.start_date.isoformat() if placement.start_date else None,
            "end_date": placement.end_date.isoformat() if placement.end_date else None,
            "created_at": placement.created_at.isoformat()}


def _visible(session, user: User, placements) -> list[Placement]:
    return [p for p in placements if permissions.can(user, "placement.view", p, session)]


def list_placements(core: Core, user: User, status: str | None = None, provider_id: int | None = None, search: str | None = None) -> list[dict]:
    """Placements this person may see, newest first; `search` matches the pupil's name or reference, or the provider."""
    with core.db.session(readonly=True) as session:
        query = select(Placement).join(Pupil, Pupil.id == Placement.pupil_id).outerjoin(Provider, Provider.id == Placement.provider_id)
        if status:
            query = query.where(Placement.status == status)
        if provider_id:
            query = query.where(Placement.provider_id == provider_id)
        if search:
            like = f"%{search.strip().lower()}%"
            query = query.where(or_(func.lower(Pupil.name).like(like), func.lower(Pupil.ref).like(like), func.lower(Provider.name).like(like)))
        placements = _visible(session, user, session.scalars(query.order_by(Placement.id.desc())))
        return [_summary(session, p) for p in placements]


def visible_placement(session, user: User, placement_id: int) -> Placement:
    """The placement, if this person may see it; else NotFound (which does not say whether it exists)."""
    placement = session.get(Placement, placement_id)
    if placement is None or not permissions.can(user, "placement.view", placement, session):
        raise NotFound(f"There is no placement {placement_id} that you can see.")
    return placement


def _rows(session, model, placement_id: int, order):
    return list(session.scalars(select(model).where(model.placement_id == placement_id).order_by(order)))


def _day(value):
    return value.isoformat() if value else None


def get_placement(core: Core, user: User, placement_id: int) -> dict:
    """Everything recorded about one placement (child-protection detail only through list_concerns)."""
    with core.db.session(readonly=True) as session:
        p = visible_placement(session, user, placement_id)
        result = _summary(session, p)
        result.update(
            la_officer={"name": p.la_officer_name, "role": p.la_officer_role}, learning_mentor=p.learning_mentor,
            tutor=p.tutor_name, mentor=p.mentor_name, transport=p.transport, equipment=p.equipment,
            approved_at=p.approved_at.isoformat() if p.approved_at else None, attendance_code=p.attendance_code,
            purchase_orders=[{"number": o.number, "issued_by": o.issued_by, "issued_on": _day(o.issued_on), "hours_per_week": o.hours_per_week,
                              "value": o.value_pence / 100 if o.value_pence is not None else None}
                             for o in _rows(session, PurchaseOrder, p.id, PurchaseOrder.id)],
            timetable=[{"day": WEEKDAYS[s.weekday], "starts": s.starts, "ends": s.ends, "activity": s.activity,
                        "venue": s.venue_kind, "address": s.address} for s in _rows(session, TimetableSession, p.id, TimetableSession.weekday)],
            plans=[{"kind": x.kind, "version": x.version, "content": x.content, "recorded_at": x.recorded_at.isoformat()}
                   for x in _rows(session, Plan, p.id, Plan.id)],
            risk_assessments=[{"kind": r.kind, "reason": r.reason, "overall_risk": r.overall_risk, "assessed_on": _day(r.assessed_on),
                               "content": r.content} for r in _rows(session, RiskAssessment, p.id, RiskAssessment.id)],
            consents=[{"given": c.given, "signed_name": c.signed_name, "signed_on": _day(c.signed_on), "consultation": c.consultation}
                      for c in _rows(session, Consent, p.id, Consent.id)],
            key_information_documents=[{"sent_on": _day(k.sent_on), "sent_to": k.sent_to, "signed_by": k.signed_by,
                                        "signed_on": _day(k.signed_on)} for k in _rows(session, KeyInformationDocument, p.id, KeyInformationDocument.id)],
            reviews=[{"kind": r.kind, "held_on": _day(r.held_on), "outcome": r.outcome, "content": r.content}
                     for r in _rows(session, Review, p.id, Review.held_on)],
            assessments=[{"kind": a.kind, "assessed_on": _day(a.assessed_on), "content": a.content}
                         for a in _rows(session, Assessment, p.id, Assessment.id)],
            attendance=[{"day": _day(m.day), "starts": m.starts, "ends": m.ends, "half": m.half, "status": m.status,
                         "minutes_late": m.minutes_late, "reason": m.reason, "code": m.code, "site": m.address,
                         "followed_up": m.followed_up_at is not None}  # the registers, one mark per session (issue 15)
                        for m in session.scalars(select(RegisterMark).where(RegisterMark.placement_id == p.id, RegisterMark.status.is_not(None))
                                                 .order_by(RegisterMark.day, RegisterMark.starts))],
            communications=[{"kind": c.kind, "audience": c.audience, "at": c.at.isoformat(), "content": c.content}
                            for c in _rows(session, Communication, p.id, Communication.id)],
            exits=[{"kind": e.kind, "started_on": _day(e.started_on), "notice_period_school_days": e.notice_period_school_days,
                    "ends_on": _day(e.ends_on), "content": e.content} for e in _rows(session, PlacementExit, p.id, PlacementExit.id)],
            destinations=[{"kind": d.kind, "setting": d.setting_name, "starts_on": _day(d.starts_on), "transition_support": d.transition_support,
                           "attends_unaided_on": _day(d.attends_unaided_on)} for d in _rows(session, Destination, p.id, Destination.id)],
        )
        return result


def any_placement(core: Core) -> bool:
    """Whether any placement has been recorded yet (the demo loads its work only into an empty organisation)."""
    with core.db.session(readonly=True) as session:
        return session.scalar(select(Placement.id).limit(1)) is not None


def placement_for_instance(core: Core, user: User, instance_id: int) -> dict | None:
    """The placement a workflow instance runs (for pages keyed by instance), or None."""
    with core.db.session(readonly=True) as session:
        placement_id = session.scalar(select(Placement.id).where(Placement.instance_id == instance_id))
    return get_placement(core, user, placement_id) if placement_id else None


def placement_history(core: Core, user: User, placement_id: int) -> list[dict]:
    """Who recorded what and when, oldest first; child-protection lines are withheld from people not entitled (R81)."""
    with core.db.session(readonly=True) as session:
        p = visible_placement(session, user, placement_id)
        cp = permissions.can(user, "cp.view", p.pupil_id, session)
        entries = session.scalars(select(LogEntry).where(LogEntry.placement_id == p.id).order_by(LogEntry.at, LogEntry.id))
        return [{"at": e.at.isoformat(), "actor": e.actor, "kind": e.kind, "task": e.task_name,
                 "summary": e.summary if (cp or not e.restricted) else "Child protection record (restricted)",
                 "record": e.record, "record_id": e.record_id, "restricted": e.restricted}
                for e in entries if cp or not e.restricted or e.kind != "cp_record_read"]


def pupil_placements(core: Core, user: User, pupil_ref: str) -> list[dict]:
    with core.db.session(readonly=True) as session:
        pupil = session.scalar(select(Pupil).where(Pupil.ref == pupil_ref))
        if pupil is None:
            return []
        placements = _visible(session, user, session.scalars(select(Placement).where(Placement.pupil_id == pupil.id).order_by(Placement.id)))
        return [_summary(session, p) for p in placements]


def pupil_register(core: Core, user: User) -> list[dict]:
    """The register of students (R11): every pupil with a placement, its status and its latest review date."""
    with core.db.session(readonly=True) as session:
        rows = []
        for placement in _visible(session, user, session.scalars(select(Placement).order_by(Placement.id))):
            last = session.scalar(select(func.max(Review.held_on)).where(Review.placement_id == placement.id))
            rows.append({**_summary(session, placement), "last_review_on": _day(last)})
        return rows


def provider_register(core: Core, user: User, include_all: bool = False) -> list[dict]:
    """The approved-provider register with every site's address (R22); include_all adds proposed and withdrawn ones.
    For staff: families see their child's provider on the placement, not the register."""
    if not permissions.staff_roles(user):
        raise NotFound("The provider register is for school, LA and provider staff.")
    with core.db.session(readonly=True) as session:
        return providers.register(session, include_all)


def _approval_forms(core: Core, session, provider: Provider):
    """A recorded part of the provider's approval as [{"label", "value"}], in the words of the form it was answered on
    (as deployed with the provider's approval process); keys in words where no such form is found."""
    forms = {}
    if provider.instance_id is not None:
        instance = session.get(Instance, provider.instance_id)
        for schema, ui in session.execute(select(HumanTask.form_schema, HumanTask.form_ui_schema).where(
                HumanTask.instance_id == provider.instance_id, HumanTask.state == "completed", HumanTask.form_schema.is_not(None))):
            forms[schema] = core.form(instance.version, schema, ui)

    def in_words(schema: str, record: dict | None) -> list[dict]:
        form = forms.get(schema) or Form({"type": "object", "properties": {key: {} for key in record or {}}})
        return [{"label": a["title"], "value": a["text"]} for a in form.readable(record or {})]
    return in_words


def provider_record(core: Core, user: User, provider_id: int) -> dict:
    """One provider's record (R22, R23, R30): sites, selection criteria, due diligence, the agreement in force and its
    notice period, every QA visit, and how many placements run there (counts only: pupils are on the caseload)."""
    if not permissions.staff_roles(user):
        raise NotFound(f"There is no provider {provider_id} that you can see.")
    with core.db.session(readonly=True) as session:
        [entry] = [e for e in providers.register(session, include_all=True) if e["id"] == provider_id] or [None]
        if entry is None:
            raise NotFound(f"There is no provider {provider_id} that you can see.")
        provider = session.get(Provider, provider_id)
        visits = session.scalars(select(QaVisit).where(QaVisit.provider_id == provider_id).order_by(QaVisit.visited_on.desc()))
        sla = session.get(ServiceLevelAgreement, entry["sla"]["id"]) if entry["sla"] else None
        running = Counter(session.scalars(select(Placement.status).where(Placement.provider_id == provider_id)))
        in_words = _approval_forms(core, session, provider)
        return {**entry,
                "criteria": in_words("provider_criteria.schema.json", provider.criteria),
                "due_diligence": in_words("due_diligence.schema.json", provider.due_diligence),
                "sla_contents": in_words("sla_draft.schema.json", sla.contents) if sla else [],
                "sla_starts_on": _day(sla.starts_on) if sla else None, "sla_review_on": _day(sla.review_on) if sla else None,
                "sla_signed_by": sla.signed_by if sla else None,
                "qa_visits": [{"on": _day(v.visited_on), "term": v.term, "quality": v.quality, "outcome": v.outcome,
                               "safeguarding_ok": v.findings.get("safeguarding_ok"), "findings": v.findings.get("qa_findings", ""),
                               "recorded_by": v.recorded_by} for v in visits],
                "placements": dict(running), "requires_rlp": provider.requires_rlp}


def request_review(core: Core, user: User, placement_id: int, reason: str) -> dict:
    """Ask for a placement and plan review outside the half-termly cycle (R73): a parent's or the pupil's request,
    changed needs, or an incident. The running placement starts a review due within five school days."""
    reason = (reason or "").strip()
    with core.db.session() as session:
        family = session.get(Placement, placement_id)  # a linked parent or carer asks from the family page (issue 15)
        if family is None or not permissions.can(user, "family.child", family.pupil_id, session):
            family = None
        placement = family or visible_placement(session, user, placement_id)  # first: say nothing to someone with no part in it
        if len(reason) < 5:
            message = "Say why the review is needed (at least 5 characters)."
            raise Invalid(message, {"fields": {"reason": [message]}})
        session.add(LogEntry(placement_id=placement.id, provider_id=placement.provider_id, instance_id=placement.instance_id,
                             at=now(), actor_id=user.id, actor=user.username, kind="review_requested",
                             summary=f"Review requested by {user.username}: {reason}"))
        instance_id = placement.instance_id
    if instance_id is None:
        return {"caught": False}
    return instances.send_signal(core, user, instance_id, "review_requested", {"reason": reason})

