"""Hard gates hold even when a manager edits a gateway or a step out of a diagram: the rule is checked again when
the step is recorded (R3, R5, R21, R30, R40, R52, R60)."""
from xml.sax.saxutils import quoteattr

import pytest

from apflow.errors import Invalid
from apflow.services import instances, processes
from apflow.services import placements as service

STEPS = {  # task name -> (form, records)
    "Record the provider and all its sites": ("provider_details", "provider"),
    "Check the selection criteria": ("provider_criteria", "provider_criteria"),
    "Approve the provider": ("provider_decision", "provider_approval"),
    "Record the referral": ("referral", "referral"),
    "Choose the provider": ("provider_choice", "provider_choice"),
    "Decide on the referral": ("referral_decision", "referral_decision"),
    "Draw up the personalised plan": ("plan", "plan"),
    "Assess the placement risks": ("risk_assessment", "risk_assessment"),
    "Consult the parents or carers": ("consultation", "consultation"),
    "Give written consent": ("consent", "consent"),
    "Approve the placement": ("placement_decision", "headteacher_approval"),
    "Issue the purchase order": ("purchase_order", "purchase_order"),
    "Allocate tutors and timetable the sessions": ("allocation", "allocation"),
    "Write the Relational Learning Plan": ("relational_learning_plan", "relational_learning_plan"),
    "Confirm the placement start": ("placement_start", "placement_start"),
}


def edited(core, tmp_path, steps: list[str]) -> str:
    """A manager's edited placement diagram: the given steps in a row, everything else cut out."""
    tasks, flows, refs = [], [], ["Start_1"]
    previous = "Start_1"
    for i, name in enumerate(steps):
        form, records = STEPS[name]
        tid = f"Task_{i}"
        refs.append(tid)
        tasks.append(f"""<bpmn:userTask id="{tid}" name={quoteattr(name)}><bpmn:extensionElements><spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="{form}.schema.json" />
          <spiffworkflow:property name="records" value="{records}" /></spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>""")
        flows.append(f'<bpmn:sequenceFlow id="Flow_{i}" sourceRef="{previous}" targetRef="{tid}" />')
        previous = tid
    flows.append(f'<bpmn:sequenceFlow id="Flow_end" sourceRef="{previous}" targetRef="End_1" />')
    pid = f"edited_{len(steps)}_{abs(hash(tuple(steps))) % 10000}"
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  id="Defs_{pid}" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{pid}" name="Edited placement" isExecutable="true">
    <bpmn:laneSet id="Lanes"><bpmn:lane id="Lane_1" name="AP Coordinator">{''.join(f'<bpmn:flowNodeRef>{r}</bpmn:flowNodeRef>' for r in refs)}</bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="Start_1" />{''.join(tasks)}<bpmn:endEvent id="End_1" />{''.join(flows)}
  </bpmn:process>
</bpmn:definitions>"""
    path = tmp_path / f"{pid}.bpmn"
    path.write_text(xml)
    processes.deploy_paths(core, [path], by="a manager")
    return pid


def run(life, tmp_path, steps: list[str], last: str, **answers) -> int:
    pid = edited(life.core, tmp_path, steps + [last])
    iid = instances.start_instance(life.core, life.people["coordinator"], pid, {})["id"]
    life.provider_accepts = False  # the edited diagram has the provider's decision (R12) as a step of its own, when it has it
    for name in steps:
        life.do(name, iid, user=life.people["coordinator"], **({"consent": "given"} if name == "Give written consent" else {}))
    with pytest.raises(Invalid) as err:
        life.do(last, iid, user=life.people["coordinator"], **answers)
    return err.value


FULL_PLAN = ["Record the referral", "Choose the provider", "Decide on the referral", "Draw up the personalised plan", "Assess the placement risks",
             "Consult the parents or carers", "Give written consent", "Approve the placement", "Issue the purchase order",
             "Allocate tutors and timetable the sessions", "Write the Relational Learning Plan"]


def without(*names):
    return [n for n in FULL_PLAN if n not in names]


def test_R3_no_tutor_is_allocated_before_a_purchase_order_even_if_the_step_is_cut(provider_ready, tmp_path):
    error = run(provider_ready, tmp_path, ["Record the referral"], "Allocate tutors and timetable the sessions")
    assert "before a purchase order" in error.message  # R3


def test_R5_no_placement_starts_without_a_relational_learning_plan(provider_ready, tmp_path):
    error = run(provider_ready, tmp_path, without("Write the Relational Learning Plan"), "Confirm the placement start")
    assert error.details["gates"] == ["there is no Relational Learning Plan"]


def test_R21_no_placement_with_a_provider_that_has_not_passed_due_diligence(life, tmp_path):
    approval = instances.start_instance(life.core, life.people["coordinator"], "provider_approval", {})["id"]
    life.do("Record the provider and all its sites", approval)
    life.do("Check the selection criteria", approval)
    life.do("Carry out due diligence", approval, health_and_safety_reviewed=False)
    error = run(life, tmp_path, without("Approve the placement"), "Confirm the placement start")
    assert any("due diligence" in gate for gate in error.details["gates"])  # R21
    assert any("service level agreement" in gate for gate in error.details["gates"])  # R30


def test_R20_R21_the_head_cannot_approve_a_provider_whose_due_diligence_step_was_cut(life, tmp_path):
    error = run(life, tmp_path, ["Record the provider and all its sites", "Check the selection criteria"], "Approve the provider")
    assert "due diligence" in error.message and "selection criterion" in error.message  # R20, R21


def test_R30_no_placement_without_a_signed_service_level_agreement(life, tmp_path):
    iid = instances.start_instance(life.core, life.people["coordinator"], "provider_approval", {})["id"]
    for name in ["Record the provider and all its sites", "Check the selection criteria", "Carry out due diligence", "Approve the provider"]:
        life.do(name, iid)
    error = run(life, tmp_path, FULL_PLAN, "Confirm the placement start")
    assert error.details["gates"] == ["there is no signed service level agreement with the provider"]


def test_R40_no_placement_without_written_consent_even_if_the_consent_step_is_cut(provider_ready, tmp_path):
    error = run(provider_ready, tmp_path, without("Give written consent", "Approve the placement"), "Confirm the placement start")
    assert "there is no written consent from the parents or carers" in error.details["gates"]
    error = run(provider_ready, tmp_path, without("Give written consent", "Approve the placement", "Issue the purchase order",
                                                  "Allocate tutors and timetable the sessions", "Write the Relational Learning Plan"),
                "Approve the placement")
    assert error.details["gates"] == ["written consent (R40)"]


def test_R52_no_placement_without_the_headteachers_approval(provider_ready, tmp_path):
    error = run(provider_ready, tmp_path, without("Approve the placement"), "Confirm the placement start")
    assert error.details["gates"] == ["the headteacher has not approved the placement"]


def test_R60_no_approval_or_start_without_the_placement_risk_assessment(provider_ready, tmp_path):
    error = run(provider_ready, tmp_path, without("Assess the placement risks", "Approve the placement", "Issue the purchase order",
                                                  "Allocate tutors and timetable the sessions", "Write the Relational Learning Plan"),
                "Approve the placement")
    assert error.details["gates"] == ["the placement risk assessment (R60)"]


def test_the_full_set_of_steps_starts_the_placement(provider_ready, tmp_path):
    life = provider_ready
    pid = edited(life.core, tmp_path, FULL_PLAN + ["Confirm the placement start"])
    iid = instances.start_instance(life.core, life.people["coordinator"], pid, {})["id"]
    life.provider_accepts = False  # "Decide on the referral" is one of the edited diagram's steps
    for name in FULL_PLAN + ["Confirm the placement start"]:
        life.do(name, iid, user=life.people["coordinator"])
    assert service.get_placement(life.core, life.people["coordinator"], life.placement_id(iid))["status"] == "active"
