"""Referral and intake (R1-R8): the pupil and placement, the provider chosen from the register, the purchase order
before any tutor is engaged, tutors and timetable with where each session happens, the Relational Learning Plan,
the timetable shared with portal access, and the Key Information Document sent and signed."""
from __future__ import annotations

from sqlalchemy import func, select

from apflow.errors import Invalid
from apflow.store.models import User, UserRole

from . import compliance, gates, provider_side
from .common import log, now, parse_date, placement_of, touch
from .models import Communication, KeyInformationDocument, Placement, Plan, Pupil, PupilContact, PurchaseOrder, TimetableSession
from .providers import by_name

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


def record_referral(ctx):
    a = ctx.answers
    ref = a["pupil_ref"].strip()
    pupil = ctx.session.scalar(select(Pupil).where(Pupil.ref == ref)) or _same_child(ctx)
    if pupil is None:
        pupil = Pupil(ref=ref, name=a["pupil_name"].strip(), created_at=now())
        ctx.session.add(pupil)
    pupil.name = a["pupil_name"].strip()
    pupil.date_of_birth = parse_date(a.get("date_of_birth"), "date_of_birth") or pupil.date_of_birth
    pupil.school = a.get("school") or pupil.school
    pupil.ehcp = bool(a.get("ehcp"))
    if pupil.organisation_id is None:  # the referring school or LA holds the pupil's child-protection file (R81)
        pupil.organisation_id = ctx.instance.organisation_id
    ctx.session.flush()
    _record_parent(ctx, pupil)
    _link_named_parent(ctx, pupil)
    placement = ctx.session.scalar(select(Placement).where(Placement.instance_id == ctx.instance.id))
    if placement is None:
        placement = Placement(pupil_id=pupil.id, instance_id=ctx.instance.id, status="referred", created_at=now(), updated_at=now())
        ctx.session.add(placement)
    placement.pupil_id = pupil.id
    placement.referred_by, placement.referrer_name = a["referred_by"], a["referrer_name"]
    placement.reasons, placement.reason_details = list(a["reasons"]), a["reason_details"]
    placement.placement_type, placement.purpose = a.get("placement_type") or "part_time_ap", a.get("purpose", "")
    placement.la_officer_name, placement.la_officer_role = a["la_officer_name"], a["la_officer_role"]
    placement.learning_mentor = bool(a.get("learning_mentor"))
    ctx.session.flush()
    log(ctx, f"Referral from the {'LA' if a['referred_by'] == 'la' else 'school'} ({a['referrer_name']}): "
             f"{', '.join(a['reasons'])}; LA officer {a['la_officer_name']}", placement=placement, record=placement)
    return {"pupil_id": pupil.id, "placement_id": placement.id, "pupil_name": pupil.name, "pupil_ref": pupil.ref,
            "learning_mentor": placement.learning_mentor, "needs_purchase_order": gates.needs_purchase_order(placement)}


def _same_child(ctx) -> Pupil | None:
    """A pupil already on record under another reference (say, a school reference before the UPN was known) is the same
    child when name and date of birth agree: their record is reused, never typed twice."""
    born = parse_date(ctx.answers.get("date_of_birth"), "date_of_birth")
    if born is None:
        return None
    return ctx.session.scalar(select(Pupil).where(func.lower(Pupil.name) == ctx.answers["pupil_name"].strip().lower(),
                                                  Pupil.date_of_birth == born).order_by(Pupil.id).limit(1))


def _record_parent(ctx, pupil: Pupil) -> None:
    """The parent or carer named on the referral joins the pupil's contacts once (R7): never typed twice. An e-mail
    address that belongs to a parent's account links it, so the family's tasks reach them."""
    a = ctx.answers
    name = (a.get("parent_name") or "").strip()
    if not name or ctx.session.scalar(select(PupilContact.id).where(PupilContact.pupil_id == pupil.id, PupilContact.removed_at.is_(None),
                                                                    func.lower(PupilContact.name) == name.lower())):
        return
    email = (a.get("parent_email") or "").strip().lower()
    account = ctx.session.scalar(select(User.id).join(UserRole, UserRole.user_id == User.id).where(
        func.lower(User.email) == email, UserRole.role == "parent", User.active.is_(True))) if email else None
    ctx.session.add(PupilContact(pupil_id=pupil.id, name=name, relationship=a.get("parent_relationship") or "other", email=email,
                                 phone=(a.get("parent_phone") or "").strip(), parental_responsibility=True, user_id=account,
                                 added_at=now(), added_by=ctx.actor.name))


def _link_named_parent(ctx, pupil: Pupil) -> None:
    """A parent's account named on the referral (parent_username) is linked to the pupil as their parent or carer:
    the family's tasks go only to parents and carers linked to the pupil (the school sees and removes them on the
    pupil's page)."""
    username = str(ctx.answers.get("parent_username") or "").strip()
    account = ctx.session.scalar(select(User).join(UserRole, UserRole.user_id == User.id).where(
        User.username == username, UserRole.role == "parent", User.active.is_(True))) if username else None
    if account is None:
        return
    contacts = list(ctx.session.scalars(select(PupilContact).where(PupilContact.pupil_id == pupil.id, PupilContact.removed_at.is_(None))))
    if any(c.user_id == account.id for c in contacts):
        return
    named = (ctx.answers.get("parent_name") or "").strip().lower()
    same = next((c for c in contacts if c.user_id is None and named and c.name.lower() == named), None)
    if same is not None:
        same.user_id = account.id
        return
    ctx.session.add(PupilContact(pupil_id=pupil.id, name=account.display_name or account.username, email=account.email or "",
                                 relationship=ctx.answers.get("parent_relationship") or "other", phone="", parental_responsibility=True,
                                 user_id=account.id, added_at=now(), added_by=ctx.actor.name))


def record_provider_choice(ctx):
    placement = placement_of(ctx)
    provider = by_name(ctx.session, ctx.answers["provider_name"])
    if provider is None:
        raise Invalid(f"There is no provider called '{ctx.answers['provider_name']}'. Choose one from the approved-provider "
                      "register, or start its approval first.", {"fields": {"provider_name": ["Not a known provider."]}})
    compliance.require_in_date(ctx.session, provider)  # an expired compliance document takes no new pupil (R25, issue 16)
    ready = gates.provider_ready(ctx.session, provider)
    placement.provider_id = provider.id
    touch(placement, "planning" if ready else "referred")
    log(ctx, f"Provider chosen: {provider.name}" + ("" if ready else " (not yet approved with a signed SLA)"),
        placement=placement, record=placement)
    return {"provider_id": provider.id, "provider_name": provider.name, "provider_ready": ready,
            "rlp_required": gates.needs_rlp(ctx.session, placement)}


def record_purchase_order(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    if a["po_decision"] != "issued":
        log(ctx, f"Purchase order declined: {a.get('po_notes', '')}", placement=placement)
        return {"po_issued": False}
    missing = [f for f in ("po_number", "issued_by", "issued_on") if not a.get(f)]
    if missing:
        raise Invalid("An issued purchase order needs its number, who issued it and the date.",
                      {"fields": {f: ["Required when the order is issued."] for f in missing}})
    order = PurchaseOrder(placement_id=placement.id, number=a["po_number"], issued_by=a["issued_by"],
                          hours_per_week=a.get("hours_per_week"), issued_on=parse_date(a["issued_on"]),
                          value_pence=round(a["order_value"] * 100) if a.get("order_value") is not None else None,
                          recorded_at=now(), recorded_by=ctx.actor.name)
    ctx.session.add(order)
    touch(placement, "commissioned")
    log(ctx, f"Purchase order {order.number} issued by the {'LA' if order.issued_by == 'la' else 'school'}",
        placement=placement, record=order)
    return {"po_issued": True}


def record_funding_followup(ctx):
    placement = placement_of(ctx)
    withdraw = ctx.answers["funding_next"] != "ask_again"
    if withdraw:
        touch(placement, "not_placed")
    log(ctx, ("Placement withdrawn for want of funding: " if withdraw else "Purchase order to be requested again: ")
        + ctx.answers["funding_notes"], placement=placement)


def record_allocation(ctx):
    placement = placement_of(ctx)
    gates.require_purchase_order(ctx.session, placement)
    provider_side.require_acceptance(ctx.session, placement)  # R12: the provider accepted the referral first
    a = ctx.answers
    if not a.get("venue_agreed_with_carers"):
        raise Invalid("Agree with the carers where the sessions take place before timetabling them.",
                      {"fields": {"venue_agreed_with_carers": ["Agree the venue with the carers first."]}})
    placement.tutor_name, placement.mentor_name = a["tutor_name"], a.get("mentor_name", "")
    for old in ctx.session.scalars(select(TimetableSession).where(TimetableSession.placement_id == placement.id)):
        ctx.session.delete(old)
    for s in a["sessions"]:
        if s["ends"] <= s["starts"]:
            raise Invalid(f"A {s['day']} session ends ({s['ends']}) before it starts ({s['starts']}).")
        ctx.session.add(TimetableSession(placement_id=placement.id, weekday=WEEKDAYS.index(s["day"]), starts=s["starts"],
                                         ends=s["ends"], activity=s.get("activity", ""), venue_kind=s["venue"], address=s["address"]))
    touch(placement)
    log(ctx, f"Tutor {a['tutor_name']} allocated; {len(a['sessions'])} weekly session(s) timetabled", placement=placement)
    return {"tutor_name": a["tutor_name"]}


def record_rlp(ctx):
    placement = placement_of(ctx)
    plan = new_plan(ctx, placement, "relational_learning",
                     ["key_adults", "strengths_and_interests", "triggers_and_calming", "rlp_communication", "relational_goals"])
    log(ctx, f"Relational Learning Plan written (version {plan.version})", placement=placement, record=plan)


def new_plan(ctx, placement, kind: str, fields: list[str]) -> Plan:
    """A new version of one of the placement's plans, from this step's answers."""
    latest = ctx.session.scalar(select(Plan.version).where(Plan.placement_id == placement.id, Plan.kind == kind)
                                .order_by(Plan.version.desc()).limit(1))
    plan = Plan(placement_id=placement.id, kind=kind, version=(latest or 0) + 1,
                content={k: ctx.answers.get(k) for k in fields}, recorded_at=now(), recorded_by=ctx.actor.name)
    ctx.session.add(plan)
    ctx.session.flush()
    return plan


def record_timetable_shared(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    if not (a.get("timetable_to_parents") and a.get("timetable_to_commissioner")):
        raise Invalid("Tell both the parents or carers and the LA or school the timetable.")
    ctx.session.add(Communication(placement_id=placement.id, kind="timetable_shared", audience="parents, commissioner",
                                  content={}, at=now(), recorded_by=ctx.actor.name))
    ctx.session.add(Communication(placement_id=placement.id, kind="portal_access", audience=", ".join(a["portal_access"]),
                                  content={"notes": a.get("share_notes", "")}, at=now(), recorded_by=ctx.actor.name))
    log(ctx, f"Timetable shared; portal access for {', '.join(a['portal_access'])}", placement=placement)


def record_kid_sent(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    kid = KeyInformationDocument(placement_id=placement.id, sent_on=parse_date(a["kid_sent_on"]), sent_to=a["kid_sent_to"],
                                 summary=a.get("kid_summary", ""), recorded_at=now())
    ctx.session.add(kid)
    log(ctx, f"Key Information Document sent to {kid.sent_to}", placement=placement, record=kid)


def record_kid_signed(ctx):
    placement = placement_of(ctx)
    kid = ctx.session.scalar(select(KeyInformationDocument).where(KeyInformationDocument.placement_id == placement.id)
                             .order_by(KeyInformationDocument.id.desc()).limit(1))
    if kid is None:
        raise Invalid("No Key Information Document has been sent for this placement yet.")
    kid.signed_by, kid.signed_on = ctx.answers["kid_signed_by"], parse_date(ctx.answers["kid_signed_on"])
    log(ctx, f"Key Information Document signed by {kid.signed_by}", placement=placement, record=kid)
    return {"kid_signed": True}

