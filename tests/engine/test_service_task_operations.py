"""The pieces behind service tasks (issue 17): templates that cannot run code, allowlists that match only at a
boundary, and the Camunda forms read without changing the stored diagram."""
from apflow.engine.diagrams import parse_sources
from apflow.engine.service_tasks import address_allowed, canonical, render, url_allowed

CAMUNDA = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
  id="d" targetNamespace="x">
  <bpmn:process id="c7" isExecutable="true">
    <bpmn:startEvent id="S"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="T" name="Tell" camunda:type="external" camunda:topic="notify">
      <bpmn:extensionElements><camunda:inputOutput>
        <camunda:inputParameter name="role">DSL</camunda:inputParameter>
        <camunda:inputParameter name="message">${pupil_name} is placed</camunda:inputParameter>
      </camunda:inputOutput></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="E"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="T"/><bpmn:sequenceFlow id="f2" sourceRef="T" targetRef="E"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_issue17_templates_substitute_fields_and_evaluate_nothing():
    data = {"pupil_name": "Sam", "reasons": ["attendance", "behaviour"], "n": 3}
    assert render("{pupil_name}: {reasons} ({n}) {missing}", data) == "Sam: attendance, behaviour (3) "
    assert render("{{literal}} {pupil_name.__class__} {0.__globals__} {__import__('os')}", data) == "{literal}   "


def test_issue17_allowlists_match_only_at_a_boundary():
    allowed = ["https://hooks.example.org/apflow"]
    assert url_allowed("https://hooks.example.org/apflow/placed?x=1", allowed)
    assert url_allowed("https://hooks.example.org/apflow", allowed)
    for url in ("https://hooks.example.org/apflowx", "https://hooks.example.org.evil.test/apflow", "ftp://hooks.example.org/apflow",
                "https://hooks.example.org/apflow@evil.test/", "https://user@hooks.example.org/apflow"):
        assert not url_allowed(url, allowed), url
    assert not url_allowed("https://hooks.example.org/apflow/x", [])
    assert address_allowed("Inclusion@LA.example.gov.uk", ["@la.example.gov.uk"])
    assert not address_allowed("x@la.example.gov.uk.evil.test", ["@la.example.gov.uk"])


def test_issue17_operation_names_and_aliases():
    assert [canonical(n) for n in ("apflow:notify", "Notify", "send-email", "apflow:email", "record", "call-webhook")] == [
        "apflow:notify", "apflow:notify", "apflow:email", "apflow:email", "apflow:record", "apflow:webhook"]
    assert canonical("http/GetRequestV2") is None and canonical("") is None


def test_issue17_camunda_service_task_is_read_as_an_operation_and_the_source_kept():
    parsed = parse_sources({"c7.bpmn": CAMUNDA})
    task = parsed.bundle("c7").spec.task_specs["T"]
    assert task.operation_name == "notify"
    assert {k: v["value"] for k, v in task.operation_params.items()} == {"role": "'DSL'", "message": "'{pupil_name} is placed'"}
    assert parsed.sources["c7.bpmn"] == CAMUNDA  # what is stored (and opened in the editor) is what the author wrote
