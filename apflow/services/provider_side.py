"""The provider's own side of the policy, as use cases for its staff and the commissioning school:

- R12: the provider's admission criteria, the referrals waiting for its decision (with what it needs to decide: reasons
  and needs, never child-protection detail), and the decision itself (the workflow's 'Decide on the referral' task);
- R14: its quality check (sign-off) of each Relational Learning Plan and Pupil Passport by someone other than the author,
  and its termly report to the commissioning school on how well the provision works;
- R24: telling the commissioning school of an arrangement that may put a child at risk, for one pupil or several at
  once; each notice starts a re-check at the pupil's own commissioning school (bpmn/arrangement_change.bpmn).
"""
from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy import select

from apflow.errors import Forbidden, Invalid, NotFound
from apflow.placements import provider_side as side
from apflow.placements.common import now, today
from apflow.placements.models import (
    AdmissionCriteria,
    ArrangementNotice,
    EffectivenessReport,
    LogEntry,
    Placement,
    Plan,
    PlanSignoff,
    Provider,
    Pupil,
    ReferralDecision,
    Review,
)
from apflow.store import outbox
from apflow.store.models import HumanTask, Instance, Organisation, User

from . import instances, permissions
from .core import Core
from .placements import visible_placement

DECISION_FORM = "referral_decision.schema.json"
RECHECK_FORM = "arrangement_recheck.schema.json"
RECHECK_PROCESS = "arrangement_change"
NOT_RUNNING = ("ended", "closed", "not_placed", "removed")
MAX_PLACEMENTS_PER_NOTICE = 500


# -- who the provider is ------------------------------------------------------------------------------------------

def _my_provider_ids(session, user: User) -> set[int] | None:
    """The providers this person works for (their provider organisations, matched by name); none for someone in no
    organisation (issue 17)."""
    orgs = user.organisation_ids
    if not orgs:
        return set()
    names = select(Organisation.name).where(Organisation.id.in_(orgs), Organisation.kind == "provider")
    return set(session.scalars(select(Provider.id).where(Provider.name.in_(names))))


def my_providers(core: Core, user: User) -> list[dict]:
    with core.db.session(readonly=True) as session:
        if "provider" not in permissions.staff_roles(user):
            return []
        ids = _my_provider_ids(session, user)
        query = select(Provider).order_by(Provider.name)
        if ids is not None:
            query = query.where(Provider.id.in_(ids))
        return [{"id": p.id, "name": p.name} for p in session.scalars(query)]


def _provider_staff(session, provider: Provider) -> list[User]:
    """Active provider staff of this provider (nobody when the provider has no organisation of its name: issue 17)."""
    org = session.scalar(select(Organisation.id).where(Organisation.name == provider.name, Organisation.kind == "provider"))
    return outbox.role_members(session, "provider", org)


def _acting_placement(session, user: User, placement_id: int) -> Placement:
    """A placement this person sees (else NotFound, saying nothing) and acts on for its provider (else Forbidden)."""
    placement = visible_placement(session, user, placement_id)
    if not permissions.can(user, "provider.act", placement, session):
        raise Forbidden("Only the staff of the provider delivering this placement can do this.")
    return placement


def _readable_placement(session, user: User, placement_id: int) -> Placement:
    placement = visible_placement(session, user, placement_id)
    if not permissions.can(user, "provider.read", placement, session):
        raise NotFound(f"There is no placement {placement_id} that you can see.")
    return placement


def _log(session, user: User, placement: Placement, kind: str, summary: str, record=None) -> None:
    session.flush()
    session.add(LogEntry(placement_id=placement.id, provider_id=placement.provider_id, instance_id=placement.instance_id, at=now(),
                         actor_id=user.id, actor=user.username, kind=kind, summary=summary[:2000],
                         record=getattr(record, "__tablename__", None), record_id=getattr(record, "id", None)))


def _when(moment) -> str | None:
    return moment.isoformat() if moment else None


# -- R12: admission criteria and the decision on each referral ----------------------------------------------------

def _criteria_dict(criteria: AdmissionCriteria | None) -> dict:
    if criteria is None:
        return {"recorded": False, "reasons": [], "reason_labels": [], "age_from": None, "age_to": None, "notes": "", "updated_at": None, "updated_by": None}
    return {"recorded": True, "reasons": list(criteria.reasons), "reason_labels": [side.REASONS.get(r, r) for r in criteria.reasons],
            "age_from": criteria.age_from, "age_to": criteria.age_to,
            "notes": criteria.notes, "updated_at": _when(criteria.updated_at), "updated_by": criteria.updated_by}


def admission_criteria(core: Core, user: User, provider_id: int) -> dict:
    """A provider's admission criteria: for staff (the school choosing a provider reads them too), never families."""
    with core.db.session(readonly=True) as session:
        provider = session.get(Provider, provider_id)
        if provider is None or not permissions.staff_roles(user):
            raise NotFound(f"There is no provider {provider_id} that you can see.")
        return {"provider": {"id": provider.id, "name": provider.name}, "criteria": _criteria_dict(side.criteria_of(session, provider.id)),
                "may_edit": _may_edit_criteria(session, user, provider)}


def _may_edit_criteria(session, user: User, provider: Provider) -> bool:
    ids = _my_provider_ids(session, user)
    return "provider" in permissions.staff_roles(user) and (ids is None or provider.id in ids)


def save_admission_criteria(core: Core, user: User, provider_id: int, reasons, age_from=None, age_to=None, notes: str = "") -> dict:
    """The provider's own staff set its admission criteria (R12): the referral reasons it accepts, ages, other notes."""
    with core.db.session() as session:
        provider = session.get(Provider, provider_id)
        if provider is None or not permissions.staff_roles(user):
            raise NotFound(f"There is no provider {provider_id} that you can see.")
        if not _may_edit_criteria(session, user, provider):
            raise Forbidden("Only the provider's own staff can set its admission criteria.")
        errors = {}
        chosen = [r for r in (reasons if isinstance(reasons, list) else []) if r in side.REASONS]
        if not chosen or len(chosen) != len(reasons or []):
            errors["reasons"] = ["Tick at least one kind of referral you accept."]
        ages = {}
        for key, value in (("age_from", age_from), ("age_to", age_to)):
            if value in (None, ""):
                ages[key] = None
                continue
            try:
                ages[key] = int(value)
            except (TypeError, ValueError):
                errors[key] = ["Give an age in whole years, like 11."]
                continue
            if not 4 <= ages[key] <= 25:
                errors[key] = ["Give an age between 4 and 25."]
        if not errors and ages.get("age_from") is not None and ages.get("age_to") is not None and ages["age_from"] > ages["age_to"]:
            errors["age_to"] = ["The oldest age must not be below the youngest."]
        notes = str(notes or "").strip()
        if len(notes) > 4000:
            errors["notes"] = ["Keep the notes under 4,000 characters."]
        if errors:
            raise Invalid("Some admission criteria need correcting; nothing was saved.", {"fields": errors})
        criteria = side.criteria_of(session, provider.id)
        if criteria is None:
            criteria = AdmissionCriteria(provider_id=provider.id)
            session.add(criteria)
        criteria.reasons, criteria.age_from, criteria.age_to, criteria.notes = chosen, ages["age_from"], ages["age_to"], notes
        criteria.updated_at, criteria.updated_by = now(), user.display_name or user.username
        session.flush()
        session.add(LogEntry(provider_id=provider.id, at=now(), actor_id=user.id, actor=user.username, kind="admission_criteria",
                             summary="Admission criteria set: " + ", ".join(side.REASONS[r] for r in chosen),
                             record=criteria.__tablename__, record_id=criteria.id))
        return _criteria_dict(criteria)


def _decision_dict(decision: ReferralDecision, providers: dict[int, str]) -> dict:
    return {"id": decision.id, "provider": providers.get(decision.provider_id, ""), "decision": decision.decision,
            "reason": decision.reason, "criteria_met": decision.criteria_met, "decided_at": _when(decision.decided_at),
            "decided_by": decision.decided_by_name}


def _decisions(session, placement_id: int) -> list[dict]:
    rows = list(session.scalars(select(ReferralDecision).where(ReferralDecision.placement_id == placement_id).order_by(ReferralDecision.id)))
    names = dict(session.execute(select(Provider.id, Provider.name).where(Provider.id.in_({r.provider_id for r in rows}))).all()) if rows else {}
    return [_decision_dict(r, names) for r in rows]


def _referral(session, placement: Placement) -> dict:
    """What a provider reads to decide on a referral: who, the reasons and needs; never child-protection detail."""
    pupil = session.get(Pupil, placement.pupil_id)
    provider = session.get(Provider, placement.provider_id) if placement.provider_id else None
    age = side.pupil_age(pupil, today())
    criteria = side.criteria_of(session, placement.provider_id)
    match = side.criteria_matches(criteria, placement, age)
    match["outside_labels"] = [side.REASONS.get(r, r) for r in match["reasons_outside"]]
    return {"placement_id": placement.id, "instance_id": placement.instance_id, "status": placement.status,
            "pupil": {"name": pupil.name, "ref": pupil.ref, "age": age, "school": pupil.school, "ehcp": pupil.ehcp},
            "provider": {"id": provider.id, "name": provider.name} if provider else None,
            "referred_by": placement.referred_by, "reasons": list(placement.reasons),
            "reason_labels": [side.REASONS.get(r, r) for r in placement.reasons], "reason_details": placement.reason_details,
            "placement_type": placement.placement_type, "purpose": placement.purpose, "learning_mentor": placement.learning_mentor,
            "criteria": _criteria_dict(criteria), "match": match}


def _decision_task(session, placement: Placement) -> HumanTask | None:
    if placement.instance_id is None:
        return None
    return session.scalar(select(HumanTask).where(HumanTask.instance_id == placement.instance_id, HumanTask.state == "ready",
                                                  HumanTask.form_schema == DECISION_FORM).limit(1))


def referrals_to_decide(core: Core, user: User) -> list[dict]:
    """The referrals waiting for this person's provider to decide on (R12), oldest first."""
    with core.db.session(readonly=True) as session:
        if "provider" not in permissions.staff_roles(user):
            return []
        tasks = session.scalars(select(HumanTask).where(HumanTask.state == "ready", HumanTask.form_schema == DECISION_FORM,
                                                        permissions.visible_task_filter(user)).order_by(HumanTask.created_at))
        result = []
        for task in tasks:
            placement = session.scalar(select(Placement).where(Placement.instance_id == task.instance_id))
            if placement is None or not permissions.can(user, "provider.act", placement, session):
                continue
            result.append({**_referral(session, placement), "task_id": task.id, "due_at": _when(task.due_at)})
        return result


def referral(core: Core, user: User, placement_id: int) -> dict:
    """One referral as the provider decides on it: the referral, its admission criteria beside it, the decisions so far,
    and the waiting decision task if this person may complete it."""
    with core.db.session(readonly=True) as session:
        placement = _readable_placement(session, user, placement_id)
        task = _decision_task(session, placement)
        may_decide = task is not None and permissions.can(user, "task.complete", task, session) and \
            permissions.can(user, "provider.act", placement, session)
        return {**_referral(session, placement), "decisions": _decisions(session, placement.id),
                "task_id": task.id if task is not None and may_decide else None, "waiting": task is not None}


def decide(core: Core, user: User, placement_id: int, decision: str, reason: str, criteria_met) -> dict:
    """The provider's decision on a referral, through the placement's 'Decide on the referral' task (so the workflow
    goes on: to planning when accepted, back to the coordinator to choose again when declined)."""
    with core.db.session(readonly=True) as session:
        placement = _acting_placement(session, user, placement_id)
        task = _decision_task(session, placement)
        if task is None:
            raise Invalid("This referral is not waiting for a decision: it was decided already, or another provider was chosen.")
        task_id = task.id
    if decision not in ("accept", "decline"):
        raise Invalid("Choose to accept or decline the referral.", {"fields": {"referral_decision": ["Choose accept or decline."]}})
    answers = {"referral_decision": decision, "decision_reason": str(reason or "").strip(),
               "criteria_met": [str(c) for c in (criteria_met if isinstance(criteria_met, list) else [])]}
    instances.complete_task(core, user, task_id, answers)
    return referral(core, user, placement_id) if decision == "accept" else {"placement_id": placement_id, "decision": "declined"}


# -- R14: quality checks of plans and termly effectiveness reports -----------------------------------------------

def _plan_dict(session, plan: Plan, names: dict | None = None) -> dict:
    signoff = side.signoff_of(session, plan.id)
    return {"id": plan.id, "placement_id": plan.placement_id, "kind": plan.kind, "title": side.PLAN_KINDS.get(plan.kind, plan.kind),
            "version": plan.version, "written_by": plan.recorded_by, "written_at": _when(plan.recorded_at),
            "signoff": None if signoff is None else {"by": signoff.signed_by_name, "at": _when(signoff.signed_at), "checks": signoff.checks,
                                                     "check_labels": [side.PLAN_CHECKS.get(c, c) for c in signoff.checks],
                                                     "comments": signoff.comments}}


def plans_to_check(core: Core, user: User) -> list[dict]:
    """The latest plans of this person's provider's placements with no quality check yet (R14), and who may not sign."""
    with core.db.session(readonly=True) as session:
        if "provider" not in permissions.staff_roles(user):
            return []
        ids = _my_provider_ids(session, user)
        query = select(Placement).where(Placement.provider_id.is_not(None), Placement.status.not_in(NOT_RUNNING))
        if ids is not None:
            query = query.where(Placement.provider_id.in_(ids))
        result = []
        for placement in session.scalars(query.order_by(Placement.id)):
            if not permissions.can(user, "provider.act", placement, session):
                continue
            pupil = session.get(Pupil, placement.pupil_id)
            for plan in side.latest_plans(session, placement.id):
                if side.signoff_of(session, plan.id) is None:
                    result.append({**_plan_dict(session, plan), "pupil": {"name": pupil.name, "ref": pupil.ref},
                                   "instance_id": placement.instance_id, "mine": plan.recorded_by == user.username})
        return result


def plan_for_signoff(core: Core, user: User, plan_id: int) -> dict:
    with core.db.session(readonly=True) as session:
        plan = session.get(Plan, plan_id)
        if plan is None or plan.kind not in side.PLAN_KINDS:
            raise NotFound(f"There is no plan {plan_id} that you can see.")
        placement = _readable_placement(session, user, plan.placement_id)
        pupil = session.get(Pupil, placement.pupil_id)
        return {**_plan_dict(session, plan), "content": plan.content, "pupil": {"name": pupil.name, "ref": pupil.ref},
                "instance_id": placement.instance_id, "may_sign": permissions.can(user, "provider.act", placement, session),
                "author_may_sign": _author_may_sign(session, placement)}


def _author_may_sign(session, placement: Placement) -> bool:
    """Where the provider has only one member of staff, they check their own plan; otherwise someone else must."""
    provider = session.get(Provider, placement.provider_id)
    return len(_provider_staff(session, provider)) <= 1


def sign_off(core: Core, user: User, plan_id: int, checks, comments: str = "") -> dict:
    """The provider's quality check of one plan version (R14): what was checked and any comments, by a member of its
    staff other than the author wherever it has more than one. Sent twice, the first sign-off stands."""
    with core.db.session() as session:
        plan = session.get(Plan, plan_id)
        if plan is None or plan.kind not in side.PLAN_KINDS:
            raise NotFound(f"There is no plan {plan_id} that you can see.")
        placement = _readable_placement(session, user, plan.placement_id)
        if not permissions.can(user, "provider.act", placement, session):
            raise Forbidden("Only the staff of the provider delivering this placement can quality-check its plans.")
        existing = side.signoff_of(session, plan.id)
        if existing is not None:
            if existing.signed_by == user.id:
                return _plan_dict(session, plan)
            raise Invalid(f"This plan was already signed off by {existing.signed_by_name}.")
        if plan.recorded_by == user.username and not _author_may_sign(session, placement):
            raise Forbidden("You wrote this plan, so a colleague checks it: ask another member of your staff to sign it off.")
        chosen = [c for c in (checks if isinstance(checks, list) else []) if c in side.PLAN_CHECKS]
        if not chosen:
            raise Invalid("Tick what you checked before signing the plan off.", {"fields": {"checks": ["Tick at least one check."]}})
        comments = str(comments or "").strip()
        if len(comments) > 4000:
            raise Invalid("Keep the comments under 4,000 characters.", {"fields": {"comments": ["Too long."]}})
        signoff = PlanSignoff(plan_id=plan.id, placement_id=placement.id, checks=chosen, comments=comments, signed_at=now(),
                              signed_by=user.id, signed_by_name=user.display_name or user.username)
        session.add(signoff)
        _log(session, user, placement, "plan_signoff", f"{side.PLAN_KINDS[plan.kind]} version {plan.version} quality-checked and "
             f"signed off by {signoff.signed_by_name}", signoff)
        return _plan_dict(session, plan)


def _term_now(core: Core) -> str:
    """The name of the term today is in (or the last one that began): reports are termly."""
    day = today()
    try:
        terms = core.calendar().terms
    except Exception:  # noqa: BLE001 - no calendar loaded: the school year stands in for the term
        terms = ()
    current = [t for t in terms if t.start <= day]
    if current:
        return current[-1].name
    return f"School year {day.year if day.month >= 9 else day.year - 1}-{(day.year + 1 if day.month >= 9 else day.year) % 100:02d}"


def _targets(session, placement: Placement) -> list[str]:
    """The targets set at the commencement review (R9), the ones the provider reports on."""
    reviews = session.scalars(select(Review).where(Review.placement_id == placement.id, Review.kind == "commencement").order_by(Review.id.desc()))
    for review in reviews:
        targets = (review.content or {}).get("targets") or []
        if targets:
            return [str(t) for t in targets]
    return []


def _report_dict(report: EffectivenessReport) -> dict:
    return {"id": report.id, "term": report.term, "targets": report.targets, "what_worked": report.what_worked, "changes": report.changes,
            "recorded_at": _when(report.recorded_at), "recorded_by": report.recorded_by_name,
            "met": sum(1 for t in report.targets if t.get("status") == "met"),
            "partly": sum(1 for t in report.targets if t.get("status") == "partly"),
            "not_met": sum(1 for t in report.targets if t.get("status") == "not_met")}


def effectiveness_form(core: Core, user: User, placement_id: int) -> dict:
    with core.db.session(readonly=True) as session:
        placement = _acting_placement(session, user, placement_id)
        pupil = session.get(Pupil, placement.pupil_id)
        term = _term_now(core)
        existing = session.scalar(select(EffectivenessReport).where(EffectivenessReport.placement_id == placement.id,
                                                                    EffectivenessReport.term == term))
        return {"placement_id": placement.id, "instance_id": placement.instance_id, "pupil": {"name": pupil.name, "ref": pupil.ref},
                "term": term, "targets": _targets(session, placement), "existing": _report_dict(existing) if existing else None}


def report_effectiveness(core: Core, user: User, placement_id: int, statuses, what_worked: str, changes: str,
                         extra_targets=None) -> dict:
    """The provider's termly report to the commissioning school (R14): each target met, partly met or not, what worked,
    what it will change. One report a term per placement; sending it again this term replaces it."""
    with core.db.session() as session:
        placement = _acting_placement(session, user, placement_id)
        targets = _targets(session, placement) + [str(t).strip() for t in (extra_targets or []) if str(t).strip()]
        statuses = statuses if isinstance(statuses, dict) else {}
        errors = {}
        rows = []
        for n, target in enumerate(targets):
            status = statuses.get(target) or statuses.get(str(n))
            if status not in side.TARGET_STATUS:
                errors[f"target_{n}"] = ["Say whether this target was met, partly met or not met."]
            rows.append({"target": target[:500], "status": status})
        if not targets:
            errors["targets"] = ["There are no targets to report on yet: they are set at the commencement review."]
        what_worked, changes = str(what_worked or "").strip(), str(changes or "").strip()
        if len(what_worked) < 10:
            errors["what_worked"] = ["Say what worked (at least 10 characters)."]
        if len(changes) < 3:
            errors["changes"] = ["Say what you will change, or 'none'."]
        if len(what_worked) > 4000 or len(changes) > 4000:
            errors["what_worked" if len(what_worked) > 4000 else "changes"] = ["Keep it under 4,000 characters."]
        if errors:
            raise Invalid("The report needs correcting; nothing was saved.", {"fields": errors})
        term = _term_now(core)
        report = session.scalar(select(EffectivenessReport).where(EffectivenessReport.placement_id == placement.id,
                                                                  EffectivenessReport.term == term))
        if report is None:
            report = EffectivenessReport(placement_id=placement.id, provider_id=placement.provider_id, term=term)
            session.add(report)
        report.targets, report.what_worked, report.changes = rows, what_worked, changes
        report.recorded_at, report.recorded_by, report.recorded_by_name = now(), user.id, user.display_name or user.username
        met = sum(1 for r in rows if r["status"] == "met")
        _log(session, user, placement, "effectiveness_report", f"Provider's report for {term}: {met} of {len(rows)} target(s) met", report)
        return _report_dict(report)


# -- R24: telling the school of changed arrangements ----------------------------------------------------------

def _notice_dict(notice: ArrangementNotice) -> dict:
    return {"id": notice.id, "placement_id": notice.placement_id, "batch": notice.batch, "kind": notice.kind,
            "kind_label": side.ARRANGEMENTS.get(notice.kind, notice.kind), "summary": notice.summary,
            "effective_on": notice.effective_on.isoformat(), "adult_name": notice.adult_name, "checks_confirmed": notice.checks_confirmed,
            "reported_at": _when(notice.reported_at), "reported_by": notice.reported_by_name, "recheck_instance_id": notice.instance_id,
            "outcome": notice.outcome or None, "outcome_label": side.RECHECK_OUTCOMES.get(notice.outcome) if notice.outcome else None,
            "outcome_notes": notice.outcome_notes, "outcome_at": _when(notice.outcome_at), "outcome_by": notice.outcome_by_name or None}


def placements_to_tell(core: Core, user: User) -> list[dict]:
    """The placements this person's provider delivers now (or is about to), to choose whose school to tell."""
    with core.db.session(readonly=True) as session:
        if "provider" not in permissions.staff_roles(user):
            return []
        ids = _my_provider_ids(session, user)
        query = select(Placement, Pupil).join(Pupil, Pupil.id == Placement.pupil_id).where(
            Placement.provider_id.is_not(None), Placement.status.in_(("approved", "commissioned", "active", "suspended", "ending")))
        if ids is not None:
            query = query.where(Placement.provider_id.in_(ids))
        return [{"placement_id": p.id, "instance_id": p.instance_id, "pupil": {"name": pupil.name, "ref": pupil.ref},
                 "school": pupil.school, "status": p.status}
                for p, pupil in session.execute(query.order_by(Pupil.name, Placement.id))
                if permissions.can(user, "provider.act", p, session)]


def tell_the_school(core: Core, user: User, placement_ids, kind: str, summary: str, effective_on, adult_name: str = "",
                    checks_confirmed: bool = False) -> dict:
    """The provider tells the commissioning school of an arrangement that may put a child at risk (R24): one notice per
    pupil, each starting a re-check at that pupil's commissioning school only (its coordinator is alerted in the app and
    by e-mail, and the task escalates if not done in time). Several pupils at once (one staff change affecting them all)
    make several notices: no school hears of another's pupil."""
    if "provider" not in permissions.staff_roles(user):
        raise Forbidden("Only a provider's staff tell a school of changed arrangements.")
    ids = []
    for value in placement_ids if isinstance(placement_ids, list) else []:
        try:
            ids.append(int(value))
        except (TypeError, ValueError):
            raise Invalid("Choose the pupils from the list.", {"fields": {"placement_ids": ["Not a placement."]}}) from None
    ids = list(dict.fromkeys(ids))
    errors = {}
    if not ids:
        errors["placement_ids"] = ["Choose at least one pupil whose school must be told."]
    if len(ids) > MAX_PLACEMENTS_PER_NOTICE:
        errors["placement_ids"] = [f"Tell at most {MAX_PLACEMENTS_PER_NOTICE} schools at once."]
    if kind not in side.ARRANGEMENTS:
        errors["kind"] = ["Choose what changed."]
    summary = str(summary or "").strip()
    if len(summary) < 10:
        errors["summary"] = ["Say what changed and how it affects the pupil (at least 10 characters)."]
    elif len(summary) > 4000:
        errors["summary"] = ["Keep it under 4,000 characters."]
    day = None
    try:
        day = effective_on if isinstance(effective_on, date) else date.fromisoformat(str(effective_on or ""))
    except ValueError:
        errors["effective_on"] = ["Give the date the change starts, like 2026-01-12."]
    adult_name = str(adult_name or "").strip()[:200]
    if kind in ("staff_change", "new_adult") and not adult_name:
        errors["adult_name"] = ["Name the new member of staff or adult working with the pupil."]
    if errors:
        raise Invalid("The notice needs correcting; nothing was sent.", {"fields": errors})
    batch = secrets.token_hex(8)
    starts = []
    with core.db.session() as session:
        for placement_id in ids:
            placement = _acting_placement(session, user, placement_id)
            instance = session.get(Instance, placement.instance_id) if placement.instance_id else None
            pupil = session.get(Pupil, placement.pupil_id)
            provider = session.get(Provider, placement.provider_id)
            notice = ArrangementNotice(placement_id=placement.id, provider_id=provider.id, batch=batch, kind=kind, summary=summary,
                                       effective_on=day, adult_name=adult_name, checks_confirmed=bool(checks_confirmed),
                                       reported_at=now(), reported_by=user.id, reported_by_name=user.display_name or user.username)
            session.add(notice)
            _log(session, user, placement, "arrangement_notice", f"{provider.name} told the school of {side.ARRANGEMENTS[kind].lower()} "
                 f"from {day.isoformat()}: {summary}", notice)
            starts.append((notice.id, instance.organisation_id if instance else pupil.organisation_id, {
                "notice_id": notice.id, "placement_id": placement.id, "pupil_id": pupil.id, "pupil_name": pupil.name,
                "pupil_ref": pupil.ref, "provider_name": provider.name, "arrangement": side.ARRANGEMENTS[kind],
                "arrangement_summary": summary, "effective_on": day.isoformat(), "adult_name": adult_name,
                "checks_confirmed": bool(checks_confirmed)}))
    # each re-check is a process of its own, started once the notices are safely recorded
    started = []
    for notice_id, organisation_id, data in starts:
        instance_id = instances.start_for(core, user, RECHECK_PROCESS, data, organisation_id)["id"]
        with core.db.session() as session:
            session.get(ArrangementNotice, notice_id).instance_id = instance_id
        started.append({"notice_id": notice_id, "placement_id": data["placement_id"], "recheck_instance_id": instance_id})
    return {"batch": batch, "notices": started}


def notice_for_task(core: Core, user: User, task_id: str) -> dict | None:
    """What a task page shows beside the form: the provider's notice for a re-check, or the referral and admission
    criteria for the provider's decision. None for other tasks or people who may not see the task."""
    with core.db.session(readonly=True) as session:
        task = session.get(HumanTask, str(task_id))
        if task is None or not permissions.can(user, "task.view", task, session):
            return None
        if task.form_schema == RECHECK_FORM:
            notice = session.scalar(select(ArrangementNotice).where(ArrangementNotice.instance_id == task.instance_id))
            return {"notice": _notice_dict(notice)} if notice else None
        if task.form_schema == DECISION_FORM:
            placement = session.scalar(select(Placement).where(Placement.instance_id == task.instance_id))
            return {"referral": _referral(session, placement), "decisions": _decisions(session, placement.id)} if placement else None
        return None


# -- what the school reads ------------------------------------------------------------------------------------

def provider_quality(core: Core, user: User, placement_id: int) -> dict:
    """What the provider decided and reported on one placement: its decisions on the referral, each plan with its
    quality check ('signed off by ... on ...' or waiting), its termly effectiveness reports, and its notices of changed
    arrangements with the school's re-check. School and provider staff read it; families do not."""
    with core.db.session(readonly=True) as session:
        placement = _readable_placement(session, user, placement_id)
        plans = [_plan_dict(session, p) for p in side.latest_plans(session, placement.id)]
        reports = [_report_dict(r) for r in session.scalars(select(EffectivenessReport).where(
            EffectivenessReport.placement_id == placement.id).order_by(EffectivenessReport.recorded_at.desc()))]
        notices = [_notice_dict(n) for n in session.scalars(select(ArrangementNotice).where(
            ArrangementNotice.placement_id == placement.id).order_by(ArrangementNotice.id.desc()))]
        return {"placement_id": placement.id, "instance_id": placement.instance_id, "decisions": _decisions(session, placement.id),
                "plans": plans, "effectiveness_reports": reports, "arrangement_notices": notices,
                "may_act": permissions.can(user, "provider.act", placement, session)}


def quality_for_instance(core: Core, user: User, instance_id: int) -> dict | None:
    """provider_quality for a placement page keyed by instance, or None when there is nothing this person may read."""
    with core.db.session(readonly=True) as session:
        placement = session.scalar(select(Placement).where(Placement.instance_id == instance_id))
        if placement is None or not permissions.can(user, "provider.read", placement, session):
            return None
        placement_id = placement.id
    return provider_quality(core, user, placement_id)
