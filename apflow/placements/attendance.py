"""The school's follow-up of absences (R71, R79): the provider's registers are records (apflow/placements/registers.py);
an absence sends the placement the `absence_reported` signal, which opens the coordinator's follow-up task. Completing
it records the follow-up and the school's code on every absence not yet followed up."""
from __future__ import annotations

from apflow.errors import Invalid
from apflow.store import outbox

from . import registers
from .common import log, now, placement_of, pupil_organisation
from .models import Pupil

ABSENCE_SIGNAL = "absence_reported"


def record_absence_follow_up(ctx):
    placement = placement_of(ctx)
    a = ctx.answers
    code = a["absence_code"]
    if registers.CODES.get(code, ("", ""))[1] not in ("authorised", "unauthorised", "not_counted"):
        raise Invalid("Choose an absence code.", {"fields": {"absence_code": ["Choose one of the absence codes."]}})
    marks = registers.unfollowed_absences(ctx.session, placement.id)
    at = now()
    detail = {k: a.get(k) for k in ("contacted", "absence_outcome", "pupil_safe", "absence_code")}
    for mark in marks:
        mark.followed_up_at, mark.follow_up = at, detail
        mark.code, mark.coded_at, mark.coded_by = code, at, ctx.actor.name
    sessions = ", ".join(f"{m.day:%a %d %b} {m.starts}" for m in marks) or "no open absence"
    log(ctx, f"Absences followed up ({sessions}): {a['absence_outcome']} (pupil safe: {a['pupil_safe']}; code {code})",
        placement=placement, record=marks[0] if marks else None, kind="absence_follow_up")
    if a["pupil_safe"] != "yes":
        pupil = ctx.session.get(Pupil, placement.pupil_id)
        outbox.notify(ctx.session, outbox.role_members(ctx.session, "dsl", pupil_organisation(ctx, pupil)), "absence_safety",
                      f"{pupil.name} ({pupil.ref}) is absent and not known to be safe.", instance_id=ctx.instance.id,
                      subject="A pupil is absent and not known to be safe",
                      email="A pupil is absent and not known to be safe. Open apflow to see who and act:", link=f"/placements/{ctx.instance.id}")
    return {"absences_followed_up": len(marks)}
