"""How placements end and what comes next: planned exit with the SLA's notice period (R91), emergency removal
(R92), the destination (R101) and transition support until the pupil attends without it (R100)."""
from __future__ import annotations

from sqlalchemy import select

from apflow.errors import Invalid

from . import gates
from .common import iso, log, not_before_now, now, parse_date, placement_of, school_day_bounds, today, touch
from .concerns import _concern, _note
from .models import Destination, PlacementExit, Provider, Review


def _exit(ctx, placement, kind: str) -> PlacementExit:
    row = ctx.session.scalar(select(PlacementExit).where(PlacementExit.placement_id == placement.id, PlacementExit.kind == kind)
                             .order_by(PlacementExit.id.desc()).limit(1))
    if row is None:
        row = PlacementExit(placement_id=placement.id, kind=kind, started_on=today(), content={}, recorded_at=now())
        ctx.session.add(row)
    return row


def _add(row: PlacementExit, ctx, fields: list[str]) -> None:
    row.content = {**row.content, **{k: ctx.answers.get(k) for k in fields}}


def record_exit_notice(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    sla = gates.sla_in_force(ctx.session, ctx.session.get(Provider, placement.provider_id) if placement.provider_id else None)
    if sla is None:
        raise Invalid("The notice period comes from the service level agreement, and the provider has none in force.")
    given = parse_date(a["notice_given_on"], "notice_given_on")
    calendar = ctx.core.calendar()
    ends = calendar.add_school_days(given, sla.notice_period_school_days)
    row = _exit(ctx, placement, "planned")
    row.started_on, row.notice_period_school_days, row.ends_on = given, sla.notice_period_school_days, ends
    _add(row, ctx, ["notified", "exit_reason"])
    placement.end_date = ends
    touch(placement, "ending")
    log(ctx, f"Notice given on {given} to {', '.join(a['notified'])}: the placement ends on {ends} "
             f"({sla.notice_period_school_days} school days under the SLA)", placement=placement, record=row)
    return {"notice_ends_at": iso(not_before_now(school_day_bounds(calendar, ends)[1]))}


def record_exit_plan(ctx):
    placement = placement_of(ctx)
    row = _exit(ctx, placement, "planned")
    _add(row, ctx, ["next_provision", "continuity_of_learning", "exit_transition_support"])
    log(ctx, f"Next provision planned: {ctx.answers['next_provision']}", placement=placement, record=row)


def record_lessons(ctx):
    placement = placement_of(ctx)
    row = _exit(ctx, placement, "planned")
    _add(row, ctx, ["went_well", "to_change", "provider_feedback"])
    touch(placement, "ended")
    log(ctx, "Placement ended; lessons learned recorded", placement=placement, record=row)


def record_emergency_removal(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    row = _exit(ctx, placement, "emergency")
    row.started_on = row.ends_on = parse_date(a["removed_on"], "removed_on")
    _add(row, ctx, ["pupil_now_with"])  # the reason is child-protection detail: it is kept in the child's file
    placement.end_date = row.ends_on
    touch(placement, "removed")
    log(ctx, f"Pupil removed from the placement on {row.ends_on}; now with {a['pupil_now_with']}", placement=placement, record=row)


def record_alternative(ctx):
    placement = placement_of(ctx)
    row = _exit(ctx, placement, "emergency")
    _add(row, ctx, ["arrangements", "alternative_starts_on"])
    log(ctx, f"Immediate alternative provision from {ctx.answers['alternative_starts_on']}", placement=placement, record=row)


def record_investigation(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    concern = _concern(ctx, placement)
    _note(concern, ctx, a["investigation_findings"])
    concern.referred_to = sorted(set(concern.referred_to) | {r for r in a["reported_to"] if r != "none"})
    row = _exit(ctx, placement, "emergency")
    _add(row, ctx, ["reported_on"])  # findings and who it was reported to are kept in the child's file
    log(ctx, f"Investigated and reported to the authorities on {a['reported_on']}", placement=placement, record=row)
    log(ctx, f"Investigation reported to {', '.join(a['reported_to'])}", placement=placement, record=concern, restricted=True)


def record_family_support(ctx):
    placement = placement_of(ctx)
    row = _exit(ctx, placement, "emergency")
    _add(row, ctx, ["support_offered", "contacted_on"])
    log(ctx, f"Support for the pupil and family: {ctx.answers['support_offered']}", placement=placement, record=row)


def record_destination(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    support = bool(a.get("transition_support"))
    if support and not str(a.get("support_plan", "")).strip():
        raise Invalid("Describe the transition support (sessions in the new setting, a learning mentor).",
                      {"fields": {"support_plan": ["Required when transition support is needed."]}})
    row = Destination(placement_id=placement.id, pupil_id=placement.pupil_id, kind=a["destination"],
                      setting_name=a.get("setting_name", ""), starts_on=parse_date(a.get("destination_starts_on")),
                      transition_support=support, support_plan=a.get("support_plan", ""), recorded_at=now())
    ctx.session.add(row)
    if not support:
        touch(placement, "closed")
    log(ctx, f"Destination: {a['destination'].replace('_', ' ')} {a.get('setting_name', '')}".strip()
        + ("; transition support until the pupil attends without it" if support else ""), placement=placement, record=row)
    return {"transition_support": support}


def record_transition_check(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    unaided = bool(a["attends_without_support"])
    review = Review(placement_id=placement.id, kind="transition", held_on=parse_date(a["transition_checked_on"]),
                    outcome="attends unaided" if unaided else "support continues", content={"notes": a.get("transition_notes", "")},
                    recorded_at=now(), recorded_by=ctx.actor.name)
    ctx.session.add(review)
    if unaided:
        destination = ctx.session.scalar(select(Destination).where(Destination.placement_id == placement.id)
                                         .order_by(Destination.id.desc()).limit(1))
        if destination is not None:
            destination.attends_unaided_on = review.held_on
        touch(placement, "closed")
    log(ctx, "Pupil attends the new setting without extra support" if unaided else "Transition support continues",
        placement=placement, record=review)
    return {"attends_without_support": unaided}
