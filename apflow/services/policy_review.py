"""The annual review of the AP policy and arrangements (R113: every year, February for Next Steps; R114: outcomes,
quality of provision, value for money, stakeholder feedback, emerging needs, changes in statutory guidance).

Each February the `start_policy_reviews` watch (services/watches.py) starts bpmn/annual_policy_review.bpmn once for
each school or LA (the process's start claims the organisation's year) and asks the school's staff for feedback. The
review page gathers the evidence (the last three governors' reports, this year's figures term by term, value for
money, the staff's, families' and providers' feedback); the headteacher records the outcome on the process's task.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from apflow.errors import Invalid, NotFound, ServiceError
from apflow.placements import outcomes as domain
from apflow.placements.common import now, today
from apflow.placements.models import Communication, EffectivenessReport, Placement, PolicyFeedback, PolicyReview, Pupil
from apflow.store import outbox
from apflow.store.models import HumanTask, Instance, Organisation, ProcessVersion, User

from . import governors, instances, permissions
from .core import Core

log = logging.getLogger(__name__)
PROCESS = "annual_policy_review"
REVIEW_MONTH = 2  # February (R113); March catches up a February the scheduler missed
FEEDBACK_ROLES = ("coordinator", "headteacher", "senco", "dsl", "deputy_dsl", "manager")
FAMILY_FEEDBACK = ("family_feedback", "parent_feedback")


# -- the watch ----------------------------------------------------------------------------------------------------

def start_policy_reviews(core: Core) -> int:
    """In February (or March, after a February missed), start this year's review for each school or LA that has none."""
    day = today()
    if day.month not in (REVIEW_MONTH, REVIEW_MONTH + 1):
        return 0
    with core.db.session(readonly=True) as session:
        if session.scalar(select(ProcessVersion.id).where(ProcessVersion.process_id == PROCESS).limit(1)) is None:
            return 0
        organisations = list(session.scalars(select(Organisation.id).where(Organisation.kind.in_(("school", "la"))).order_by(Organisation.id)))
        done = set(session.scalars(select(PolicyReview.scope).where(PolicyReview.year == day.year)))
    started = 0
    for org in organisations or [None]:
        if domain.scope_of(org) in done:
            continue
        try:
            result = instances.start_for(core, None, PROCESS, {"year": day.year}, org)
        except ServiceError as err:  # started meanwhile by another scheduler: its start was refused
            log.info("the %s policy review of organisation %s was not started: %s", day.year, org, err.message)
            continue
        started += 1
        _ask_for_feedback(core, result["id"], org, day.year)
    return started


def _ask_for_feedback(core: Core, instance_id: int, org: int | None, year: int) -> None:
    with core.db.session() as session:
        review = session.scalar(select(PolicyReview).where(PolicyReview.instance_id == instance_id))
        if review is None:
            return
        people = {u.id: u for role in FEEDBACK_ROLES for u in outbox.role_members(session, role, org)}
        outbox.notify(session, list(people.values()), "policy_review_feedback",
                      f"The {year} review of the alternative provision policy has begun: tell the headteacher what works and what "
                      "should change (two short questions).", subject="Your feedback on alternative provision",
                      link=f"/policy-reviews/{review.id}/feedback")


# -- the pages ----------------------------------------------------------------------------------------------------

def _visible(session, user: User, review_id: int) -> PolicyReview:
    review = session.get(PolicyReview, review_id)
    allowed = governors.scopes(user)
    if review is None or (allowed is not None and review.scope not in allowed):
        raise NotFound(f"There is no policy review {review_id} that you can see.")
    return review


def _summary(session, r: PolicyReview) -> dict:
    task = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == r.instance_id, HumanTask.state == "ready").limit(1)) \
        if r.instance_id else None
    return {"id": r.id, "year": r.year, "started_at": r.started_at.isoformat(), "instance_id": r.instance_id, "task_id": task,
            "outcome": r.outcome, "next_review_on": r.next_review_on.isoformat() if r.next_review_on else None,
            "completed_at": r.completed_at.isoformat() if r.completed_at else None, "completed_by": r.completed_by,
            "feedback_count": len(list(session.scalars(select(PolicyFeedback.id).where(PolicyFeedback.review_id == r.id))))}


def list_reviews(core: Core, user: User) -> list[dict]:
    if not permissions.can(user, "governors.report"):
        raise NotFound("There is no policy review you can see.")
    allowed = governors.scopes(user)
    with core.db.session(readonly=True) as session:
        query = select(PolicyReview).order_by(PolicyReview.year.desc(), PolicyReview.id.desc())
        if allowed is not None:
            query = query.where(PolicyReview.scope.in_(allowed))
        return [_summary(session, r) for r in session.scalars(query)]


def review_evidence(core: Core, user: User, review_id: int) -> dict:
    """Everything the review considers: the last three governors' reports, the year's figures by term, value for money,
    and the feedback of staff, families and providers (numbers and words; no pupil named, no child-protection detail)."""
    if not permissions.can(user, "governors.report"):
        raise NotFound(f"There is no policy review {review_id} that you can see.")
    with core.db.session(readonly=True) as session:
        review = _visible(session, user, review_id)
        since = review.started_at - timedelta(days=365)
        year_terms = [t for t in governors.terms(core) if t.end < review.started_at.date() and t.end >= since.date()][-3:]
        figures = [governors._figures(core, session, user, t) for t in year_terms]
        placement_ids = (select(Placement.id).join(Pupil, Pupil.id == Placement.pupil_id).outerjoin(Instance, Instance.id == Placement.instance_id)
                         .where(permissions.commissioned_by(user)).scalar_subquery())
        families = [{"at": c.at.isoformat(), "words": _words(c.content)} for c in session.scalars(
            select(Communication).where(Communication.placement_id.in_(placement_ids), Communication.kind.in_(FAMILY_FEEDBACK),
                                        Communication.at >= since, Communication.at <= review.started_at).order_by(Communication.at))]
        providers = [{"term": e.term, "what_worked": e.what_worked, "changes": e.changes} for e in session.scalars(
            select(EffectivenessReport).where(EffectivenessReport.placement_id.in_(placement_ids), EffectivenessReport.recorded_at >= since)
            .order_by(EffectivenessReport.recorded_at))]
        staff = [{"name": f.name, "audience": f.audience, "works_well": f.works_well, "to_change": f.to_change, "rating": f.rating,
                  "given_at": f.given_at.isoformat()} for f in session.scalars(
            select(PolicyFeedback).where(PolicyFeedback.review_id == review.id).order_by(PolicyFeedback.given_at))]
        return {"review": _summary(session, review), "reports": governors.latest_reports(session, review.organisation_id),
                "figures": figures, "value_for_money": _value_for_money(figures),
                "feedback": {"staff": staff, "families": families, "providers": providers},
                "may_give_feedback": permissions.can(user, "policy_review.feedback", review.organisation_id)}


def _words(content: dict) -> str:
    return " · ".join(str(v) for v in (content or {}).values() if isinstance(v, str) and v.strip() and v not in ("yes", "no"))[:2000]


def _value_for_money(figures: list[dict]) -> dict:
    """Commissioned hours against what they bought over the year: attendance, reintegration, sustained destinations,
    qualifications gained."""
    sessions = sum(f["attendance"]["sessions"] for f in figures)
    attended = sum(f["attendance"]["present"] + f["attendance"]["late"] for f in figures)
    return {"terms": [f["term"]["name"] for f in figures], "pupils": max((f["pupils"] for f in figures), default=0),
            "hours_per_week": max((f["cost"]["hours_per_week"] for f in figures), default=0),
            "attendance_percent": round(100 * attended / sessions, 1) if sessions else None,
            "reintegrated": sum(f["destinations"]["reintegrated"] for f in figures),
            "sustained": sum(f["destinations"]["sustained"] for f in figures),
            "qualifications_gained": sum(f["qualifications"]["gained"] for f in figures)}


def feedback_form(core: Core, user: User, review_id: int) -> dict:
    """What the feedback page shows: the review's year and this person's earlier answer, if any."""
    with core.db.session(readonly=True) as session:
        review = session.get(PolicyReview, review_id)
        if review is None or not permissions.can(user, "policy_review.feedback", review.organisation_id):
            raise NotFound(f"There is no policy review {review_id} that you can see.")
        mine = session.scalar(select(PolicyFeedback).where(PolicyFeedback.review_id == review.id, PolicyFeedback.user_id == user.id))
        return {"id": review.id, "year": review.year, "closed": review.completed_at is not None,
                "mine": None if mine is None else {"works_well": mine.works_well, "to_change": mine.to_change, "rating": mine.rating}}


def give_feedback(core: Core, user: User, review_id: int, works_well: str, to_change: str, rating) -> dict:
    """A member of staff's feedback (R114): what works, what should change, a rating. Sending again replaces it."""
    works_well, to_change = (works_well or "").strip(), (to_change or "").strip()
    errors: dict[str, list[str]] = {}
    if not works_well and not to_change:
        errors["works_well"] = ["Say what works well, what should change, or both."]
    for field, text in (("works_well", works_well), ("to_change", to_change)):
        if len(text) > 4000:
            errors[field] = ["Keep it under 4,000 characters."]
    try:
        score = int(rating) if rating not in (None, "") else None
    except (TypeError, ValueError):
        score = 0
    if score is not None and not 1 <= score <= 5:
        errors["rating"] = ["Choose a rating from 1 (poor) to 5 (excellent), or leave it blank."]
    with core.db.session() as session:
        review = session.get(PolicyReview, review_id)
        if review is None or not permissions.can(user, "policy_review.feedback", review.organisation_id):
            raise NotFound(f"There is no policy review {review_id} that you can see.")
        if errors:
            raise Invalid("Your feedback was not sent: " + " ".join(m[0] for m in errors.values()), {"fields": errors})
        if review.completed_at is not None:
            raise Invalid(f"The {review.year} review was completed on {review.completed_at.date()}; feedback now goes to next year's.")
        row = session.scalar(select(PolicyFeedback).where(PolicyFeedback.review_id == review.id, PolicyFeedback.user_id == user.id))
        if row is None:
            row = PolicyFeedback(review_id=review.id, user_id=user.id, name=user.display_name or user.username, given_at=now(),
                                 audience="provider" if "provider" in permissions.staff_roles(user) else "staff")
            session.add(row)
        row.works_well, row.to_change, row.rating, row.given_at = works_well, to_change, score, now()
        session.flush()
        return {"id": row.id, "review_id": review.id, "works_well": works_well, "to_change": to_change, "rating": score}
