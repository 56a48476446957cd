"""Provider compliance over time (R25, with R20-R22), as use cases: the provider's compliance documents on its page and
through the API (kept by the commissioning side's managers and coordinators; renewals uploaded by the provider's own
staff for the school to accept), and the two daily checks the scheduler runs (apflow/services/watches.py):

- a document in force that expires within `compliance_renewal_days` (30) opens the school's renewal task
  (bpmn/compliance_renewal.bpmn), once per document, due on the day it expires and escalating like any task;
- a document that has expired blocks new starts with the provider (placements/gates.py reads it live) and, for an
  insurance or safeguarding confirmation, runs the safeguarding cascade: each commissioning school's coordinators and
  DSLs are told (in apflow; by e-mail with no names) and a review opens on every running placement with the provider.

Each check claims what it acts on in its own transaction, so two schedulers never act twice and a late run catches up.
"""
from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from datetime import datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import undefer

from apflow.clock import clock
from apflow.errors import Forbidden, Invalid, NotFound
from apflow.placements import compliance as rules
from apflow.placements import providers
from apflow.placements.common import UK, parse_date, today
from apflow.placements.models import ComplianceDocument, LogEntry, Placement, Provider, ProviderSite, Pupil
from apflow.store import outbox
from apflow.store.models import Document, HumanTask, Instance, Organisation, User

from . import documents, instances, permissions
from .core import Core

log = logging.getLogger(__name__)
PROCESS = "compliance_renewal"
FORM = "compliance_renewal.schema.json"
FINISHED = ("ended", "closed", "not_placed", "removed")
REVIEW_SIGNAL = "review_requested"


def _name(user: User) -> str:
    return user.display_name or user.username


def _provider(session, user: User, provider_id: int, action: str = "compliance.view") -> Provider:
    """The provider, if this person may see its compliance documents (else NotFound, saying nothing of what exists);
    Forbidden when they may see them but not do `action`."""
    provider = session.get(Provider, provider_id)
    if provider is None or not permissions.can(user, "compliance.view", provider, session):
        raise NotFound(f"There is no provider {provider_id} whose compliance documents you can see.")
    if action != "compliance.view" and not permissions.can(user, action, provider, session):
        raise Forbidden("Only the commissioning school's AP coordinators and managers keep a provider's compliance documents; "
                        "the provider's own staff upload renewals for them to accept.")
    return provider


def _dict(document: ComplianceDocument, warn_days: int, filename: str | None = None) -> dict:
    return {"id": document.id, "provider_id": document.provider_id, "kind": document.kind, "label": rules.label(document.kind),
            "site_id": document.site_id, "site_name": document.site_name, "title": document.title, "reference": document.reference,
            "has_file": document.document_id is not None, "filename": filename,
            "issued_on": document.issued_on.isoformat() if document.issued_on else None,
            "expires_on": document.expires_on.isoformat() if document.expires_on else None,
            "issued_words": rules.day_words(document.issued_on), "expires_words": rules.day_words(document.expires_on),
            "status": document.status,
            "state": rules.state(document, warn_days) if document.status == rules.IN_FORCE else document.status,
            "state_words": rules.state_words(document, warn_days), "notes": document.notes,
            "recorded_by": document.recorded_by, "recorded_at": document.recorded_at.isoformat(),
            "decided_by": document.decided_by or None, "decision_notes": document.decision_notes,
            "renewal_instance_id": document.renewal_instance_id}


def _filenames(session, docs: list[ComplianceDocument]) -> dict[int, str]:
    ids = [d.document_id for d in docs if d.document_id]
    return dict(session.execute(select(Document.id, Document.filename).where(Document.id.in_(ids))).all()) if ids else {}


# -- reading ----------------------------------------------------------------------------------------------------------

def overview(core: Core, user: User, provider_id: int) -> dict:
    """A provider's compliance documents: those in force with their state in plain words (valid, due for renewal,
    expired), those the provider uploaded waiting to be accepted, and the history; whether new starts are blocked."""
    warn = core.settings.compliance_renewal_days
    with core.db.session(readonly=True) as session:
        provider = _provider(session, user, provider_id)
        docs = list(session.scalars(select(ComplianceDocument).where(ComplianceDocument.provider_id == provider.id)
                                    .order_by(ComplianceDocument.kind, ComplianceDocument.site_name, ComplianceDocument.id.desc())))
        names = _filenames(session, docs)
        rows = [_dict(d, warn, names.get(d.document_id)) for d in docs]
        expired = rules.lapsed(session, provider)
        held = {d.kind for d in docs if d.status == rules.IN_FORCE}
        sites = session.scalars(select(ProviderSite).where(ProviderSite.provider_id == provider.id).order_by(ProviderSite.id))
        return {"provider": {"id": provider.id, "name": provider.name},
                "in_force": [r for r in rows if r["status"] == rules.IN_FORCE],
                "waiting": [r for r in rows if r["status"] == "submitted"],
                "history": [r for r in rows if r["status"] in ("superseded", "rejected")],
                "blocked": bool(expired), "block_words": rules.lapsed_words(expired),
                "missing": [{"kind": k, "label": rules.label(k)} for k in rules.KINDS if k not in held and k != "health_and_safety"],
                "kinds": {k: kind.label for k, kind in rules.KINDS.items()},
                "needs_expiry": [k for k, kind in rules.KINDS.items() if kind.needs_expiry],
                "sites": [{"id": s.id, "name": s.name, "kind": s.kind} for s in sites],
                "may_keep": permissions.can(user, "compliance.keep", provider, session),
                "may_submit": permissions.can(user, "compliance.submit", provider, session),
                "may_upload": provider.instance_id is not None, "renewal_days": warn}


def for_task(core: Core, user: User, task_id: str) -> dict | None:
    """Beside the renewal task's form: the document, its provider and when it expires. None for other tasks."""
    with core.db.session(readonly=True) as session:
        task = session.get(HumanTask, str(task_id))
        if task is None or task.form_schema != FORM or not permissions.can(user, "task.view", task, session):
            return None
        document = session.scalar(select(ComplianceDocument).where(ComplianceDocument.renewal_instance_id == task.instance_id))
        if document is None:
            return None
        provider = session.get(Provider, document.provider_id)
        return {"provider": {"id": provider.id, "name": provider.name},
                "document": _dict(document, core.settings.compliance_renewal_days, _filenames(session, [document]).get(document.document_id))}


def file(core: Core, user: User, provider_id: int, compliance_id: int) -> Document:
    """The uploaded file of a compliance document, for those who may see the provider's compliance documents."""
    with core.db.session(readonly=True) as session:
        provider = _provider(session, user, provider_id)
        document = session.get(ComplianceDocument, compliance_id)
        if document is None or document.provider_id != provider.id or document.document_id is None:
            raise NotFound("There is no such document that you can see.")
        stored = session.scalar(select(Document).options(undefer(Document.content)).where(Document.id == document.document_id))
        if stored is None:
            raise NotFound("There is no such document that you can see.")
        session.expunge(stored)
        return stored


# -- recording and accepting ------------------------------------------------------------------------------------------

def _checked(session, provider: Provider, values: dict, upload) -> tuple[dict, dict]:
    """The values of a new document, checked field by field: (clean values, errors)."""
    errors: dict[str, list[str]] = {}
    kind = str(values.get("kind") or "").strip()
    if kind not in rules.KINDS:
        errors["kind"] = ["Choose which kind of document this is."]
    site_id, site_name = values.get("site_id"), ""
    if site_id not in (None, ""):
        try:
            site = session.get(ProviderSite, int(site_id))
        except (TypeError, ValueError):
            site = None
        if site is None or site.provider_id != provider.id:
            errors["site_id"] = ["Choose one of the provider's sites, or the whole provider."]
        else:
            site_id, site_name = site.id, site.name
    else:
        site_id = None
    dates = {}
    for key in ("issued_on", "expires_on"):
        try:
            dates[key] = parse_date(str(values.get(key) or "").strip() or None, key)
        except Invalid:
            errors[key] = ["Give a date like 2027-03-31."]
    if kind in rules.KINDS and rules.KINDS[kind].needs_expiry and "expires_on" not in errors and dates.get("expires_on") is None:
        errors["expires_on"] = [f"Give the date the {rules.label(kind).lower()} expires."]
    issued, expires = dates.get("issued_on"), dates.get("expires_on")
    if issued and expires and expires < issued:
        errors["expires_on"] = ["The expiry date must not come before the date it was issued."]
    elif expires and expires < today():
        errors["expires_on"] = ["This document has already expired: record the renewed one."]
    if issued and issued > today():
        errors["issued_on"] = ["The date it was issued cannot be in the future."]
    text = {key: str(values.get(key) or "").strip() for key in ("title", "reference", "notes")}
    for key, most in (("title", 300), ("reference", 2000), ("notes", 4000)):
        if len(text[key]) > most:
            errors[key] = [f"Keep this under {most:,} characters."]
    if upload is None and not text["reference"]:
        errors["reference"] = ["Upload the document, or say where it is kept (for example, the shared drive folder)."]
    if upload is not None and provider.instance_id is None:
        errors["file"] = ["This provider joined the register outside apflow's approval process, so files cannot be kept with "
                          "it: say where the document is kept instead."]
    return {"kind": kind, "site_id": site_id, "site_name": site_name, "issued_on": issued, "expires_on": expires, **text}, errors


def record(core: Core, user: User, provider_id: int, values: dict, upload: tuple[str, str, bytes] | None = None) -> dict:
    """Record a compliance document: in force at once when the commissioning side records it (the one it replaces is
    kept as history), waiting for the school to accept it when the provider's staff upload it. All or nothing; the same
    document sent twice is recorded once."""
    if not isinstance(values, dict):
        raise Invalid('Send {"kind": "public_liability", "expires_on": "2027-03-31", "reference": "..."}.')
    checked_file = None
    with core.db.session() as session:
        provider = _provider(session, user, provider_id)
        keeper = permissions.can(user, "compliance.keep", provider, session)
        if not keeper and not permissions.can(user, "compliance.submit", provider, session):
            raise Forbidden("Only the commissioning school's AP coordinators and managers, and the provider's own staff, can add "
                            "a provider's compliance documents.")
        errors = {}
        if upload is not None:
            try:
                checked_file = documents.checked_file(*upload)
            except Invalid as err:
                errors["file"] = list(err.details.get("file", [err.message])) if isinstance(err.details, dict) else [err.message]
        clean, problems = _checked(session, provider, values, checked_file or upload)
        errors.update(problems)
        if errors:
            only = next(iter(errors.values()))[0] if len(errors) == 1 else "Some details need correcting"
            raise Invalid(f"{only.rstrip('.')}; nothing was saved.", {"fields": errors})
        sha = hashlib.sha256(checked_file[2]).hexdigest() if checked_file else None
        same = _same(session, provider, clean, sha)
        if same is not None:
            return _dict(same, core.settings.compliance_renewal_days)
        stored = documents.add(session, user, provider.instance_id, None, *checked_file) if checked_file else None
        document = ComplianceDocument(provider_id=provider.id, site_id=clean["site_id"], site_name=clean["site_name"], kind=clean["kind"],
                                      title=clean["title"], reference=clean["reference"], notes=clean["notes"],
                                      document_id=stored.id if stored else None, issued_on=clean["issued_on"],
                                      expires_on=clean["expires_on"], status="submitted", recorded_at=clock.now(),
                                      recorded_by_id=user.id, recorded_by=_name(user))
        session.add(document)
        session.flush()
        if keeper:
            _put_in_force(session, user, provider, document)
        else:
            _log(session, user, provider, document, f"{rules.label(document.kind)}{rules.where(document)} uploaded by {_name(user)} "
                 "for the school to accept")
            outbox.notify(session, _keepers(session, provider), "provider_compliance_due",
                          f"{provider.name} uploaded a renewed {rules.label(document.kind).lower()}{rules.where(document)}: check and "
                          "accept it on the provider's page.", subject="A provider uploaded a compliance document",
                          email="A provider uploaded a compliance document for you to check. Open apflow to accept it:",
                          link=f"/providers/{provider.id}/compliance")
        return _dict(document, core.settings.compliance_renewal_days, stored.filename if stored else None)


def _same(session, provider: Provider, clean: dict, sha: str | None) -> ComplianceDocument | None:
    """The same document recorded already (a double submit), still in force or waiting."""
    query = select(ComplianceDocument).where(
        ComplianceDocument.provider_id == provider.id, ComplianceDocument.kind == clean["kind"],
        ComplianceDocument.site_name == clean["site_name"], ComplianceDocument.title == clean["title"],
        ComplianceDocument.reference == clean["reference"], ComplianceDocument.status.in_([rules.IN_FORCE, "submitted"]),
        ComplianceDocument.issued_on.is_(None) if clean["issued_on"] is None else ComplianceDocument.issued_on == clean["issued_on"],
        ComplianceDocument.expires_on.is_(None) if clean["expires_on"] is None else ComplianceDocument.expires_on == clean["expires_on"])
    for found in session.scalars(query):
        stored_sha = session.scalar(select(Document.sha256).where(Document.id == found.document_id)) if found.document_id else None
        if stored_sha == sha:
            return found
    return None


def _put_in_force(session, user: User, provider: Provider, document: ComplianceDocument) -> None:
    """The document is the one in force for its kind and site; the one it replaces is kept as history. When that one
    had expired and nothing else has, new starts with the provider are allowed again."""
    was_blocked = bool(rules.lapsed(session, provider))
    replaced = list(session.scalars(select(ComplianceDocument).where(
        ComplianceDocument.provider_id == provider.id, ComplianceDocument.kind == document.kind,
        ComplianceDocument.site_name == document.site_name, ComplianceDocument.status == rules.IN_FORCE,
        ComplianceDocument.id != document.id)))
    for old in replaced:
        old.status = "superseded"
    document.status, document.decided_at, document.decided_by = rules.IN_FORCE, clock.now(), _name(user)
    session.flush()
    until = f", valid until {rules.day_words(document.expires_on)}" if document.expires_on else ""
    summary = f"{rules.label(document.kind)}{rules.where(document)} in force{until} (recorded by {document.recorded_by})"
    if was_blocked and not rules.lapsed(session, provider):
        summary += "; nothing has expired now, so new placements can start with the provider again"
    _log(session, user, provider, document, summary)


def decide(core: Core, user: User, provider_id: int, compliance_id: int, decision: str, notes: str = "") -> dict:
    """The commissioning side accepts a document the provider uploaded (it is in force from now) or rejects it with a
    reason the provider's staff are told. Deciding again the same way changes nothing (a double submit)."""
    decision, notes = str(decision or "").strip(), str(notes or "").strip()
    with core.db.session() as session:
        provider = _provider(session, user, provider_id, "compliance.keep")
        document = session.get(ComplianceDocument, compliance_id)
        if document is None or document.provider_id != provider.id:
            raise NotFound("There is no such document that you can see.")
        if decision not in ("accept", "reject"):
            raise Invalid("Choose to accept or reject the document.", {"fields": {"decision": ["Choose accept or reject."]}})
        done = {"accept": (rules.IN_FORCE, "superseded"), "reject": ("rejected",)}[decision]
        if document.status in done and document.decided_at is not None:
            return _dict(document, core.settings.compliance_renewal_days)
        if document.status != "submitted":
            raise Invalid("This document has been decided on already.", {"fields": {"decision": ["Already decided."]}})
        if decision == "reject" and len(notes) < 5:
            raise Invalid("Say why it is not accepted, so the provider can send the right one.",
                          {"fields": {"notes": ["Say why it is not accepted."]}})
        document.decision_notes = notes
        if decision == "accept":
            _put_in_force(session, user, provider, document)
        else:
            document.status, document.decided_at, document.decided_by = "rejected", clock.now(), _name(user)
            _log(session, user, provider, document, f"{rules.label(document.kind)}{rules.where(document)} uploaded by "
                 f"{document.recorded_by} not accepted: {notes}")
        outbox.notify(session, _provider_staff(session, provider), "provider_compliance_due",
                      f"The school {'accepted' if decision == 'accept' else 'did not accept'} your {rules.label(document.kind).lower()}"
                      f"{rules.where(document)}" + (f": {notes}" if decision == "reject" else "."),
                      subject="Your compliance document was checked", link=f"/providers/{provider.id}/compliance")
        return _dict(document, core.settings.compliance_renewal_days)


def _log(session, user: User | None, provider: Provider, document: ComplianceDocument, summary: str) -> None:
    session.add(LogEntry(provider_id=provider.id, at=clock.now(), actor_id=user.id if user else None,
                         actor=user.username if user else "apflow", kind="compliance", summary=summary[:2000],
                         record=ComplianceDocument.__tablename__, record_id=document.id))


# -- who is told ------------------------------------------------------------------------------------------------------

def _placements(session, provider: Provider, statuses=None) -> list[tuple[Placement, int | None]]:
    """The provider's placements not finished (or in `statuses`), each with its commissioning organisation."""
    query = (select(Placement, Instance.organisation_id, Pupil.organisation_id).join(Pupil, Pupil.id == Placement.pupil_id)
             .outerjoin(Instance, Instance.id == Placement.instance_id).where(Placement.provider_id == provider.id))
    query = query.where(Placement.status.in_(statuses)) if statuses else query.where(Placement.status.not_in(FINISHED))
    return [(p, commissioner if commissioner is not None else own) for p, commissioner, own in session.execute(query.order_by(Placement.id))]


def _approver(session, provider: Provider) -> int | None:
    return session.scalar(select(Instance.organisation_id).where(Instance.id == provider.instance_id)) if provider.instance_id else None


def _people(session, roles: tuple[str, ...], orgs: set[int | None]) -> list[User]:
    """People in these roles at these organisations; the installation's own organisation's where none is known."""
    known = {o for o in orgs if o is not None} or {outbox.installation_organisation(session)}
    return [p for role in roles for p in outbox.role_members(session, role, known)]


def _keepers(session, provider: Provider) -> list[User]:
    orgs = {_approver(session, provider)} | {org for _, org in _placements(session, provider)}
    return _people(session, ("coordinator",), orgs)


def _provider_staff(session, provider: Provider) -> list[User]:
    org = session.scalar(select(Organisation.id).where(Organisation.name == provider.name, Organisation.kind == "provider"))
    return outbox.role_members(session, "provider", org) if org is not None else []


# -- the daily checks (apflow/services/watches.py) --------------------------------------------------------------------

def open_renewals(core: Core) -> int:
    """Every document in force that expires within the renewal period (or has expired unwarned, after downtime) opens
    its renewal task, once: the warning is claimed before the process starts and released if it cannot start."""
    horizon = today() + timedelta(days=core.settings.compliance_renewal_days)
    with core.db.session(readonly=True) as session:
        due = list(session.scalars(select(ComplianceDocument.id).where(
            ComplianceDocument.status == rules.IN_FORCE, ComplianceDocument.expires_on.is_not(None),
            ComplianceDocument.expires_on <= horizon, ComplianceDocument.warned_at.is_(None)).order_by(ComplianceDocument.expires_on)))
    opened = 0
    for compliance_id in due:
        try:
            opened += _open_renewal(core, compliance_id)
        except Exception:  # noqa: BLE001 - one document must not stop the others; the next run tries it again
            log.exception("could not open the renewal task of compliance document %s; the next check tries again", compliance_id)
    return opened


def _open_renewal(core: Core, compliance_id: int) -> int:
    now = clock.now()
    with core.db.session() as session:
        claimed = session.execute(update(ComplianceDocument).where(
            ComplianceDocument.id == compliance_id, ComplianceDocument.warned_at.is_(None), ComplianceDocument.status == rules.IN_FORCE)
            .values(warned_at=now).execution_options(synchronize_session=False)).rowcount
        if not claimed:
            return 0
        document = session.get(ComplianceDocument, compliance_id)
        provider = session.get(Provider, document.provider_id)
        what = f"{rules.label(document.kind)}{rules.where(document)}"
        data = {"provider_id": provider.id, "provider_name": provider.name, "compliance_document_id": document.id,
                "document_label": what, "expires_on": document.expires_on.isoformat(),
                "renewal_due": datetime.combine(document.expires_on, time(17, 0), tzinfo=UK).isoformat()}
        organisation = _approver(session, provider)
    try:
        started = instances.start_for(core, None, PROCESS, data, organisation)
    except Exception:
        with core.db.session() as session:  # let the next check try again
            session.execute(update(ComplianceDocument).where(ComplianceDocument.id == compliance_id, ComplianceDocument.warned_at == now)
                            .values(warned_at=None).execution_options(synchronize_session=False))
        raise
    with core.db.session() as session:
        document = session.get(ComplianceDocument, compliance_id)
        document.renewal_instance_id = started["id"]
        _log(session, None, provider, document, f"{what} expires on {rules.day_words(document.expires_on)}: renewal task opened")
        outbox.notify(session, _provider_staff(session, provider), "provider_compliance_due",
                      f"Your {what[0].lower() + what[1:]} expires on {rules.day_words(document.expires_on)}. Upload the renewed "
                      "document on your provider's compliance page so the school can accept it; once it has expired no new "
                      "placement can start with you.", subject="A compliance document is due for renewal",
                      link=f"/providers/{provider.id}/compliance")
    return 1


def apply_expiries(core: Core) -> int:
    """Every document in force that has expired, once: its provider's history says new starts are blocked, the schools
    working with the provider are told, and an expired insurance or safeguarding confirmation runs the safeguarding
    cascade (a review on every running placement with the provider; each commissioning school's DSLs told too)."""
    with core.db.session(readonly=True) as session:
        due = list(session.scalars(select(ComplianceDocument.id).where(
            ComplianceDocument.status == rules.IN_FORCE, ComplianceDocument.expires_on < today(),
            ComplianceDocument.lapsed_at.is_(None)).order_by(ComplianceDocument.expires_on)))
    done = 0
    for compliance_id in due:
        try:
            done += _apply_expiry(core, compliance_id)
        except Exception:  # noqa: BLE001 - one document must not stop the others
            log.exception("could not act on the expiry of compliance document %s", compliance_id)
    return done


def _apply_expiry(core: Core, compliance_id: int) -> int:
    signals = []
    with core.db.session() as session:
        claimed = session.execute(update(ComplianceDocument).where(
            ComplianceDocument.id == compliance_id, ComplianceDocument.lapsed_at.is_(None), ComplianceDocument.status == rules.IN_FORCE,
            ComplianceDocument.expires_on < today()).values(lapsed_at=clock.now()).execution_options(synchronize_session=False)).rowcount
        if not claimed:
            return 0
        document = session.get(ComplianceDocument, compliance_id)
        provider = session.get(Provider, document.provider_id)
        what = f"{rules.label(document.kind)}{rules.where(document)}"
        expired = f"{provider.name}'s {what[0].lower() + what[1:]} expired on {rules.day_words(document.expires_on)}"
        cascades = rules.KINDS[document.kind].cascades if document.kind in rules.KINDS else False
        _log(session, None, provider, document, f"{what} expired on {rules.day_words(document.expires_on)}: no new placement starts "
             "with the provider until it is renewed" + ("; every running placement is reviewed" if cascades else ""))
        by_school = defaultdict(list)
        for placement, org in _placements(session, provider):
            by_school[org].append(placement)
        running = {p.id for p in providers.running_placements(session, provider)} if cascades else set()
        for org, placements in by_school.items():
            reviewed = [p for p in placements if p.id in running]
            if cascades:
                message = (f"{expired}. No new placement starts with it until it is renewed; a review is opened for each of your "
                           f"{len(reviewed)} running placement{'s' if len(reviewed) != 1 else ''} there: check each pupil is safe.")
                people = _people(session, ("coordinator", "dsl"), {org})
                outbox.notify(session, people, "provider_compliance_expired", message, subject="A provider's compliance has expired",
                              email="A provider's insurance or safeguarding confirmation has expired, and the placements with it "
                                    "are being reviewed. Open apflow to see which:", link=f"/providers/{provider.id}/compliance")
            else:
                outbox.notify(session, _people(session, ("coordinator",), {org}), "provider_compliance_due",
                              f"{expired}. No new placement starts with it until it is renewed.",
                              subject="A provider's compliance document has expired",
                              email="A provider's compliance document has expired. Open apflow to see it:",
                              link=f"/providers/{provider.id}/compliance")
            for placement in reviewed:
                why = f"the provider's {what[0].lower() + what[1:]} expired on {rules.day_words(document.expires_on)}"
                session.add(LogEntry(placement_id=placement.id, provider_id=provider.id, instance_id=placement.instance_id, at=clock.now(),
                                     actor="apflow", kind="cascade_review", summary=f"Review opened because {why}",
                                     record=ComplianceDocument.__tablename__, record_id=document.id))
                signals.append((placement.instance_id, why))
        if not by_school:  # no placement with the provider: the school that keeps its documents is told
            outbox.notify(session, _keepers(session, provider), "provider_compliance_due",
                          f"{expired}. No new placement starts with it until it is renewed.",
                          subject="A provider's compliance document has expired",
                          email="A provider's compliance document has expired. Open apflow to see it:",
                          link=f"/providers/{provider.id}/compliance")
        outbox.notify(session, _provider_staff(session, provider), "provider_compliance_due",
                      f"Your {what[0].lower() + what[1:]} expired on {rules.day_words(document.expires_on)}. No new placement can "
                      "start with you until the school accepts the renewed document: upload it on your compliance page.",
                      subject="A compliance document has expired", link=f"/providers/{provider.id}/compliance")
    for instance_id, why in signals:  # the step above is committed; each review is a step of its own
        try:
            instances.send_signal(core, None, instance_id, REVIEW_SIGNAL, {"reason": why})
        except Exception:  # noqa: BLE001 - recorded on that instance; the others still get theirs
            log.exception("could not open the review of instance %s after a provider's compliance expired", instance_id)
    return 1

