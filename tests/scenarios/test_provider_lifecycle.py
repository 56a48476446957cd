"""Provider selection, due diligence, the register, QA visits and the SLA (R20-R23, R30)."""
from datetime import datetime, timezone

import pytest

from apflow.errors import Invalid
from apflow.services import instances
from apflow.services import placements as service


def start(life):
    iid = instances.start_instance(life.core, life.people["coordinator"], "provider_approval", {})["id"]
    life.do("Record the provider and all its sites", iid)
    return iid


def test_R20_a_provider_missing_a_selection_criterion_is_not_approved(life):
    iid = start(life)
    result = life.do("Check the selection criteria", iid, insurance=False)
    assert result["instance"]["status"] == "completed"
    [provider] = service.provider_register(life.core, life.people["coordinator"], include_all=True)
    assert provider["status"] == "not_approved" and not provider["criteria_met"]
    assert service.provider_register(life.core, life.people["coordinator"]) == []


def test_R21_approval_waits_for_complete_due_diligence(life):
    iid = start(life)
    life.do("Check the selection criteria", iid)
    life.do("Carry out due diligence", iid, staff_checks_confirmed=False)
    assert life.names(iid) == ["Carry out due diligence"]  # items missing: back to due diligence, not to the head
    life.do("Carry out due diligence", iid, other_schools="not_possible")
    assert life.names(iid) == ["Approve the provider"]


def test_R22_the_register_lists_approved_providers_with_every_site_address(life):
    life.approve_provider()
    other = instances.start_instance(life.core, life.people["coordinator"], "provider_approval", {})["id"]
    life.do("Record the provider and all its sites", other, provider_name="Sunrise Farm")  # not yet approved
    [provider] = service.provider_register(life.core, life.people["coordinator"])
    assert provider["name"] == "Bridges Learning" and provider["ready_for_placements"]
    assert provider["sites"] == [{"name": "Mill Lane", "address": "1 Mill Lane, Northtown NT1 1AA", "kind": "main"},
                                 {"name": "Farm site", "address": "Hill Farm, Northtown NT9 9ZZ", "kind": "satellite"}]
    assert provider["sla"]["notice_period_school_days"] == 10
    assert [p["status"] for p in service.provider_register(life.core, life.people["coordinator"], include_all=True)] == ["approved", "proposed"]


def test_R23_a_qa_visit_is_due_every_term_and_a_missed_one_is_escalated(life):
    iid = life.approve_provider()
    qa = life.task("Termly quality assurance visit", iid)
    assert qa["due_at"] == "2026-03-27T15:30:00+00:00"  # the last day of the spring term
    life.do("Termly quality assurance visit", iid)
    assert life.names(iid) == []
    life.clock.freeze(datetime(2026, 3, 27, 15, 31, tzinfo=timezone.utc))
    life.fire()
    qa = life.task("Termly quality assurance visit", iid)
    assert qa["due_at"] == "2026-07-22T14:30:00+00:00"  # summer term, British Summer Time
    life.clock.freeze(datetime(2026, 7, 22, 14, 31, tzinfo=timezone.utc))
    life.fire()
    escalation = life.task("QA visit missed this term", iid)
    assert escalation["role"] == "manager"
    life.do("QA visit missed this term", iid)
    history = [e for e in life.tasks(iid)]
    assert [t["name"] for t in history] == ["Termly quality assurance visit"]


def test_R23_a_qa_visit_can_withdraw_a_provider_from_the_register(life):
    iid = life.approve_provider()
    life.do("Termly quality assurance visit", iid, qa_outcome="withdraw", quality="inadequate")
    life.do("Withdraw the provider from the register", iid)
    assert service.provider_register(life.core, life.people["coordinator"]) == []


def test_R30_the_agreement_is_in_force_only_once_the_provider_signs_it(life):
    iid = start(life)
    for name in ["Check the selection criteria", "Carry out due diligence", "Approve the provider", "Draft the service level agreement"]:
        life.do(name, iid)
    life.do("Agree and sign the agreement", iid, sla_decision="request_changes", changes_requested="Notice of 20 days.")
    [provider] = service.provider_register(life.core, life.people["coordinator"])
    assert provider["sla"] is None and not provider["ready_for_placements"]
    assert life.names(iid) == ["Draft the service level agreement"]
    life.do("Draft the service level agreement", iid, notice_period_school_days=20)
    life.do("Agree and sign the agreement", iid)
    [provider] = service.provider_register(life.core, life.people["coordinator"])
    assert provider["sla"]["notice_period_school_days"] == 20 and provider["ready_for_placements"]


def test_R30_every_area_of_the_agreement_must_be_written(life):
    iid = start(life)
    for name in ["Check the selection criteria", "Carry out due diligence", "Approve the provider"]:
        life.do(name, iid)
    with pytest.raises(Invalid) as err:
        life.do("Draft the service level agreement", iid, data_protection="")
    assert "data_protection" in err.value.details["fields"]


def test_R21_R30_a_placement_waits_while_its_provider_is_not_approved_with_an_agreement(life):
    placement = life.refer()
    with pytest.raises(Invalid, match="no provider called"):
        life.do("Choose the provider", placement, provider_name="Nobody Ltd")
    approval = start(life)
    life.do("Choose the provider", placement)
    assert life.names(placement) == ["Provider not ready: decide what to do"]
    for name in ["Check the selection criteria", "Carry out due diligence", "Approve the provider", "Draft the service level agreement",
                 "Agree and sign the agreement"]:
        life.do(name, approval)
    life.do("Provider not ready: decide what to do", placement)
    life.do("Choose the provider", placement)
    assert "Draw up the personalised plan" in life.names(placement)
