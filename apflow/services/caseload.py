"""The caseload (R11, the register of pupils in AP): every placement this person may see, with its stage, its next
deadline and who holds it, so no pupil vanishes while their placement waits on a timer or another organisation."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select

from apflow.clock import clock
from apflow.placements.models import Placement, Provider, Pupil
from apflow.roles import role_title
from apflow.store.models import HumanTask, User

from . import permissions
from .core import Core
from .users import display_names

STATUS_WORDS = {"referred": "Referred", "planning": "Planning", "approved": "Approved", "active": "Running", "suspended": "Suspended",
                "ending": "Ending", "removed": "Removed", "ended": "Ended", "withdrawn": "Withdrawn", "declined": "Declined"}


@dataclass
class CaseloadQuery:
    search: str = ""
    status: str = ""
    provider: str = ""
    reason: str = ""
    overdue: bool = False

    @classmethod
    def from_args(cls, args) -> "CaseloadQuery":
        return cls(search=(args.get("search") or "").strip()[:100], status=(args.get("status") or "")[:30],
                   provider=(args.get("provider") or "")[:200], reason=(args.get("reason") or "")[:40], overdue=args.get("overdue") == "1")


def caseload(core: Core, user: User, query: CaseloadQuery) -> dict:
    now = clock.now()
    with core.db.session(readonly=True) as session:
        statement = (select(Placement, Pupil, Provider).join(Pupil, Pupil.id == Placement.pupil_id)
                     .outerjoin(Provider, Provider.id == Placement.provider_id).order_by(Pupil.name, Placement.id))
        if query.search:
            like = f"%{query.search.lower()}%"
            statement = statement.where(or_(func.lower(Pupil.name).like(like), func.lower(Pupil.ref).like(like)))
        if query.status:
            statement = statement.where(Placement.status == query.status)
        if query.provider:
            statement = statement.where(Provider.name == query.provider)
        found = [(p, pupil, provider) for p, pupil, provider in session.execute(statement)
                 if (not query.reason or query.reason in (p.reasons or [])) and permissions.can(user, "placement.view", p, session)]
        instance_ids = [p.instance_id for p, _, _ in found if p.instance_id]
        tasks: dict[int, list[HumanTask]] = {}
        if instance_ids:
            for task in session.scalars(select(HumanTask).where(HumanTask.instance_id.in_(instance_ids), HumanTask.state == "ready")
                                        .order_by(HumanTask.sort_due)):
                tasks.setdefault(task.instance_id, []).append(task)
        holders = display_names(session, {t.assignee_id for ts in tasks.values() for t in ts})
        rows = []
        for placement, pupil, provider in found:
            open_tasks = tasks.get(placement.instance_id, [])
            due = [t for t in open_tasks if t.due_at]
            next_task = due[0] if due else (open_tasks[0] if open_tasks else None)
            overdue = any(t.due_at < now for t in due)
            if query.overdue and not overdue:
                continue
            rows.append({
                "placement_id": placement.id, "instance_id": placement.instance_id, "pupil": pupil.name, "ref": pupil.ref,
                "provider": provider.name if provider else None, "status": placement.status,
                "status_words": STATUS_WORDS.get(placement.status, placement.status.replace("_", " ").capitalize()),
                "reasons": placement.reasons or [], "stage": [t.name for t in open_tasks],
                "next_task": next_task.name if next_task else None, "next_due": next_task.due_at if next_task else None,
                "holder": (holders.get(next_task.assignee_id) if next_task.assignee_id else f"{role_title(next_task.role or '')} role")
                if next_task else None,
                "overdue": overdue,
                "waiting": None if open_tasks else "No open task: waiting for a deadline or another organisation",
            })
        providers = sorted({provider.name for _, _, provider in found if provider})
        return {"rows": rows, "providers": providers, "statuses": sorted({p.status for p, _, _ in found}),
                "reasons": sorted({r for p, _, _ in found for r in (p.reasons or [])})}
