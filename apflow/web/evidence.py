"""Evidence packs as PDF (issue 16): a placement's file and a provider's record, printed for an Ofsted or LA visit.

Each page carries the OFFICIAL-SENSITIVE marking, the pack's title, the organisation, who printed it and when, and
its page number. Who may print what is decided in apflow.services.evidence; anyone else gets a 404 that says nothing
of what exists. Every pack printed is logged there.
"""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, render_template, url_for
from flask_login import current_user, login_required

from apflow.clock import UK, uk_time
from apflow.errors import ServiceError
from apflow.services import evidence

from . import pdf
from .auth import current_core
from .data_protection import note_reads
from .downloads import attachment

bp = Blueprint("evidence", __name__)

MARKING = "OFFICIAL-SENSITIVE"


def _user():
    return current_user.user


@bp.app_context_processor
def evidence_links():
    """evidence_links(instance_id=..) or (provider_id=..): the pack's download link where this person may print it,
    and the latest packs produced (for the school's staff), for the placement and provider pages."""
    def links(instance_id=None, provider_id=None) -> dict:
        if not current_user.is_authenticated:
            return {}
        core, user = current_core(), _user()
        if instance_id is not None:
            if not evidence.may_print_placement(core, user, instance_id):
                return {}
            return {"url": url_for("evidence.placement_pack", instance_id=instance_id), "produced": evidence.packs_produced(core, user, instance_id=instance_id)}
        if provider_id is not None and evidence.may_print_provider(user):
            return {"url": url_for("evidence.provider_pack", provider_id=provider_id), "produced": evidence.packs_produced(core, user, provider_id=provider_id)}
        return {}
    return {"evidence_links": links}


def _print(pack: dict, template: str, filename: str):
    html = render_template(template, pack=pack, marking=MARKING)
    printed = f"{MARKING} · Printed by {pack['printed_by']} on {uk_time(pack['printed_at'])}"
    content, pages = pdf.to_pdf(html, pdf.margin_css(pack["title"], pack["organisation"], printed))
    evidence.log_pack(current_core(), _user(), pack, pages, len(content))
    return attachment(content, filename, "application/pdf", **{"Cache-Control": "no-store"})


def _printed_on(pack: dict) -> str:
    return f"{datetime.fromisoformat(pack['printed_at']).astimezone(UK):%Y-%m-%d}"


def _refused(err: ServiceError):
    return render_template("message.html", title="Not available" if err.status != 503 else "Try again in a minute",
                           message=err.message), err.status


@bp.get("/placements/<int:instance_id>/evidence-pack.pdf")
@login_required
def placement_pack(instance_id):
    try:
        pack = evidence.placement_pack(current_core(), _user(), instance_id)
        return _print(pack, "evidence_placement.html", f"Evidence pack {pack['pupil_ref']} {_printed_on(pack)}.pdf")
    except ServiceError as err:
        return _refused(err)


@bp.get("/providers/<int:provider_id>/evidence-pack.pdf")
@login_required
def provider_pack(provider_id):
    try:
        pack = evidence.provider_pack(current_core(), _user(), provider_id)
        note_reads(refs=[p["ref"] for p in pack["placements"]], what="Evidence pack (provider)")  # the read log (R111)
        return _print(pack, "evidence_provider.html", f"Evidence pack {pack['record']['name']} {_printed_on(pack)}.pdf")
    except ServiceError as err:
        return _refused(err)
