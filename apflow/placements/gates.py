"""The hard gates of the lifecycle, checked by the handlers whatever the diagram says: a placement cannot start, a
tutor cannot be engaged, a session cannot be registered until the rules that protect the pupil are met."""
from __future__ import annotations

from sqlalchemy import exists, select

from apflow.errors import Invalid

from . import compliance
from .models import Consent, Placement, Plan, Provider, PurchaseOrder, RiskAssessment, ServiceLevelAgreement


def has_purchase_order(session, placement: Placement) -> bool:
    return bool(session.scalar(select(exists().where(PurchaseOrder.placement_id == placement.id))))


def has_plan(session, placement: Placement, kind: str) -> bool:
    return bool(session.scalar(select(exists().where(Plan.placement_id == placement.id, Plan.kind == kind))))


def has_written_consent(session, placement: Placement) -> bool:
    latest = session.scalar(select(Consent).where(Consent.placement_id == placement.id, Consent.given.is_not(None))
                            .order_by(Consent.id.desc()).limit(1))
    return bool(latest and latest.given and latest.signed_name and latest.signed_on)


def has_placement_risk_assessment(session, placement: Placement) -> bool:
    return bool(session.scalar(select(exists().where(RiskAssessment.placement_id == placement.id,
                                                     RiskAssessment.kind == "placement"))))


def sla_in_force(session, provider: Provider | None) -> ServiceLevelAgreement | None:
    if provider is None:
        return None
    return session.scalar(select(ServiceLevelAgreement).where(ServiceLevelAgreement.provider_id == provider.id,
                                                              ServiceLevelAgreement.status == "in_force")
                          .order_by(ServiceLevelAgreement.id.desc()).limit(1))


def provider_cleared(provider: Provider | None) -> bool:
    """R20-R22: approved, on the register, selection criteria met and due diligence complete."""
    return bool(provider and provider.status == "approved" and provider.criteria_met and provider.due_diligence_complete)


def provider_ready(session, provider: Provider | None) -> bool:
    """Cleared, with an agreement in force and no compliance document expired (R25, issue 16)."""
    return provider_cleared(provider) and sla_in_force(session, provider) is not None and not compliance.lapsed(session, provider)


def missing_before_start(session, placement: Placement) -> list[str]:
    """Every rule not yet met for this placement to begin, in plain words with the rule number."""
    provider = session.get(Provider, placement.provider_id) if placement.provider_id else None
    missing = []
    if not provider_cleared(provider):
        missing.append("the provider is not approved with its selection criteria and due diligence complete")
    if sla_in_force(session, provider) is None:
        missing.append("there is no signed service level agreement with the provider")
    missing += [f"the provider cannot take new placements: {why} (record the renewed document on the provider's page)"
                for why in compliance.lapsed_words(compliance.lapsed(session, provider))]
    if not has_placement_risk_assessment(session, placement):
        missing.append("the placement risk assessment is not done")
    if not has_written_consent(session, placement):
        missing.append("there is no written consent from the parents or carers")
    if not has_plan(session, placement, "personalised"):
        missing.append("there is no personalised plan")
    if placement.approved_at is None:
        missing.append("the headteacher has not approved the placement")
    if needs_purchase_order(placement) and not has_purchase_order(session, placement):
        missing.append("no purchase order is recorded")
    if needs_rlp(session, placement) and not has_plan(session, placement, "relational_learning"):
        missing.append("there is no Relational Learning Plan")
    return missing


def require_start_allowed(session, placement: Placement) -> None:
    missing = missing_before_start(session, placement)
    if missing:
        raise Invalid("The placement cannot start: " + "; ".join(missing) + ".", {"gates": missing})


# Placements the school arranges and pays for itself: no LA purchase order (R54).
SCHOOL_ARRANGED = frozenset({"college_link", "work_experience"})


def needs_purchase_order(placement: Placement) -> bool:
    return placement.placement_type not in SCHOOL_ARRANGED


def needs_rlp(session, placement: Placement) -> bool:
    """A Relational Learning Plan is written where the provider's policy asks for one (R54)."""
    provider = session.get(Provider, placement.provider_id) if placement.provider_id else None
    return provider is None or provider.requires_rlp


def require_purchase_order(session, placement: Placement) -> None:
    if needs_purchase_order(placement) and not has_purchase_order(session, placement):
        raise Invalid("No tutor or mentor can be engaged before a purchase order from the LA or school is recorded.",
                      {"gates": ["purchase order"]})


def require_relational_learning_plan(session, placement: Placement) -> None:
    if not has_plan(session, placement, "relational_learning"):
        raise Invalid("No session can take place before the Relational Learning Plan is written.",
                      {"gates": ["Relational Learning Plan"]})
