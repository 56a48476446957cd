"""Consultation and consent, the personalised plan, approval, risk assessments and transport (R40, R41, R50-R53, R60, R61)."""
import pytest

from apflow.errors import Invalid
from apflow.services import placements as service


def planned(life, **plan):
    iid = life.refer()
    life.do("Choose the provider", iid)
    return iid


def test_R40_refused_consent_ends_the_proposal_and_no_placement_starts(provider_ready):
    life = provider_ready
    iid = planned(life)
    for name in ["Draw up the personalised plan", "Assess the placement risks", "Arrange transport and equipment", "Consult the parents or carers"]:
        life.do(name, iid)
    consent = life.task("Give written consent", iid)
    assert consent["assignee"] == "parent1"  # the family named on the referral, nobody else's parent
    life.do("Give written consent", iid, consent="refused")
    assert life.names(iid) == ["Agree next steps with the family"]
    result = life.do("Agree next steps with the family", iid)
    assert result["instance"]["status"] == "completed"
    detail = service.get_placement(life.core, life.people["coordinator"], life.placement_id(iid))
    assert detail["status"] == "not_placed" and detail["consents"][0]["given"] is False


def test_R40_consent_is_asked_only_after_a_full_consultation(provider_ready):
    life = provider_ready
    iid = planned(life)
    for name in ["Draw up the personalised plan", "Assess the placement risks", "Arrange transport and equipment"]:
        life.do(name, iid)
    with pytest.raises(Invalid, match="Before asking for consent"):
        life.do("Consult the parents or carers", iid, provider_information_shared=False)
    life.do("Consult the parents or carers", iid)
    life.do("Give written consent", iid, consent="refused")
    life.do("Agree next steps with the family", iid, consent_next="consult_again")
    life.do("Consult the parents or carers", iid)
    life.do("Give written consent", iid)
    assert life.names(iid) == ["Approve the placement"]


def test_R41_R50_R51_the_plan_needs_the_pupils_views_and_every_development_step(provider_ready):
    life = provider_ready
    iid = planned(life)
    with pytest.raises(Invalid) as err:
        life.do("Draw up the personalised plan", iid, plan_pupil_views="")
    assert "plan_pupil_views" in err.value.details["fields"]  # R41: the pupil's voice
    with pytest.raises(Invalid, match="step by step"):
        life.do("Draw up the personalised plan", iid, provider_liaison=False)
    with pytest.raises(Invalid) as err:
        life.do("Draw up the personalised plan", iid, reintegration_timeframe="")
    assert "reintegration_timeframe" in err.value.details["fields"]  # R50: timeframes for reintegration
    life.do("Draw up the personalised plan", iid)
    plan = service.get_placement(life.core, life.people["coordinator"], life.placement_id(iid))["plans"][0]
    assert plan["content"]["plan_pupil_views"] == "Wants to work with engines."


def test_R53_the_plan_covers_the_core_curriculum_and_part_time_placements_complement_it(provider_ready):
    life = provider_ready
    iid = planned(life)
    with pytest.raises(Invalid, match="must cover English, maths, science"):
        life.do("Draw up the personalised plan", iid, curriculum=["english", "maths"])
    for name in ["Draw up the personalised plan", "Assess the placement risks", "Arrange transport and equipment",
                 "Consult the parents or carers", "Give written consent", "Approve the placement"]:
        life.do(name, iid)
    life.commission(iid)
    with pytest.raises(Invalid, match="curriculum"):
        life.start(iid, part_time=True)
    life.start(iid, part_time=True, attendance_code="C2", complements_curriculum="Keeps GCSE English and maths at school.")


def test_R52_a_declined_placement_never_reaches_the_provider(provider_ready):
    life = provider_ready
    iid = life.refer()
    life.plan(iid)
    result = life.do("Approve the placement", iid, head_decision="decline", head_notes="Not the right provider for him.")
    assert result["instance"]["status"] == "completed" and life.names(iid) == []
    assert service.get_placement(life.core, life.people["coordinator"], life.placement_id(iid))["status"] == "not_placed"


def test_R60_an_individual_risk_assessment_covers_every_area_when_needed(provider_ready):
    life = provider_ready
    iid = planned(life)
    with pytest.raises(Invalid, match="individual risk assessment covers"):
        life.do("Assess the placement risks", iid, individual_needed=True, individual_behaviour="Calm-down plan.")
    areas = {f"individual_{k}": "Covered in detail." for k in
             ["behaviour", "medical", "communication", "physical", "emotional_wellbeing", "emergency_procedures"]}
    life.do("Assess the placement risks", iid, individual_needed=True, **areas)
    kinds = [r["kind"] for r in service.get_placement(life.core, life.people["coordinator"], life.placement_id(iid))["risk_assessments"]]
    assert kinds == ["placement", "individual"]


def test_R61_transport_and_equipment_are_recorded(provider_ready):
    life = provider_ready
    iid = planned(life)
    life.do("Arrange transport and equipment", iid, transport="parents", transport_details="Mum drives, 8:45.",
            equipment=["ppe", "learning_materials"])
    detail = service.get_placement(life.core, life.people["coordinator"], life.placement_id(iid))
    assert detail["transport"] == {"mode": "parents", "details": "Mum drives, 8:45."}
    assert detail["equipment"]["items"] == ["ppe", "learning_materials"]
