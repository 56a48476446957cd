"""Safeguarding concerns (R80), child-protection records (R81, R111) and emergency removal (R92)."""
from datetime import datetime, timezone

import pytest

from apflow.errors import Forbidden
from apflow.placements.concerns import KEPT, cp_retained_until
from apflow.placements.models import Pupil
from apflow.services import instances, notifications
from apflow.services import placements as service
from apflow.services import safeguarding as concerns

REGISTER = "Register attendance and the lesson report"
RESPOND = "Respond to the concern and review the placement"


def running(life):
    iid = life.active_placement()
    life.to_running(iid)
    return iid, life.placement_id(iid)


def raise_one(life, pid, who="provider"):
    return concerns.raise_concern(life.core, life.people[who], pid, "Worried about the pupil's welfare today.",
                                  detail="Bruises on his arm; said his uncle did it.", child_protection=True)


def test_R80_a_concern_interrupts_the_placement_and_the_dsl_responds_within_the_hour(provider_ready):
    life = provider_ready
    iid, pid = running(life)
    assert REGISTER in life.names(iid)
    life.clock.freeze(datetime(2026, 1, 12, 10, 0, tzinfo=timezone.utc))
    result = raise_one(life, pid)
    assert result["interrupted"] and result["error"] is None
    assert life.names(iid) == [RESPOND]  # every monitoring task stopped at once
    assert life.task(RESPOND, iid)["due_at"] == "2026-01-12T11:00:00+00:00"
    assert [n.kind for n in notifications.list_notifications(life.core, life.people["dsl"])] == ["safeguarding_concern"]
    life.do(RESPOND, iid)  # continue, and tell the parents
    life.do("Tell the parents about the concern", iid)
    names = life.names(iid)
    assert REGISTER in names and "Commencement review: agree targets" not in names  # resumes where it was
    detail = service.get_placement(life.core, life.people["coordinator"], pid)
    immediate = [r for r in detail["reviews"] if r["kind"] == "immediate"]
    assert [(r["held_on"], r["outcome"]) for r in immediate] == [("2026-01-12", "continue")]
    assert [c["kind"] for c in detail["communications"]][-1] == "concern_notice"
    assert [r["reason"] for r in detail["risk_assessments"]][-1] == "incident"  # R76: reviewed after the incident


def test_R80_a_concern_nobody_picks_up_within_the_hour_goes_to_managers(provider_ready):
    life = provider_ready
    iid, pid = running(life)
    life.clock.freeze(datetime(2026, 1, 12, 10, 0, tzinfo=timezone.utc))
    raise_one(life, pid)
    life.advance(hours=1, minutes=1)
    assert life.task("Concern not picked up within the hour", iid)["role"] == "manager"
    assert RESPOND in life.names(iid)


def test_R80_a_suspended_placement_stays_suspended_until_the_dsl_resolves_the_concern(provider_ready):
    life = provider_ready
    iid, pid = running(life)
    raise_one(life, pid)
    life.do(RESPOND, iid, concern_action="suspend", inform_parents=False, not_informing_reason="Police advice.")
    assert life.names(iid) == ["Resolve the concern"]
    assert service.get_placement(life.core, life.people["coordinator"], pid)["status"] == "suspended"
    life.do("Resolve the concern", iid)
    assert REGISTER in life.names(iid)
    assert service.get_placement(life.core, life.people["coordinator"], pid)["status"] == "active"


def test_R80_a_concern_raised_before_the_placement_starts_is_recorded_and_the_dsl_told(provider_ready):
    life = provider_ready
    iid = life.refer()
    pid = life.placement_id(iid)
    result = concerns.raise_concern(life.core, life.people["coordinator"], pid, "Disclosure during the planning meeting.")
    assert result["interrupted"] is False and life.names(iid) == ["Choose the provider"]
    assert len(notifications.list_notifications(life.core, life.people["dsl"])) == 1


def test_R81_child_protection_detail_is_seen_only_by_the_dsl_and_people_the_dsl_grants(provider_ready):
    life = provider_ready
    iid, pid = running(life)
    raise_one(life, pid)
    life.do(RESPOND, iid, assessment="Spoke to him; referral to social care made.")
    [seen_by_coord] = concerns.list_concerns(life.core, life.people["coordinator"], pid)
    assert seen_by_coord["restricted"] and "detail" not in seen_by_coord and seen_by_coord["summary"].startswith("Worried")
    [seen_by_dsl] = concerns.list_concerns(life.core, life.people["dsl"], pid)
    assert seen_by_dsl["detail"] == "Bruises on his arm; said his uncle did it."
    assert seen_by_dsl["dsl_notes"][0]["note"] == "Spoke to him; referral to social care made."
    # the DSL's notes never enter the process data that everyone on the placement can read
    from apflow.store.models import Instance
    with life.core.db.session(readonly=True) as s:
        assert "social care made" not in str(s.get(Instance, iid).state) and KEPT in str(s.get(Instance, iid).state)
    history = service.placement_history(life.core, life.people["coordinator"], pid)
    assert any(e["summary"] == "Child protection record (restricted)" for e in history)
    with pytest.raises(Forbidden):
        concerns.grant_cp_access(life.core, life.people["headteacher"], seen_by_dsl["id"], "head", "Needs to know.")
    concerns.grant_cp_access(life.core, life.people["dsl"], _pupil_id(life, pid), "head", "Chairs the strategy meeting.")
    [seen_by_head] = concerns.list_concerns(life.core, life.people["headteacher"], pid)
    assert seen_by_head["detail"].startswith("Bruises")
    [still_hidden] = concerns.list_concerns(life.core, life.people["manager"], pid)  # managers are not entitled by role
    assert still_hidden["restricted"]


def _pupil_id(life, pid):
    return service.get_placement(life.core, life.people["dsl"], pid)["pupil"]["id"]


def test_R111_reading_child_protection_records_is_logged_and_kept_to_the_25th_birthday(provider_ready):
    life = provider_ready
    iid, pid = running(life)
    raise_one(life, pid)
    concerns.list_concerns(life.core, life.people["dsl"], pid)
    reads = [e for e in service.placement_history(life.core, life.people["dsl"], pid) if e["kind"] == "cp_record_read"]
    assert [e["actor"] for e in reads] == ["dsl"]
    with life.core.db.session() as s:
        pupil = s.get(Pupil, _pupil_id(life, pid))
        assert cp_retained_until(pupil).isoformat() == "2036-05-04"


def test_R92_emergency_removal_then_alternatives_investigation_and_family_support(provider_ready):
    life = provider_ready
    iid, pid = running(life)
    raise_one(life, pid)
    life.do(RESPOND, iid, concern_action="emergency_removal")
    life.do("Tell the parents about the concern", iid)
    assert life.names(iid) == ["Remove the pupil from the placement now"]
    life.do("Remove the pupil from the placement now", iid)
    assert service.get_placement(life.core, life.people["coordinator"], pid)["status"] == "removed"
    assert life.names(iid) == ["Arrange immediate alternative provision", "Investigate and report to the authorities",
                               "Support the pupil and family"]
    assert life.task("Investigate and report to the authorities", iid)["role"] == "dsl"
    for name in life.names(iid):
        life.do(name, iid)
    assert life.names(iid) == ["Agree the destination and transition plan"]
    [exit_] = service.get_placement(life.core, life.people["coordinator"], pid)["exits"]
    assert exit_["kind"] == "emergency" and set(exit_["content"]) >= {"pupil_now_with", "arrangements", "reported_to", "support_offered"}
    assert "Staff member suspended" not in str(instances.get_instance(life.core, life.people["manager"], iid)["data"])
