"""What a placement leads to, kept for governors and the annual review: examination entries and qualifications gained
(R15, N 5.4), the checks 3 and 6 months on that a destination is sustained (R101, N 5.3), and the annual review of the
policy (R113, R114). The record handlers here run in the steps of destination_follow_up.bpmn and
annual_policy_review.bpmn; their start handlers claim the row the process is about, so each check and each year's
review is opened once however many schedulers run."""
from __future__ import annotations

import calendar as months_calendar
from datetime import date

from sqlalchemy import select

from apflow.errors import Invalid

from .common import log, now, parse_date, today
from .models import Destination, DestinationFollowUp, Placement, PolicyReview

KINDS = {"gcse": "GCSE", "functional_skills": "Functional Skills", "entry_level": "Entry Level Certificate",
         "btec": "BTEC", "vocational": "Other vocational qualification", "a_level": "A level", "other": "Other"}
LEVELS = {"entry_1": "Entry 1", "entry_2": "Entry 2", "entry_3": "Entry 3", "level_1": "Level 1", "level_2": "Level 2",
          "level_3": "Level 3"}
FOLLOW_UP_MONTHS = (3, 6)
REINTEGRATED = ("same_school", "new_school", "college")  # back in education: the reintegration the policy aims at


def add_months(day: date, months: int) -> date:
    """The same day `months` later; the month's last day where it has no such day (31 August + 6 months: 28 or 29
    February)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, months_calendar.monthrange(year, month)[1]))


def destination_began(destination: Destination) -> date:
    """When the destination began: its start date, else the day it was recorded."""
    return destination.starts_on or destination.recorded_at.date()


def scope_of(organisation_id: int | None) -> str:
    """The key of an organisation's yearly and termly records ("all" in an install without organisations)."""
    return f"org-{organisation_id}" if organisation_id is not None else "all"


# -- R101: the 3- and 6-month checks ----------------------------------------------------------------------------

def record_follow_up_opened(ctx):
    """Start of a follow-up: claim the (destination, months) check; a second start of the same check is refused."""
    destination = ctx.session.get(Destination, ctx.answers.get("destination_id") or -1)
    months = ctx.answers.get("months")
    if destination is None or months not in FOLLOW_UP_MONTHS:
        raise Invalid("This check starts by itself 3 and 6 months after a destination is recorded; it cannot be started by hand.")
    if ctx.session.scalar(select(DestinationFollowUp.id).where(DestinationFollowUp.destination_id == destination.id,
                                                               DestinationFollowUp.months == months)):
        raise Invalid(f"The {months}-month check of this destination is open already.")
    row = DestinationFollowUp(destination_id=destination.id, placement_id=destination.placement_id, months=months,
                              due_on=add_months(destination_began(destination), months), opened_at=now(),
                              instance_id=ctx.instance.id, notes="")
    ctx.session.add(row)
    ctx.session.flush()  # the unique (destination, months) claim is taken here, before the process runs
    placement = ctx.session.get(Placement, destination.placement_id)
    log(ctx, f"{months}-month check that the destination is sustained is due", placement=placement, record=row)
    return {"follow_up_id": row.id}


def record_follow_up(ctx):
    """The coordinator's answer: is the pupil still at the destination (in education, employment or training)?"""
    row = ctx.session.get(DestinationFollowUp, ctx.data.get("follow_up_id") or -1)
    if row is None:
        raise Invalid("This check has no destination to record against; a manager must look at the process.")
    a = ctx.answers
    checked = parse_date(a.get("checked_on"), "checked_on") or today()
    if checked > today():
        raise Invalid("The check cannot be dated in the future.", {"fields": {"checked_on": ["Use today's date or an earlier one."]}})
    row.sustained, row.checked_on = bool(a["sustained"]), checked
    row.notes, row.recorded_by = str(a.get("follow_up_notes") or "").strip(), ctx.actor.name if ctx.actor else "apflow"
    placement = ctx.session.get(Placement, row.placement_id)
    log(ctx, f"{row.months}-month check on {checked}: the destination is "
             + ("sustained" if row.sustained else "not sustained") + (f" ({row.notes})" if row.notes else ""),
        placement=placement, record=row)
    return {"sustained": row.sustained}


# -- R113, R114: the annual policy review -------------------------------------------------------------------------

def record_policy_review_opened(ctx):
    """Start of the year's review: claim (organisation, year); a second review in the same year is refused."""
    year = int(ctx.answers.get("year") or today().year)
    scope = scope_of(ctx.instance.organisation_id)
    found = ctx.session.scalar(select(PolicyReview.id).where(PolicyReview.scope == scope, PolicyReview.year == year))
    if found:
        raise Invalid(f"The {year} policy review is open already (review {found}); it is held once a year.")
    row = PolicyReview(scope=scope, organisation_id=ctx.instance.organisation_id, year=year, started_at=now(),
                       instance_id=ctx.instance.id)
    ctx.session.add(row)
    ctx.session.flush()
    return {"policy_review_id": row.id, "year": year}


OUTCOME_FIELDS = ["outcomes_for_pupils", "quality_of_provision", "value_for_money", "stakeholder_feedback", "emerging_needs",
                  "statutory_guidance_changes", "policy_changes"]


def record_policy_review(ctx):
    """The headteacher's record of the review: what was considered (R114's list), the changes agreed, the next date."""
    row = ctx.session.get(PolicyReview, ctx.data.get("policy_review_id") or -1)
    if row is None:
        raise Invalid("This review has no record to complete; a manager must look at the process.")
    a = ctx.answers
    next_on = parse_date(a.get("next_review_on"), "next_review_on")
    if next_on is None or next_on <= today():
        raise Invalid("Give the date of the next review, after today (normally next February).",
                      {"fields": {"next_review_on": ["Give a date after today."]}})
    row.outcome = {k: str(a.get(k) or "").strip() for k in OUTCOME_FIELDS}
    row.next_review_on, row.completed_at, row.completed_by = next_on, now(), ctx.actor.name if ctx.actor else "apflow"
    return {"next_review_on": next_on.isoformat()}
