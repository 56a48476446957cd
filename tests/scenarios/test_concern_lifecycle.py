"""Safeguarding concerns (R80), child-protection records (R81, R111) and emergency removal (R92)."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from apflow.errors import Forbidden
from apflow.placements.concerns import cp_retained_until
from apflow.placements.models import Pupil
from apflow.services import instances, notifications
from apflow.services import placements as service
from apflow.services import safeguarding as concerns

REGISTER = "Termly assessment against the plan"  # monitoring runs (registers are records, not tasks)
RESPOND = "Respond to the concern and review the placement"
PARENTS = "Tell the parents, or record why not now"


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
    [told] = notifications.list_notifications(life.core, life.people["dsl"])
    assert told.kind == "task_alert" and told.message == "A safeguarding concern needs a response now: Jordan T. (P-0001)"
    life.do(RESPOND, iid)  # continue, and tell the parents
    life.do(PARENTS, iid)
    names = life.names(iid)
    assert REGISTER in names and "Commencement review: agree targets" not in names  # resumes where it was
    detail = service.get_placement(life.core, life.people["coordinator"], pid)
    immediate = [r for r in detail["reviews"] if r["kind"] == "immediate"]
    assert [(r["held_on"], r["outcome"]) for r in immediate] == [("2026-01-12", "continue")]
    assert [c["kind"] for c in detail["communications"]][-1] == "concern_notice"
    assert [r["reason"] for r in detail["risk_assessments"]][-1] == "incident"  # R76: reviewed after the incident


def test_R80_a_concern_on_a_friday_evening_before_half_term_is_due_within_the_hour_then_goes_to_deputies_then_the_head(provider_ready):
    """'Immediately' is the wall clock: not the next school day, not after half-term."""
    from apflow.services import deadlines
    from apflow.store.models import OutboxEmail, User
    from tests.support import make_user

    life = provider_ready
    deputy = make_user(life.core, "deputy", "deputy_dsl")
    with life.core.db.session() as s:
        for name in ("dsl", "deputy", "head", "coord"):
            s.scalar(select(User).where(User.username == name)).email = f"{name}@nest.example"
    iid, pid = running(life)
    life.clock.freeze(datetime(2026, 2, 13, 17, 0, tzinfo=timezone.utc))  # Friday, the last day before the February half-term
    raise_one(life, pid)
    respond = life.task(RESPOND, iid)
    assert respond["due_at"] == "2026-02-13T18:00:00+00:00"
    assert [n.kind for n in notifications.list_notifications(life.core, life.people["dsl"])] == ["task_alert"]
    assert notifications.list_notifications(life.core, deputy) == []
    life.clock.freeze(datetime(2026, 2, 13, 18, 1, tzinfo=timezone.utc))
    deadlines.fire_due_alerts(life.core)
    [to_deputy] = notifications.list_notifications(life.core, deputy)
    assert to_deputy.message.startswith("Not answered in time") and to_deputy.link == f"/tasks/{respond['id']}"
    assert notifications.list_notifications(life.core, life.people["headteacher"]) == []
    life.clock.freeze(datetime(2026, 2, 13, 19, 1, tzinfo=timezone.utc))
    deadlines.fire_due_alerts(life.core)
    assert [n.message[:20] for n in notifications.list_notifications(life.core, life.people["headteacher"])] == ["Not answered in time"]
    with life.core.db.session(readonly=True) as s:
        mails = [(m.to_address, m.subject + m.body) for m in s.scalars(select(OutboxEmail))]
    assert {to for to, _ in mails} >= {"dsl@nest.example", "deputy@nest.example", "head@nest.example"}
    assert not [m for m in mails if "Jordan" in m[1] or "uncle" in m[1]]  # no name, no detail leaves by e-mail
    life.do(RESPOND, iid, user=deputy)  # a deputy DSL answers for the DSL
    assert PARENTS in life.names(iid)


def test_R80_a_suspended_placement_stays_suspended_until_the_dsl_resolves_the_concern(provider_ready):
    life = provider_ready
    iid, pid = running(life)
    raise_one(life, pid)
    life.do(RESPOND, iid, concern_action="suspend")
    life.do(PARENTS, iid, parents_told="not_now", not_informing_reason="Police advice.")
    assert life.names(iid) == ["Resolve the concern"]
    assert service.get_placement(life.core, life.people["coordinator"], pid)["status"] == "suspended"
    life.do("Resolve the concern", iid)
    assert REGISTER in life.names(iid)
    assert service.get_placement(life.core, life.people["coordinator"], pid)["status"] == "active"


def test_R80_a_concern_raised_before_the_placement_starts_gets_a_dsl_task_of_its_own(provider_ready):
    life = provider_ready
    iid = life.refer()
    pid = life.placement_id(iid)
    result = concerns.raise_concern(life.core, life.people["coordinator"], pid, "Disclosure during the planning meeting.")
    assert result["interrupted"] is False and life.names(iid) == ["Choose the provider"]  # planning goes on
    assert life.names(result["instance_id"]) == [RESPOND] and life.task(RESPOND, result["instance_id"])["pupil_name"] == "Jordan T."
    assert len(notifications.list_notifications(life.core, life.people["dsl"])) == 1
    life.do(RESPOND, result["instance_id"])  # continue: the default answers
    life.do(PARENTS, result["instance_id"])
    assert life.names(result["instance_id"]) == []
    [seen] = concerns.list_concerns(life.core, life.people["dsl"], pid)
    assert seen["status"] == "responded" and seen["dsl_notes"][0]["note"].startswith("Bruising seen")


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
        assert "social care made" not in str(s.get(Instance, iid).state)
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
    reads = concerns.cp_file(life.core, life.people["dsl"], "P-0001")["reads"]
    assert [(r["who"], r["what"]) for r in reads] == [("dsl", "Opened the child-protection file"), ("dsl", "Concerns on placement 1")]
    with life.core.db.session() as s:
        pupil = s.get(Pupil, _pupil_id(life, pid))
        assert cp_retained_until(pupil).isoformat() == "2036-05-04"


def test_R92_emergency_removal_then_alternatives_investigation_and_family_support(provider_ready):
    life = provider_ready
    iid, pid = running(life)
    raise_one(life, pid)
    life.do(RESPOND, iid, concern_action="emergency_removal")
    life.do(PARENTS, iid)
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
    assert exit_["kind"] == "emergency" and set(exit_["content"]) >= {"pupil_now_with", "arrangements", "reported_on", "support_offered"}
    assert "reported_to" not in exit_["content"] and "removal_reason" not in exit_["content"]  # kept in the child's file
    assert "Staff member suspended" not in str(instances.get_instance(life.core, life.people["manager"], iid)["data"])
