"""The LA officer's page (issue 15): the placements they commission (those where they are the named LA officer, who
holds the purchase-order and Key Information Document tasks, and those their local authority started), each with its
purchase orders; and what is due: their tasks and the reviews coming up, with links.

Every placement listed also passes the one permission rule ("placement.view"); nothing of child protection is read.
"""
from __future__ import annotations

from sqlalchemy import func, or_, select

from apflow.clock import UK, clock
from apflow.errors import NotFound
from apflow.placements.models import Communication, Placement, Provider, Pupil, PurchaseOrder
from apflow.store.models import HumanTask, Instance, Organisation, PendingTimer, User

from . import permissions
from .caseload import STATUS_WORDS
from .core import Core


def la_page(core: Core, user: User) -> dict:
    if "la_officer" not in permissions.staff_roles(user):
        raise NotFound("This page is for LA officers.")
    now = clock.now()
    with core.db.session(readonly=True) as session:
        named = set(session.scalars(select(HumanTask.instance_id).where(
            or_(HumanTask.assignee_id == user.id, HumanTask.completed_by == user.id)).distinct()))
        la_orgs = set(session.scalars(select(Organisation.id).where(Organisation.id.in_(user.organisation_ids or [-1]),
                                                                     Organisation.kind == "la")))
        commissioned = set(session.scalars(select(Instance.id).where(Instance.organisation_id.in_(la_orgs or [-1]))))
        found = [(p, pupil, provider) for p, pupil, provider in session.execute(
            select(Placement, Pupil, Provider).join(Pupil, Pupil.id == Placement.pupil_id)
            .outerjoin(Provider, Provider.id == Placement.provider_id)
            .where(Placement.instance_id.in_((named | commissioned) or {-1})).order_by(Pupil.name, Placement.id))
            if permissions.can(user, "placement.view", p, session)]
        ids = [p.id for p, _, _ in found] or [-1]
        orders: dict[int, list[dict]] = {}
        for o in session.scalars(select(PurchaseOrder).where(PurchaseOrder.placement_id.in_(ids)).order_by(PurchaseOrder.issued_on)):
            orders.setdefault(o.placement_id, []).append({"number": o.number, "issued_by": o.issued_by, "hours_per_week": o.hours_per_week,
                                                          "issued_on": o.issued_on.isoformat()})
        reviews = _reviews(session, [p for p, _, _ in found])
        placements = [{
            "placement_id": p.id, "instance_id": p.instance_id, "pupil": pupil.name, "ref": pupil.ref,
            "provider": provider.name if provider else None, "status": p.status,
            "status_words": STATUS_WORDS.get(p.status, p.status.replace("_", " ").capitalize()),
            "start_date": p.start_date.isoformat() if p.start_date else None,
            "why": "You are the named LA officer" if p.instance_id in named else "Commissioned by your local authority",
            "purchase_orders": orders.get(p.id, []), "reviews": reviews.get(p.id, [])} for p, pupil, provider in found]
        tasks = list(session.scalars(select(HumanTask).where(HumanTask.state == "ready", or_(
            HumanTask.assignee_id == user.id,
            (HumanTask.role == "la_officer") & HumanTask.assignee_id.is_(None) & HumanTask.instance_id.in_(
                [p.instance_id for p, _, _ in found if p.instance_id] or [-1]))).order_by(HumanTask.sort_due)))
        due = [{"id": t.id, "name": t.name, "pupil": t.pupil_name, "ref": t.pupil_ref, "instance_id": t.instance_id,
                "due_at": t.due_at.isoformat() if t.due_at else None, "overdue": bool(t.due_at and t.due_at < now)} for t in tasks]
        upcoming = sorted(({**r, "pupil": row["pupil"], "instance_id": row["instance_id"]} for row in placements for r in row["reviews"]),
                          key=lambda r: r["on"])
        return {"placements": placements, "tasks": due, "reviews": upcoming,
                "without_order": [row for row in placements if not row["purchase_orders"] and row["status"] in ("referred", "planning", "approved")]}


def _reviews(session, placements: list[Placement]) -> dict[int, list[dict]]:
    """Per placement: review meetings the LA is invited to from today, and the next half-termly review due."""
    today = clock.now().astimezone(UK).date().isoformat()
    found: dict[int, list[dict]] = {}
    by_instance = {p.instance_id: p.id for p in placements if p.instance_id}
    for c in session.scalars(select(Communication).where(Communication.placement_id.in_([p.id for p in placements] or [-1]),
                                                         Communication.kind == "review_invitation")):
        meeting = c.content.get("meeting_on")
        if meeting and meeting >= today and "la" in (c.content.get("invited") or []):
            found.setdefault(c.placement_id, []).append({"on": meeting, "what": "Review meeting (you are invited)"})
    for instance_id, due in session.execute(select(PendingTimer.instance_id, func.min(PendingTimer.due_at)).where(
            PendingTimer.instance_id.in_(list(by_instance) or [-1]), PendingTimer.spec_id == "Timer_half_term").group_by(PendingTimer.instance_id)):
        found.setdefault(by_instance[instance_id], []).append({"on": due.astimezone(UK).date().isoformat(), "what": "Next half-termly review starts"})
    for instance_id, due in session.execute(select(HumanTask.instance_id, func.min(HumanTask.due_at)).where(
            HumanTask.instance_id.in_(list(by_instance) or [-1]), HumanTask.state == "ready", HumanTask.name == "Hold the placement review",
            HumanTask.due_at.is_not(None)).group_by(HumanTask.instance_id)):
        found.setdefault(by_instance[instance_id], []).append({"on": due.astimezone(UK).date().isoformat(), "what": "Review to be held by"})
    return found
