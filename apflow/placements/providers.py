"""Providers: the approved-provider register with every site (R22), selection criteria (R20), due diligence (R21),
the service level agreement (R30) and termly quality assurance visits (R23)."""
from __future__ import annotations

from sqlalchemy import delete, func, select

from apflow.errors import Invalid
from apflow.store.models import Organisation

from . import gates
from .common import Host, log, now, parse_date, provider_of, yes
from .models import Placement, Provider, ProviderSite, QaVisit, ServiceLevelAgreement

CRITERIA = ["safeguarding_policies", "meets_plan_needs", "qualified_staff", "suitable_facilities", "insurance", "progress_reports"]
DUE_DILIGENCE = ["safeguarding_policy_reviewed", "staff_checks_confirmed", "risk_reporting_confirmed",
                 "health_and_safety_reviewed", "curriculum_checked"]
SLA_CONTENTS = ["curriculum_delivery", "safeguarding_reporting", "attendance_reporting", "progress_tracking",
                "communication", "incident_handling", "data_protection"]

def by_name(session, name: str) -> Provider | None:
    return session.scalar(select(Provider).where(func.lower(Provider.name) == str(name).strip().lower()))


def record_provider(ctx):
    a = ctx.answers
    name = a["provider_name"].strip()
    provider = by_name(ctx.session, name)
    if provider is None:
        provider = Provider(name=name, status="proposed", created_at=now())
        ctx.session.add(provider)
    elif provider.status == "approved" and provider.instance_id not in (None, ctx.instance.id):
        raise Invalid(f"{provider.name} is already on the approved register; its details are kept by its own approval process.")
    provider.address = a["address"]
    provider.contact = {k: a.get(k, "") for k in ("contact_name", "contact_email", "phone", "offer")}
    provider.requires_rlp = a.get("rlp_policy", "required") != "not_required"
    provider.instance_id = ctx.instance.id
    ctx.session.flush()
    ctx.session.execute(delete(ProviderSite).where(ProviderSite.provider_id == provider.id))
    for site in a["sites"]:
        ctx.session.add(ProviderSite(provider_id=provider.id, name=site["name"], address=site["address"], kind=site["kind"]))
    # Provider staff belong to an organisation of the same name; it scopes what they see.
    if ctx.session.scalar(select(Organisation).where(Organisation.name == name)) is None:
        ctx.session.add(Organisation(name=name, kind="provider"))
    log(ctx, f"Provider {name} recorded with {len(a['sites'])} site(s)", provider=provider, record=provider)
    return {"provider_id": provider.id, "provider_name": provider.name}


def record_criteria(ctx):
    provider = provider_of(ctx)
    a = ctx.answers
    met = all(yes(a, k) for k in CRITERIA) and a.get("accreditations") in ("held", "not_applicable")
    provider.criteria = {k: a.get(k) for k in CRITERIA + ["accreditations", "evidence"]}
    provider.criteria_met = met
    if not met:
        provider.status = "not_approved"
    unmet = [k.replace("_", " ") for k in CRITERIA if not yes(a, k)]
    log(ctx, "Selection criteria all met" if met else f"Selection criteria not met: {', '.join(unmet) or 'accreditations'}",
        provider=provider, record=provider)
    return {"criteria_met": met}


def record_due_diligence(ctx):
    provider = provider_of(ctx)
    a = ctx.answers
    complete = all(yes(a, k) for k in DUE_DILIGENCE) and a.get("other_schools") in ("consulted", "not_possible")
    provider.due_diligence = {k: a.get(k) for k in DUE_DILIGENCE + ["site_visit_on", "other_schools", "dd_findings"]}
    provider.due_diligence_complete = complete
    provider.due_diligence_on = parse_date(a["site_visit_on"], "site_visit_on")
    log(ctx, "Due diligence complete" if complete else "Due diligence has items outstanding", provider=provider, record=provider)
    return {"due_diligence_complete": complete}


def record_provider_approval(ctx):
    provider = provider_of(ctx)
    approve = ctx.answers["provider_decision"] == "approve"
    if approve and not (provider.criteria_met and provider.due_diligence_complete):
        raise Invalid("A provider can be approved only when it meets every selection criterion and its due "
                      "diligence is complete.", {"gates": ["selection criteria", "due diligence"]})
    provider.status = "approved" if approve else "not_approved"
    provider.approved_at = now() if approve else None
    provider.approved_by = ctx.actor.id if approve else None
    log(ctx, f"Provider {'approved and added to the register' if approve else 'declined'}: {ctx.answers['provider_notes']}",
        provider=provider, record=provider)
    return {"provider_approved": approve}


def record_withdrawal(ctx):
    provider = provider_of(ctx)
    provider.status = "withdrawn"
    log(ctx, f"Withdrawn from the register: {ctx.answers['withdrawal_reason']}", provider=provider, record=provider)
    review_running_placements(ctx, provider, "the provider was withdrawn from the register")


RUNNING = ("active", "suspended", "ending")


def review_running_placements(ctx, provider: Provider, why: str) -> int:
    """The safeguarding cascade (R23, R80): every running placement with a provider found unsafe, suspended or withdrawn
    gets a placement review at once (its running stage catches the signal once this step commits), and the reason is
    in its history. New starts with the provider are already refused while it is not approved (gates.provider_cleared).
    An expired insurance or safeguarding confirmation runs the same cascade from the daily check (services/compliance.py)."""
    placements = running_placements(ctx.session, provider)
    for placement in placements:
        ctx.signal_after(placement.instance_id, "review_requested", {"reason": why})
        log(ctx, f"Review opened because {why}", placement=placement, kind="cascade_review")
    return len(placements)


def running_placements(session, provider: Provider) -> list[Placement]:
    """The provider's running placements with a workflow to review them: those the safeguarding cascade reviews."""
    return list(session.scalars(select(Placement).where(Placement.provider_id == provider.id, Placement.status.in_(RUNNING),
                                                        Placement.instance_id.is_not(None)).order_by(Placement.id)))


def record_qa_visit(ctx):
    provider = provider_of(ctx)
    a = ctx.answers
    visit = QaVisit(provider_id=provider.id, visited_on=parse_date(a["visited_on"], "visited_on"), quality=a["quality"],
                    outcome=a["qa_outcome"], term=_term_name(ctx.core, parse_date(a["visited_on"])),
                    findings={k: a.get(k) for k in ("safeguarding_ok", "qa_findings", "qa_actions")},
                    recorded_at=now(), recorded_by=ctx.actor.name)
    ctx.session.add(visit)
    log(ctx, f"QA visit on {visit.visited_on}: {visit.quality.replace('_', ' ')}, {visit.outcome}", provider=provider, record=visit)
    unsafe = a.get("safeguarding_ok") is not True or a["quality"] == "inadequate"
    if unsafe and provider.status == "approved" and a["qa_outcome"] == "keep":
        provider.status = "suspended"  # no new placements until a QA visit finds it safe again
        log(ctx, "Suspended from the register: the QA visit found safeguarding or quality unsafe", provider=provider, record=provider)
    elif not unsafe and provider.status == "suspended" and a["qa_outcome"] == "keep":
        provider.status = "approved"
        log(ctx, "Reinstated on the register: the QA visit found it safe again", provider=provider, record=provider)
    if unsafe:
        review_running_placements(ctx, provider, f"a QA visit on {visit.visited_on} found the provider unsafe")


def _term_name(core: Host, day) -> str:
    try:
        calendar = core.calendar()
    except Exception:  # noqa: BLE001 - a missing calendar only loses the label
        return ""
    return next((t.name for t in calendar.terms if t.start <= day <= t.end), "")


def record_sla(ctx):
    provider = provider_of(ctx)
    a = ctx.answers
    missing = [k.replace("_", " ") for k in SLA_CONTENTS if not str(a.get(k, "")).strip()]
    if missing or not a.get("notice_period_school_days"):
        raise Invalid("The agreement must cover all eight areas, including the notice period: "
                      + ", ".join(missing + ([] if a.get("notice_period_school_days") else ["notice period"])) + ".")
    for old in ctx.session.scalars(select(ServiceLevelAgreement).where(ServiceLevelAgreement.provider_id == provider.id,
                                                                        ServiceLevelAgreement.status.in_(["draft", "changes_requested"]))):
        old.status = "superseded"
    sla = ServiceLevelAgreement(provider_id=provider.id, contents={k: a[k] for k in SLA_CONTENTS},
                                notice_period_school_days=int(a["notice_period_school_days"]),
                                starts_on=parse_date(a["sla_starts_on"], "sla_starts_on"),
                                review_on=parse_date(a.get("sla_review_on")), status="draft", recorded_at=now())
    ctx.session.add(sla)
    ctx.session.flush()
    log(ctx, f"Service level agreement drafted (notice period {sla.notice_period_school_days} school days)", provider=provider, record=sla)
    return {"sla_id": sla.id}


def record_sla_signature(ctx):
    provider = provider_of(ctx)
    sla = ctx.session.get(ServiceLevelAgreement, ctx.data.get("sla_id"))
    if sla is None:
        raise Invalid("There is no drafted agreement to sign.")
    a = ctx.answers
    signed = a["sla_decision"] == "sign"
    if signed:
        for old in ctx.session.scalars(select(ServiceLevelAgreement).where(ServiceLevelAgreement.provider_id == provider.id,
                                                                            ServiceLevelAgreement.status == "in_force")):
            old.status = "superseded"
    sla.status = "in_force" if signed else "changes_requested"
    sla.signed_by, sla.signed_on = (a["sla_signed_by"], parse_date(a["sla_signed_on"])) if signed else (None, None)
    log(ctx, f"Agreement signed by {a['sla_signed_by']}" if signed else f"Changes requested: {a.get('changes_requested', '')}",
        provider=provider, record=sla)
    return {"sla_in_force": signed}


def register(session, include_all: bool = False) -> list[dict]:
    """The approved-provider register (R22): every site's address, the SLA, the latest QA visit."""
    query = select(Provider).order_by(Provider.name)
    if not include_all:
        query = query.where(Provider.status == "approved")
    result = []
    for provider in session.scalars(query):
        sites = session.scalars(select(ProviderSite).where(ProviderSite.provider_id == provider.id).order_by(ProviderSite.id))
        sla = gates.sla_in_force(session, provider)
        visit = session.scalar(select(QaVisit).where(QaVisit.provider_id == provider.id).order_by(QaVisit.visited_on.desc()).limit(1))
        result.append({
            "id": provider.id, "name": provider.name, "status": provider.status, "address": provider.address,
            "contact": provider.contact, "approved_at": provider.approved_at.isoformat() if provider.approved_at else None,
            "sites": [{"name": s.name, "address": s.address, "kind": s.kind} for s in sites],
            "criteria_met": provider.criteria_met, "due_diligence_complete": provider.due_diligence_complete,
            "due_diligence_on": provider.due_diligence_on.isoformat() if provider.due_diligence_on else None,
            "sla": {"id": sla.id, "notice_period_school_days": sla.notice_period_school_days, "signed_on": sla.signed_on.isoformat()
                    if sla.signed_on else None} if sla else None,
            "last_qa_visit": {"on": visit.visited_on.isoformat(), "term": visit.term, "quality": visit.quality} if visit else None,
            "ready_for_placements": gates.provider_ready(session, provider),
        })
    return result

