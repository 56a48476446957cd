"""Provider compliance over time (R25, with R20-R22): the documents that show a provider is still fit to take pupils,
each with the dates it runs between, per provider or per site. The one accepted last for a kind and site is in force;
when it expires no new placement starts with the provider (see gates.py), and an expired insurance or safeguarding
confirmation runs the safeguarding cascade (services/compliance.py).

This module holds the rules in words and dates; the daily checks and who may do what are in services/compliance.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from apflow.errors import Invalid

from .common import log, today
from .models import ComplianceDocument, Provider


@dataclass(frozen=True)
class Kind:
    label: str        # in plain words, as the provider's page says it
    cascades: bool    # an expiry reviews every running placement and tells each commissioning school's DSL (R23, R80)
    needs_expiry: bool


KINDS: dict[str, Kind] = {
    "public_liability": Kind("Public liability insurance", True, True),
    "employers_liability": Kind("Employer's liability insurance", True, True),
    "safeguarding": Kind("Safeguarding confirmation (the policy, and staff DBS and other checks)", True, True),
    "registration": Kind("Registration (Ofsted, DfE or Companies House)", False, False),
    "information_sharing": Kind("Information sharing agreement (R25)", False, False),
    "health_and_safety": Kind("Health and safety and risk assessment of the site", False, True),
}
IN_FORCE = "accepted"
STATUS_WORDS = {"submitted": "Uploaded by the provider: waiting for the school to accept it", "accepted": "In force",
                "rejected": "Not accepted", "superseded": "Replaced by a later document"}


def label(kind: str) -> str:
    return KINDS[kind].label if kind in KINDS else kind.replace("_", " ").capitalize()


def day_words(day: date | None) -> str:
    return f"{day.day} {day:%B %Y}" if day else ""


def in_force(session, provider_id: int) -> list[ComplianceDocument]:
    """The documents in force for a provider: one per kind and site at most (the one accepted last)."""
    return list(session.scalars(select(ComplianceDocument).where(ComplianceDocument.provider_id == provider_id,
                                                                 ComplianceDocument.status == IN_FORCE)
                                .order_by(ComplianceDocument.kind, ComplianceDocument.site_name)))


def state(document: ComplianceDocument, warn_days: int, on: date | None = None) -> str:
    """valid, due (for renewal: within warn_days of its expiry), expired, or no_expiry; for a document in force."""
    on = on or today()
    if document.expires_on is None:
        return "no_expiry"
    if document.expires_on < on:
        return "expired"
    if (document.expires_on - on).days <= warn_days:
        return "due"
    return "valid"


def state_words(document: ComplianceDocument, warn_days: int, on: date | None = None) -> str:
    """What the provider's page says of a document, in plain words."""
    if document.status != IN_FORCE:
        return STATUS_WORDS.get(document.status, document.status)
    on = on or today()
    found = state(document, warn_days, on)
    if found == "expired":
        return f"Expired on {day_words(document.expires_on)}: no new placement starts with this provider until it is renewed"
    if found == "due":
        left = (document.expires_on - on).days
        return f"Due for renewal: expires on {day_words(document.expires_on)} ({'today' if not left else f'in {left} day' + ('s' if left > 1 else '')})"
    if found == "valid":
        return f"Valid until {day_words(document.expires_on)}"
    return "Valid: no expiry date"


def where(document: ComplianceDocument) -> str:
    return f" for the {document.site_name} site" if document.site_name else ""


def lapsed(session, provider: Provider | None, on: date | None = None) -> list[ComplianceDocument]:
    """The provider's documents in force that have expired: while there is one, no new placement starts with it."""
    if provider is None:
        return []
    on = on or today()
    return list(session.scalars(select(ComplianceDocument).where(
        ComplianceDocument.provider_id == provider.id, ComplianceDocument.status == IN_FORCE,
        ComplianceDocument.expires_on.is_not(None), ComplianceDocument.expires_on < on).order_by(ComplianceDocument.expires_on)))


def lapsed_words(documents: list[ComplianceDocument]) -> list[str]:
    """'its public liability insurance expired on 3 March 2027', one per expired document."""
    return [f"its {label(d.kind)[0].lower() + label(d.kind)[1:]}{where(d)} expired on {day_words(d.expires_on)}" for d in documents]


def require_in_date(session, provider: Provider | None, field: str = "provider_name") -> None:
    """The hard gate at the choice of provider: a provider with an expired compliance document takes no new pupil."""
    expired = lapsed(session, provider)
    if expired:
        why = "; ".join(lapsed_words(expired))
        raise Invalid(f"{provider.name} cannot take new placements: {why}. Record the renewed document on the provider's page "
                      "(Providers), or choose another provider.",
                      {"fields": {field: [f"Compliance expired: {why}."]}, "gates": [f"compliance: {why}"]})


# -- the renewal task (bpmn/compliance_renewal.bpmn) ----------------------------------------------------------------

def record_compliance_renewal(ctx):
    """The coordinator closes the renewal task: renewed (a later document of the same kind and site is now in force), or
    not being renewed (with what happens instead: while it is expired no new placement starts with the provider)."""
    document = ctx.session.get(ComplianceDocument, ctx.data.get("compliance_document_id"))
    if document is None:
        raise Invalid("The document this task is about is no longer recorded; close it as not being renewed.")
    provider = ctx.session.get(Provider, document.provider_id)
    a = ctx.answers
    if a["renewal_outcome"] == "renewed":
        renewed = ctx.session.scalar(select(ComplianceDocument.id).where(
            ComplianceDocument.provider_id == document.provider_id, ComplianceDocument.kind == document.kind,
            ComplianceDocument.site_name == document.site_name, ComplianceDocument.status == IN_FORCE,
            ComplianceDocument.id > document.id).limit(1))
        if renewed is None:
            raise Invalid(f"No renewed {label(document.kind).lower()}{where(document)} is in force yet: record it on {provider.name}'s "
                          "page (or accept the one the provider uploaded), then mark this task done.",
                          {"fields": {"renewal_outcome": ["Record the renewed document first."]}})
        log(ctx, f"Renewal of the {label(document.kind).lower()}{where(document)} checked: the renewed document is in force",
            provider=provider, record=document, kind="compliance")
        return {"renewed": True}
    notes = str(a.get("renewal_notes") or "").strip()
    if len(notes) < 10:
        raise Invalid("Say what happens instead, in at least 10 characters.", {"fields": {"renewal_notes": ["Say what happens instead."]}})
    log(ctx, f"The {label(document.kind).lower()}{where(document)} is not being renewed: {notes}", provider=provider, record=document,
        kind="compliance")
    return {"renewed": False}
