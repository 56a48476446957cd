"""A pupil's page (R11, R13): who the pupil is, every placement past and present with its consent and destination,
attendance, the family, the professionals involved and what they were told, and, for the pupil's DSLs only, whether
there is a child-protection file.

The page opens for whoever may see a workflow of the pupil (instances.pupil_instances); each part of it then shows
only what that person may read elsewhere: the pupil's details as their placement's process data shows them
(disclosure), the family and the professionals to the pupil's own school ("family.view", "professionals.view"),
attendance to staff, and the child-protection flag to those who may read the file ("cp.view").
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import exists, select

from apflow.errors import Invalid, NotFound
from apflow.placements import gates
from apflow.placements.common import now, parse_date, today
from apflow.placements.models import (
    PROFESSIONAL_ROLES,
    Concern,
    CpRecord,
    Destination,
    Placement,
    ProfessionalUpdate,
    Pupil,
    PupilProfessional,
)
from apflow.school_calendar import CalendarError, Term
from apflow.store.models import HumanTask, Instance, User

from . import caseload, disclosure, families, instances, permissions, placements, registers
from .core import Core

DESTINATION_FORM = "destination.schema.json"

# -- the national curriculum year group ---------------------------------------------------------------

def year_group(date_of_birth: date | None, on: date) -> int | None:
    """The pupil's national curriculum year group in the academic year holding `on` (0 = Reception).

    In England the academic year starts on 1 September, and a child starts Reception in the September after their
    fourth birthday: children born 1 September to 31 August share a year group. So in the academic year that starts
    in September A, a child born in year Y is in year group A - Y - 4 if born January to August, A - Y - 5 if born
    September to December."""
    if date_of_birth is None:
        return None
    academic_year = on.year if on.month >= 9 else on.year - 1
    return academic_year - date_of_birth.year - (5 if date_of_birth.month >= 9 else 4)


def year_group_words(group: int | None) -> str | None:
    if group is None:
        return None
    if group < 0:
        return "Not yet of school age"
    if group == 0:
        return "Reception"
    return f"Year {group}" if group <= 13 else "Past Year 13"


# -- the profile -------------------------------------------------------------------------------------

def profile(core: Core, user: User, ref: str) -> dict:
    """Everything on the pupil's page that this person may read; NotFound unless they may see a workflow of the pupil."""
    name, visible = instances.pupil_instances(core, user, ref)
    if not visible:
        raise NotFound(f"There is no pupil {ref} that you can see.")
    summaries = placements.pupil_placements(core, user, ref)
    stages = {row["placement_id"]: row for row in caseload.caseload(core, user, caseload.CaseloadQuery(search=ref))["rows"] if row["ref"] == ref}
    family = _family_or_none(core, user, ref)
    with core.db.session(readonly=True) as session:
        pupil = session.scalar(select(Pupil).where(Pupil.ref == ref))
        shown = [session.get(Instance, i) for i in visible]
        readable = _readable_keys(core, session, user, shown)
        rows = [session.get(Placement, s["id"]) for s in summaries]
        placed = {p.instance_id for p in rows}
        result = {"pupil": _details(pupil, ref, name, readable, rows),
                  "placements": [_placement_row(core, session, s, p, stages.get(p.id), visible) for s, p in zip(summaries, rows)],
                  "other_work": [{"instance_id": i.id, "process_name": i.version.name, "status": i.status, "started_at": i.created_at.isoformat()}
                                 for i in shown if i.id not in placed]}
        if permissions.staff_roles(user) and rows:
            result["attendance"] = _attendance(core, session, [p.id for p in rows])
        if family is not None:
            result["family"] = family
        if pupil is not None and permissions.can(user, "professionals.view", pupil.id, session):
            result["professionals"] = _professionals(session, pupil)
            result["can_edit_professionals"] = permissions.can(user, "professionals.edit", pupil.id, session)
        if pupil is not None and permissions.can(user, "cp.view", pupil.id, session):
            result["child_protection"] = _cp_flag(session, pupil)
        return result


def referral_seed(core: Core, user: User, ref: str) -> dict:
    """What a new referral of a pupil already on record starts with, as far as this person reads it: nobody types
    the pupil's details twice. NotFound unless they may see the pupil."""
    details = profile(core, user, ref)["pupil"]
    seed = {"pupil_name": details["name"], "pupil_ref": ref, "date_of_birth": details.get("date_of_birth"), "school": details.get("school")}
    return {k: v for k, v in seed.items() if v}


def _family_or_none(core: Core, user: User, ref: str) -> dict | None:
    try:
        return families.list_contacts(core, user, ref)
    except NotFound:
        return None  # not the pupil's school: no family details


def _readable_keys(core: Core, session, user: User, shown: list[Instance]) -> frozenset[str] | None:
    """The process-data keys this person reads on any of the pupil's workflows they see (None: all of them)."""
    keys: set[str] = set()
    for instance in shown:
        seen = disclosure.view(core, session, user, instance)
        if seen.keys is None:
            return None
        keys |= seen.keys
    return frozenset(keys)


def _details(pupil: Pupil | None, ref: str, name: str | None, readable: frozenset[str] | None, rows: list[Placement]) -> dict:
    """The pupil's details, each only if this person reads it on one of the pupil's placements."""
    result = {"ref": ref, "name": pupil.name if pupil else name}
    if pupil is None:
        return result
    reads = (lambda key: True) if readable is None else readable.__contains__
    if reads("date_of_birth"):
        group = year_group(pupil.date_of_birth, today())
        result.update(date_of_birth=pupil.date_of_birth.isoformat() if pupil.date_of_birth else None, year_group=group,
                      year_group_words=year_group_words(group))
    if reads("school"):
        result["school"] = pupil.school
    if reads("ehcp"):
        result["ehcp"] = pupil.ehcp
    if reads("reasons"):
        result["child_in_care"] = any("cic" in (p.reasons or []) for p in rows)
    return result


def _placement_row(core: Core, session, summary: dict, placement: Placement, stage: dict | None, visible: list[int]) -> dict:
    destination = session.scalar(select(Destination).where(Destination.placement_id == placement.id).order_by(Destination.id.desc()).limit(1))
    return {"placement_id": placement.id, "instance_id": placement.instance_id, "opens": placement.instance_id in visible,
            "provider": summary["provider"]["name"] if summary["provider"] else None, "status": placement.status,
            "status_words": stage["status_words"] if stage else caseload.STATUS_WORDS.get(placement.status, placement.status.replace("_", " ").capitalize()),
            "stage": stage["stage"] if stage else [], "start_date": summary["start_date"], "end_date": summary["end_date"],
            "written_consent": gates.has_written_consent(session, placement),
            "destination": None if destination is None else {
                "kind": destination.kind, "words": _destination_words(core, session, placement, destination.kind),
                "setting": destination.setting_name, "starts_on": destination.starts_on.isoformat() if destination.starts_on else None}}


def _destination_words(core: Core, session, placement: Placement, kind: str) -> str:
    """The destination in the words of the form it was recorded on."""
    found = session.execute(select(Instance, HumanTask.form_ui_schema).join(HumanTask, HumanTask.instance_id == Instance.id)
                            .where(Instance.id == placement.instance_id, HumanTask.form_schema == DESTINATION_FORM).limit(1)).first()
    form = core.form(found[0].version, DESTINATION_FORM, found[1]) if found else None
    words = form.readable({"destination": kind}) if form is not None and "destination" in form.fields else []
    return words[0]["text"] if words else kind.replace("_", " ").capitalize()


def _attendance(core: Core, session, placement_ids: list[int]) -> dict:
    """Sessions registered on these placements (the provider's marks, as the school coded them): overall and, when the
    term dates are set up, this term."""
    result = {"overall": registers.attendance_summary(session, placement_ids), "this_term": None}
    term = _this_term(core)
    if term is not None:
        result["this_term"] = {**registers.attendance_summary(session, placement_ids, term.start, term.end), "term": term.name,
                               "from": term.start.isoformat(), "to": term.end.isoformat()}
    return result


def _this_term(core: Core) -> Term | None:
    """The current term (in a holiday: the term just ended); None without term dates."""
    try:
        terms = core.calendar().terms
    except CalendarError:
        return None
    started = [t for t in terms if t.start <= today()]
    return started[-1] if started else None


def _cp_flag(session, pupil: Pupil) -> dict | None:
    """Whether the pupil has a child-protection file, for those entitled to read it; None when there is none."""
    has_records = session.scalar(select(exists().where(CpRecord.pupil_id == pupil.id)))
    concerns = list(session.scalars(select(Concern.status).where(Concern.pupil_id == pupil.id)))
    if not has_records and not concerns:
        return None
    return {"concerns": len(concerns), "open_concerns": sum(1 for s in concerns if s != "resolved")}


# -- the professionals involved (R13) -------------------------------------------------------------------

def _pupil(session, user: User, ref: str, action: str) -> Pupil:
    pupil = session.scalar(select(Pupil).where(Pupil.ref == ref))
    if pupil is None or not permissions.can(user, action, pupil.id, session):
        raise NotFound(f"There is no pupil {ref} whose professionals you can {'see' if action == 'professionals.view' else 'change'}.")
    return pupil


def _professional_dict(p: PupilProfessional, updates: list[ProfessionalUpdate]) -> dict:
    return {"id": p.id, "role": p.role, "role_label": PROFESSIONAL_ROLES.get(p.role, p.role), "name": p.name, "organisation": p.organisation,
            "email": p.email, "phone": p.phone, "added_at": p.added_at.isoformat(), "added_by": p.added_by,
            "updates": [_update_dict(u) for u in updates]}


def _update_dict(u: ProfessionalUpdate) -> dict:
    return {"id": u.id, "told_on": u.told_on.isoformat(), "summary": u.summary, "recorded_at": u.recorded_at.isoformat(),
            "recorded_by": u.recorded_by}


def _professionals(session, pupil: Pupil) -> list[dict]:
    rows = list(session.scalars(select(PupilProfessional).where(PupilProfessional.pupil_id == pupil.id, PupilProfessional.removed_at.is_(None))
                                .order_by(PupilProfessional.id)))
    updates: dict[int, list[ProfessionalUpdate]] = {}
    for u in session.scalars(select(ProfessionalUpdate).where(ProfessionalUpdate.professional_id.in_([p.id for p in rows] or [-1]))
                             .order_by(ProfessionalUpdate.told_on.desc(), ProfessionalUpdate.id.desc())):
        updates.setdefault(u.professional_id, []).append(u)
    return [_professional_dict(p, updates.get(p.id, [])) for p in rows]


def list_professionals(core: Core, user: User, ref: str) -> dict:
    with core.db.session(readonly=True) as session:
        pupil = _pupil(session, user, ref, "professionals.view")
        return {"pupil": {"ref": pupil.ref, "name": pupil.name}, "professionals": _professionals(session, pupil),
                "can_edit": permissions.can(user, "professionals.edit", pupil.id, session)}


def add_professional(core: Core, user: User, ref: str, role: str, name: str, organisation: str = "", email: str = "", phone: str = "") -> dict:
    """Record a professional involved with the pupil and family, so the school keeps them informed."""
    name, organisation, email, phone = name.strip(), organisation.strip(), email.strip().lower(), phone.strip()
    errors = {}
    if role not in PROFESSIONAL_ROLES:
        errors["role"] = ["Choose their role."]
    if not 2 <= len(name) <= 200:
        errors["name"] = ["Give their name."]
    if len(organisation) > 200:
        errors["organisation"] = ["An organisation's name is at most 200 characters."]
    if email and (not families.EMAIL.match(email) or len(email) > 300):
        errors["email"] = ["Give an e-mail address like name@example.org."]
    if len(phone) > 60:
        errors["phone"] = ["A phone number is at most 60 characters."]
    if not email and not phone:
        errors.setdefault("phone", ["Give a phone number or an e-mail address, so the school can keep them informed."])
    with core.db.session() as session:
        pupil = _pupil(session, user, ref, "professionals.edit")  # first: a stranger learns nothing from the checks below
        if errors:
            raise Invalid("Some details need correcting; nobody was added.", {"fields": errors})
        professional = PupilProfessional(pupil_id=pupil.id, role=role, name=name, organisation=organisation, email=email, phone=phone,
                                         added_at=now(), added_by=user.username)
        session.add(professional)
        session.flush()
        return _professional_dict(professional, [])


def _professional(session, pupil: Pupil, professional_id: int) -> PupilProfessional:
    professional = session.get(PupilProfessional, professional_id)
    if professional is None or professional.pupil_id != pupil.id or professional.removed_at is not None:
        raise NotFound("There is no such professional for this pupil.")
    return professional


def remove_professional(core: Core, user: User, ref: str, professional_id: int) -> None:
    """Take a professional off the pupil (no longer involved); what they were told stays in the records."""
    with core.db.session() as session:
        pupil = _pupil(session, user, ref, "professionals.edit")
        _professional(session, pupil, professional_id).removed_at = now()


def record_update(core: Core, user: User, ref: str, professional_id: int, told_on: str, summary: str) -> dict:
    """What a professional was told and when, so they are kept accurately informed (R13)."""
    summary = (summary or "").strip()
    errors = {}
    try:
        day = parse_date(told_on, "told_on")
    except Invalid:
        day = None
    if day is None:
        errors["told_on"] = ["Give the date they were told."]
    elif day > today():
        errors["told_on"] = ["Give a date that is not in the future."]
    if not 5 <= len(summary) <= 4000:
        errors["summary"] = ["Say what they were told (5 to 4000 characters)."]
    with core.db.session() as session:
        pupil = _pupil(session, user, ref, "professionals.edit")
        professional = _professional(session, pupil, professional_id)
        if errors:
            raise Invalid("Some details need correcting; nothing was recorded.", {"fields": errors})
        update = ProfessionalUpdate(professional_id=professional.id, told_on=day, summary=summary, recorded_at=now(),
                                    recorded_by=user.username)
        session.add(update)
        session.flush()
        return _update_dict(update)

